"""MiniMax-M3 (transformers models/minimax_m3_vl: MiniMaxM3VLTextConfig, MiniMaxM3VLForCausalLM).

Three spellings of one language model are read: transformers' minimax_m3_vl_text fields; the
VL shell the checkpoints publish (model_type minimax_m3_vl, MiniMaxM3SparseForConditionalGeneration,
remote code, as nvidia/MiniMax-M3-NVFP4), whose text_config carries the remote-code names
(moe_layer_freq, sparse_attention_config, use_routing_bias, qk_norm_type, use_qk_norm,
n_shared_experts, attention_output_gate, num_mtp_modules); and the text-decoder form
(model_type minimax_m3, MiniMaxM3ForCausalLM: the same fields flattened to the top level plus
first_k_dense_replace and moe_intermediate_size, as aiconfigurator's model_configs keep
MiniMaxAI/MiniMax-M3)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.families import Traits, read_layers
from moeplan.model.fields import Fields
from moeplan.model.specs import IndexerSpec, QKNorm

# MiniMaxM3VLAttention: per-head q/k RMSNorm; MiniMaxM3VLTopKRouter: sigmoid with
# e_score_correction_bias; MiniMaxM3VLExperts: intermediate_size is the expert width
MINIMAX_M3 = Traits(
    qk_norm=QKNorm.PER_HEAD, score_bias=True, expert_width_keys=("intermediate_size",)
)
M3_SPARSE = "minimax_m3_sparse"
# the remote code's qk_norm_type: one RMSNorm per head (head_dim) or over all heads (MiniMax-M2)
_QK_NORM_TYPES = {"per_head": QKNorm.PER_HEAD, "per_layer": QKNorm.FULL}


def read_minimax_m3(f: Fields, family: str) -> dict[str, Any]:
    """MiniMaxM3VLTextModel (MiniMax-M3): GQA layers, "minimax_m3_sparse" ones with a lightning
    indexer (MiniMaxM3VLIndexer: q_proj [hidden, index_n_heads x index_head_dim], k_proj
    [hidden, index_head_dim], q/k RMSNorm [index_head_dim]; no weights_proj) that caches one
    bf16 key of index_head_dim per token and keeps index_topk_blocks blocks of index_block_size
    keys; MoE layers (mlp_layer_types sparse) hold one shared MLP of shared_intermediate_size,
    dense layers an MLP of dense_intermediate_size. The checkpoint's MTP modules (mtp.*) are
    not built (MiniMaxM3VLPreTrainedModel ignores them on load) and not counted."""
    f = _m3_legacy(f)
    types = f.list("layer_types")
    sparse = [t == M3_SPARSE for t in types]
    plain = Fields(
        {
            **f.cfg,
            "layer_types": [
                "full_attention" if s else t for t, s in zip(types, sparse, strict=True)
            ],
        },
        f.where,
    )
    out = read_layers(plain, family, MINIMAX_M3)
    f.read |= plain.read
    out["attention"] = _remote_attention(f, out["attention"])
    if any(sparse):
        indexer = IndexerSpec(
            f.int("index_n_heads"),
            f.int("index_head_dim"),
            f.int("index_topk_blocks") * f.int("index_block_size"),
            key_dtype="bf16",
            weights_proj=False,
        )
        attn = replace(out["attention"], indexer=indexer)
        out["layers"] = tuple(
            replace(x, attention=attn) if s else x
            for x, s in zip(out["layers"], sparse, strict=True)
        )
    _check_dense_layers(f, out)
    if out["moe"] is not None:
        shared = f.int("shared_intermediate_size", default=0, minimum=0)
        if shared and f.int("n_shared_experts", default=1, minimum=0) != 1:
            raise SpecError(f"{f.where}: n_shared_experts must be 1 (one shared MLP)")
        out["moe"] = replace(
            out["moe"],
            num_shared_experts=1 if shared else 0,
            shared_intermediate_size=shared,
            router_score_bias=f.bool("use_routing_bias", default=True),
        )
        width = f.int("moe_intermediate_size", default=out["moe"].expert_intermediate_size)
        if width != out["moe"].expert_intermediate_size:
            raise SpecError(
                f"{f.where}: moe_intermediate_size {width} differs from intermediate_size "
                f"{out['moe'].expert_intermediate_size} (the expert width MiniMaxM3VLExperts reads)"
            )
    if out["dense_intermediate_size"]:
        out["dense_intermediate_size"] = f.int("dense_intermediate_size")
    out["mtp_layers"] = 0
    mtp = max(
        f.int("num_mtp_modules", default=0, minimum=0),
        f.int("num_nextn_predict_layers", default=0, minimum=0),
    )
    if mtp:
        out["reader_notes"] = (
            f"the checkpoint's {mtp} MTP module(s) are not counted (transformers does not build "
            "them; their shapes are not in the config)",
        )
    return out


def _remote_attention(f: Fields, attention: Any) -> Any:
    """The remote code's attention switches: use_qk_norm false (no q/k norm), qk_norm_type
    per_layer (one norm over all heads); attention_output_gate true is refused (transformers'
    MiniMaxM3VLAttention builds no gate and the config gives none of its shape)."""
    if f.bool("attention_output_gate"):
        raise SpecError(f"{f.where}: attention_output_gate true is not modelled for MiniMax-M3")
    if not f.bool("use_qk_norm", default=True):
        return replace(attention, qk_norm=QKNorm.NONE)
    kind = f.str("qk_norm_type", "per_head")
    if kind not in _QK_NORM_TYPES:
        raise SpecError(f"{f.where}: qk_norm_type must be per_head or per_layer, got {kind!r}")
    return replace(attention, qk_norm=_QK_NORM_TYPES[kind])


def _check_dense_layers(f: Fields, out: dict[str, Any]) -> None:
    """The text-decoder form carries first_k_dense_replace beside moe_layer_freq: they must name
    the same dense layers (moe_layer_freq, the list transformers reads, decides)."""
    first = f.get("first_k_dense_replace")
    if first is None or out["moe"] is None:
        return
    dense = [i for i, x in enumerate(out["layers"]) if not x.is_moe]
    if dense != list(range(f.int("first_k_dense_replace", minimum=0))):
        raise SpecError(
            f"{f.where}: first_k_dense_replace {first} disagrees with the dense layers "
            f"{dense[:8]} of moe_layer_freq / mlp_layer_types"
        )


# MiniMaxM3VLTextConfig.__post_init__: the checkpoint's sparse_attention_config names
M3_LEGACY = {
    "index_n_heads": "sparse_num_index_heads",
    "index_head_dim": "sparse_index_dim",
    "index_block_size": "sparse_block_size",
    "index_topk_blocks": "sparse_topk_blocks",
    "index_local_blocks": "sparse_local_block",
}


def _m3_legacy(f: Fields) -> Fields:
    """A checkpoint config.json's sparse_attention_config (sparse_attention_freq: 1 =
    minimax_m3_sparse, and the sparse_* indexer fields) as the flat fields transformers reads."""
    legacy = f.get("sparse_attention_config")
    if not isinstance(legacy, dict) or not legacy:
        return f
    cfg = {**f.cfg}
    for flat, old in M3_LEGACY.items():
        if old in legacy:
            cfg[flat] = legacy[old]
    freq = legacy.get("sparse_attention_freq")
    if not f.has("layer_types") and isinstance(freq, list):
        cfg["layer_types"] = [M3_SPARSE if v else "full_attention" for v in freq]
    return Fields(cfg, f.where)


READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {
    "minimax_m3_vl_text": read_minimax_m3,
    "minimax_m3_vl": read_minimax_m3,  # the VL shell; its text_config names no model_type
    "minimax_m3": read_minimax_m3,  # the text-decoder form (MiniMaxM3ForCausalLM)
}
