"""GGUF architectures of branch gguf_dm: Granite MoE with interleaved sliding-window attention
(granite_swa) and MiniMax-Text-01 / MiniMax-M1 (minimax-01: lightning-attention layers between
softmax-attention ones): table entries and the fields they derive (``gguf_archs.py`` merges
DM_ARCHS into its table).
"""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import GgufFile, attention_bias, per_block, sliding_flags
from moeplan.model.gguf_keys import COMMON, HEAD_DIM, ArchMap

__all__ = ["DM_ARCHS"]


def granite_swa(g: GgufFile, cfg: dict[str, Any]) -> None:
    """GraniteMoeSWAModel writes the sliding layers as ``attention.sliding_window_pattern``, a
    flag per block (from layer_types, else transformers' default: full where i % 4 == 0), which
    llama.cpp's loader requires (models/granite-swa.cpp load_arch_hparams); the q/k/v/o biases
    are attn_q.bias. The dense GraniteSWAForCausalLM writes the same architecture without
    experts: not a MoE, refused."""
    if not g.key("expert_count"):
        raise SpecError(
            f"{g.path}: a granite_swa GGUF without experts ('{g.arch}.expert_count') is the "
            "dense GraniteSWA model, not a MoE"
        )
    cfg["layer_types"] = ["sliding_attention" if s else "full_attention" for s in sliding_flags(g)]
    attention_bias(g, cfg)


def _lightning_blocks(g: GgufFile) -> list[bool]:
    """Which blocks are lightning (recurrent) as llama.cpp's loader reads them
    (models/minimax-01.cpp load_arch_hparams): ``attention.recurrent_layers`` (a flag per block
    or one for all), else every block but each ``full_attention_interval``-th (8 unless the
    key says otherwise). MiniMaxText01Model writes neither, so a converted file has softmax
    attention on blocks 7, 15, ... as the released models do."""
    flags = g.key("attention.recurrent_layers")
    if flags is not None:
        return [bool(v) for v in per_block(g, flags)]
    interval = int(g.key("full_attention_interval") or 8)
    return [(i + 1) % interval != 0 for i in range(g.main_layers)]


def minimax01(g: GgufFile, cfg: dict[str, Any]) -> None:
    """layer_types (MiniMaxConfig): lightning attention ("linear_attention") on the recurrent
    blocks, softmax ("full_attention") on the rest (``_lightning_blocks``). Each block's
    tensors must agree, as llama.cpp's loader requires: a lightning block holds the fused
    attn_qkv (with attn_gate and attn_norm_2), a softmax block attn_q/attn_k/attn_v."""
    lightning = _lightning_blocks(g)
    for i, flag in enumerate(lightning):
        tensor = f"blk.{i}.attn_qkv.weight" if flag else f"blk.{i}.attn_q.weight"
        if not g.has(tensor):
            kind = "lightning" if flag else "softmax"
            raise SpecError(f"{g.path}: GGUF tensor '{tensor}' of {kind} block {i} is missing")
    cfg["layer_types"] = ["linear_attention" if x else "full_attention" for x in lightning]


DM_ARCHS: dict[str, ArchMap] = {
    # GraniteMoeSWAModel (GraniteMoeSWAForCausalLM: Granite MoE, sliding-window layers with
    # attention sinks, optional shared MLP). intermediate_size is the expert width
    "granite_swa": ArchMap(
        "granitemoe_swa",
        {
            **COMMON,
            "num_local_experts": "expert_count",
            "num_experts_per_tok": "expert_used_count",
            "shared_intermediate_size": "expert_shared_feed_forward_length",
            "sliding_window": "attention.sliding_window",
        },
        (granite_swa,),
    ),
    # MiniMaxText01Model (MiniMaxText01ForCausalLM / MiniMaxM1ForCausalLM: MiniMax-Text-01 and
    # MiniMax-M1, lightning attention with softmax attention every 8th block, a MoE in every
    # block), read as transformers' MiniMaxConfig. intermediate_size is the expert width
    "minimax-01": ArchMap(
        "minimax",
        {
            **COMMON,
            **HEAD_DIM,
            "num_local_experts": "expert_count",
            "num_experts_per_tok": "expert_used_count",
        },
        (minimax01,),
    ),
}
