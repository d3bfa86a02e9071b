"""GGUF architectures with DeepSeek's multi-head latent attention (MLA): table entries and the
fields they derive (``gguf_archs.py`` merges MLA_ARCHS into its table).

Since llama.cpp's MLA-absorption change, DeepseekV2Model writes ``attention.key_length`` =
kv_lora_rank + qk_rope_head_dim and ``attention.value_length`` = kv_lora_rank (the cached
latent), and the per-head sizes as ``attention.key_length_mla`` (qk_nope + qk_rope) and
``attention.value_length_mla`` (v_head_dim); older files hold the per-head sizes in
key_length / value_length and no ``_mla`` keys.
"""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import GgufFile, mlp_layer_types, per_block, per_layer_scalars
from moeplan.model.gguf_keys import COMMON, MOE, ArchMap

_MLA = {
    **COMMON,
    **MOE,
    "first_k_dense_replace": "leading_dense_block_count",
    "q_lora_rank": "attention.q_lora_rank",
    "kv_lora_rank": "attention.kv_lora_rank",
}
_DEEPSEEK = {
    **_MLA,
    "n_routed_experts": "expert_count",
    "n_shared_experts": "expert_shared_count",
}
_DSA_INDEXER = {
    "index_n_heads": "attention.indexer.head_count",
    "index_head_dim": "attention.indexer.key_length",
    "index_topk": "attention.indexer.top_k",
}


def mla(g: GgufFile, cfg: dict[str, Any]) -> None:
    """qk_nope_head_dim, qk_rope_head_dim and v_head_dim. The rope part is the kv_a projection's
    width beyond kv_lora_rank (attn_kv_a_mqa: [hidden, kv_lora_rank + qk_rope_head_dim]), as
    rope.dimension_count may hold qk_rope_head_dim x partial_rotary_factor (GlmMoeDsaModel)."""
    key = g.key("attention.key_length_mla") or g.need("attention.key_length")
    value = g.key("attention.value_length_mla") or g.need("attention.value_length")
    layer = g.first("attn_kv_a_mqa.weight")
    if layer is not None:
        kv_a = g.shape(f"blk.{layer}.attn_kv_a_mqa.weight")
        rope = kv_a[1] - int(g.need("attention.kv_lora_rank"))
    else:
        rope = int(g.need("rope.dimension_count"))
    cfg["qk_rope_head_dim"] = rope
    cfg["qk_nope_head_dim"] = int(key) - rope
    cfg["v_head_dim"] = int(value)
    cfg.setdefault("q_lora_rank", None)
    cfg.setdefault("num_nextn_predict_layers", 0)


def indexer_types(g: GgufFile, cfg: dict[str, Any]) -> None:
    """GlmMoeDsaModel writes indexer_types as one flag per block (true: the layer runs its own
    indexer, "full"; false: it reuses the previous one, "shared"); MTP blocks left out."""
    flags = g.key("attention.indexer.types")
    if flags is None:
        return
    if not isinstance(flags, list) or len(flags) < g.main_layers:
        raise SpecError(f"{g.path}: GGUF key '{g.arch}.attention.indexer.types' is malformed")
    cfg["indexer_types"] = ["full" if f else "shared" for f in flags[: g.main_layers]]


def kimi_linear(g: GgufFile, cfg: dict[str, Any]) -> None:
    """KimiLinearModel writes head_count_kv per block (0 on KDA blocks), kda.head_dim and
    ssm.conv_kernel but not the KDA head count: a KDA block's q projection (attn_q, [hidden,
    heads x head_dim]) over kda.head_dim. Dense and MoE blocks: the routers (ffn_gate_inp)."""
    kv = per_block(g, g.need("attention.head_count_kv"))
    cfg["layer_types"] = ["full_attention" if n else "linear_attention" for n in kv]
    per_layer_scalars(g, cfg)
    mla(g, cfg)
    head_dim = int(g.need("kda.head_dim"))
    if "linear_attention" in cfg["layer_types"]:
        kda = cfg["layer_types"].index("linear_attention")
        cfg["linear_num_heads"] = g.shape(f"blk.{kda}.attn_q.weight")[1] // head_dim
    cfg["linear_head_dim"] = head_dim
    cfg["linear_conv_kernel_dim"] = int(g.need("ssm.conv_kernel"))
    cfg["mlp_layer_types"] = mlp_layer_types(g)


MLA_ARCHS: dict[str, ArchMap] = {
    # DeepseekV2Model (V2, V3, Kimi-K2; the MTP block is dropped: skip_mtp)
    "deepseek2": ArchMap("deepseek_v3", _DEEPSEEK, (mla,)),
    # DeepseekV32Model: V3 with the DSA indexer; the MTP block appended (nextn_predict_layers)
    "deepseek32": ArchMap("deepseek_v32", {**_DEEPSEEK, **_DSA_INDEXER}, (mla,)),
    # GlmMoeDsaModel (GLM-5): DeepseekV2Model's keys, the indexer and its per-layer types
    "glm-dsa": ArchMap("glm_moe_dsa", {**_DEEPSEEK, **_DSA_INDEXER}, (mla, indexer_types)),
    # Mistral3Model.Mistral4Model (Mistral Small 4: a DeepseekV2Model text model, the vision
    # tower goes to an mmproj file)
    "mistral4": ArchMap("mistral4", _DEEPSEEK, (mla,)),
    # KimiLinearModel (Kimi-Linear-48B-A3B: KDA blocks and MLA blocks, DeepSeek-V3 MoE)
    "kimi-linear": ArchMap(
        "kimi_linear",
        {
            **_MLA,
            "num_experts": "expert_count",
            "num_shared_experts": "expert_shared_count",
        },
        (kimi_linear,),
    ),
}
