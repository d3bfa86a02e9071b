"""The GGUF ``grok`` architecture (Grok-1 in keyfan/grok-1-hf's format, Grok-2): its table
entry and the field it derives (``gguf_archs.py`` merges GROK_ARCHS into its table). The config
rebuilt from it is read by moeplan's ``grok`` family (readers2026/grok.py)."""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import GgufFile
from moeplan.model.gguf_keys import COMMON, HEAD_DIM, MOE, ArchMap


def grok_residual_mlp(g: GgufFile, cfg: dict[str, Any]) -> None:
    """residual_moe (Grok-2's dense MLP beside the experts in every layer) from the dense
    ffn_up tensor: llama.cpp's loader (models/grok.cpp) creates ffn_gate/ffn_up/ffn_down of
    n_ff (feed_forward_length) as TENSOR_NOT_REQUIRED and the graph adds that MLP to the
    experts' output where the layer has it; the experts are n_ff_exp wide
    (expert_feed_forward_length, else n_ff: Grok-1's files carry no expert key). A file with
    the MLP on some layers only is refused: the Grok configs switch it for all layers."""
    with_mlp = g.layers_with("ffn_up.weight")
    if with_mlp and len(with_mlp) != g.main_layers:
        raise SpecError(
            f"{g.path}: GGUF grok tensor 'ffn_up' on {len(with_mlp)} of {g.main_layers} "
            "layers (residual_moe is one switch for every layer)"
        )
    cfg["residual_moe"] = bool(with_mlp)


GROK_ARCHS: dict[str, ArchMap] = {
    # GrokModel (conversion/grok.py; GrokForCausalLM, Grok1ForCausalLM)
    "grok": ArchMap(
        "grok",
        {**COMMON, **MOE, **HEAD_DIM, "num_local_experts": "expert_count"},
        (grok_residual_mlp,),
    ),
}
