"""GGUF files of the gguf_dm architectures that cannot be sized say which key is at fault (the
fixtures themselves: tests/test_gguf_archs.py)."""

import json
from pathlib import Path

import pytest

from moeplan.errors import SpecError
from moeplan.model.catalog import load_model
from moeplan.model.gguf_derive import GgufFile, router_bias

pytest.importorskip("gguf")
from tests.test_gguf_archs import DATA, load_altered, write_gguf


def _load_without(tmp_path: Path, name: str, *keys: str) -> None:
    """Load fixture `name` as a GGUF with the metadata keys `keys` left out."""
    load_altered(tmp_path, name, drop=keys)


def test_granite_swa_without_experts_is_refused(tmp_path):
    # the dense GraniteSWAForCausalLM writes the same architecture without expert_count
    with pytest.raises(SpecError, match="dense GraniteSWA"):
        _load_without(tmp_path, "granite_swa", "expert_count")


def test_granite_swa_without_pattern_is_refused(tmp_path):
    with pytest.raises(SpecError, match="sliding_window_pattern"):
        _load_without(tmp_path, "granite_swa", "attention.sliding_window_pattern")


def test_minimax01_blocks_must_match_the_loader_pattern(tmp_path):
    # llama.cpp's loader takes softmax attention every full_attention_interval-th block: a file
    # whose tensors say otherwise cannot be loaded, and is refused naming the missing tensor
    doc = json.loads((DATA / "minimax-01.json").read_text())
    doc["keys"]["minimax-01.full_attention_interval"] = ["UINT32", 4]
    write_gguf(doc, tmp_path / "x.gguf")
    with pytest.raises(SpecError, match=r"blk\.3\.attn_q\.weight' of softmax block 3"):
        load_model(str(tmp_path / "x.gguf"))


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("blk.1.exp_probs_b.bias",), True),  # tn(LLM_TENSOR_FFN_EXP_PROBS_B, "bias", i)
        (("blk.1.exp_probs_b",), True),  # models/hy-v3.cpp: no suffix (hy_v3 fixtures)
        (("blk.1.ffn_gate_inp.weight",), False),
    ],
)
def test_router_bias_with_or_without_the_suffix(names, expected):

    shapes = dict.fromkeys(names, (4,))
    g = GgufFile(Path("x.gguf"), "hy_v3", {}, shapes, main_layers=3)
    assert router_bias(g) is expected


def test_hy_v3_fixture_router_bias_has_no_suffix():
    # the real conversion writes blk.N.exp_probs_b, which router_bias now sees

    doc = json.loads((DATA / "hy_v3.json").read_text())
    shapes = {name: tuple(shape) for name, shape in doc["tensors"].items()}
    assert "blk.1.exp_probs_b" in shapes and "blk.1.exp_probs_b.bias" not in shapes
    assert router_bias(GgufFile(Path("hy_v3.gguf"), "hy_v3", {}, shapes, main_layers=3))
