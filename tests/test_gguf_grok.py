"""The Grok GGUF derivation (moeplan/model/gguf_grok.py): residual_moe from the dense ffn_up
tensor (Grok-2), absent on Grok-1's files; a file with the dense MLP on some layers only is
refused naming the tensor."""

from pathlib import Path

import pytest

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import GgufFile
from moeplan.model.gguf_grok import grok_residual_mlp


def _file(layers_with_mlp: range, main: int) -> GgufFile:
    shapes = {f"blk.{i}.ffn_gate_inp.weight": (8, 4) for i in range(main)}
    shapes |= {f"blk.{i}.ffn_up.weight": (8, 12) for i in layers_with_mlp}
    return GgufFile(Path("x.gguf"), "grok", {}, shapes, main)


@pytest.mark.parametrize(("layers", "residual"), [(range(3), True), (range(0), False)])
def test_residual_mlp_from_ffn_up(layers, residual):
    cfg: dict = {}
    grok_residual_mlp(_file(layers, 3), cfg)
    assert cfg["residual_moe"] is residual


def test_residual_mlp_on_some_layers_refused():
    with pytest.raises(SpecError, match="'ffn_up' on 1 of 3 layers"):
        grok_residual_mlp(_file(range(1), 3), {})
