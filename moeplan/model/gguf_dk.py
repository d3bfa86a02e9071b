"""GGUF architectures of 2026's cross-layer-residual MoE models: DeepSeek-V4 (compressed sparse
attention, hash-routed MoE layers, hyper-connections), GLM-5-Next (KDA + nope MLA under a k-pool
DSA indexer, hyper-connections) and Kimi-K3 (KDA + gated MLA, latent MoE, Attention Residuals);
table entries and the fields they derive (``gguf_archs.py`` merges DK_ARCHS into its table).
"""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import GgufFile, mlp_layer_types, per_block
from moeplan.model.gguf_keys import COMMON, HEAD_DIM, MOE, ArchMap
from moeplan.model.gguf_mla import indexer_types, mla

_DSV4_RATIOS = (0, 4, 128)  # llama.cpp deepseek4 loader: sliding, CSA (indexer), HCA


def deepseek4(g: GgufFile, cfg: dict[str, Any]) -> None:
    """compress_ratios, one per block (MTP blocks last), as llama_model_deepseek4's
    load_arch_hparams reads them: 0 a sliding-window-only layer, 4 a compressed sparse layer
    with its indexer, 128 a heavily compressed layer (the loader refuses any other ratio).
    An MTP-only draft file (convert_hf_to_gguf --mtp) holds no trunk blocks: refused."""
    if g.main_layers < int(g.need("block_count")) and not g.has("blk.0.attn_norm.weight"):
        raise SpecError(
            f"{g.path}: an MTP-only DeepSeek-V4 draft file (no trunk tensor "
            "'blk.0.attn_norm.weight'): size the main GGUF"
        )
    ratios = g.need("attention.compress_ratios")
    if not isinstance(ratios, list) or len(ratios) < g.main_layers:
        raise SpecError(f"{g.path}: GGUF key '{g.arch}.attention.compress_ratios' is malformed")
    ratios = [int(r) for r in ratios[: g.main_layers]]
    if any(r not in _DSV4_RATIOS for r in ratios):
        raise SpecError(
            f"{g.path}: GGUF key '{g.arch}.attention.compress_ratios' holds a ratio other than "
            "0, 4 or 128"
        )
    cfg["compress_ratios"] = ratios


def _kda_mla_blocks(g: GgufFile, cfg: dict[str, Any], attention: str) -> None:
    """Blocks with head_count_kv 0 are KDA (llama.cpp's loaders: is_recr = n_head_kv(i) == 0),
    the others MLA (named `attention`); KDA heads = attention.head_count (the loaders' d_inner =
    kda.head_dim x n_head); the MLA's KV heads are its query heads; MLA sizes as gguf_mla.mla."""
    kv = per_block(g, g.need("attention.head_count_kv"))
    cfg["layer_types"] = [attention if n else "linear_attention" for n in kv]
    heads = int(g.need("attention.head_count"))
    cfg["num_key_value_heads"] = heads
    cfg["linear_num_heads"] = heads
    mla(g, cfg)


def kimi_k3(g: GgufFile, cfg: dict[str, Any]) -> None:
    """llama_model_kimi_k3's loader: KDA / MLA blocks (_kda_mla_blocks); the KDA output gate
    full-rank where the block holds ssm_g (else the g_a/g_b pair), the MLA output gate where it
    holds attn_gate, the latent MoE's norm where ffn_routed_norm is held; dense blocks are those
    without a router (ffn_gate_inp)."""
    _kda_mla_blocks(g, cfg, "full_attention")
    kda = g.first("ssm_f_a.weight")
    full_rank = kda is not None and g.has(f"blk.{kda}.ssm_g.weight")
    cfg["linear_attn_config"] = {"use_full_rank_gate": full_rank}
    cfg["linear_head_dim"] = int(g.need("kda.head_dim"))
    cfg["linear_conv_kernel_dim"] = int(g.need("ssm.conv_kernel"))
    cfg["mla_use_output_gate"] = g.first("attn_gate.weight") is not None
    cfg["latent_moe_use_norm"] = g.first("ffn_routed_norm.weight") is not None
    cfg["mlp_layer_types"] = mlp_layer_types(g)


def glm5_next(g: GgufFile, cfg: dict[str, Any]) -> None:
    """llama_model_glm5_next's loader: KDA blocks and nope-only MLA blocks under the k-pool DSA
    indexer (_kda_mla_blocks; the converter asserts linear_attn_config.num_heads ==
    num_attention_heads, Glm5NextTextConfig KV heads == query heads); indexer types per block."""
    _kda_mla_blocks(g, cfg, "indexed_attention")
    indexer_types(g, cfg)


DK_ARCHS: dict[str, ArchMap] = {
    # DeepseekV4Model (conversion/deepseek.py; the MTP block goes only to a separate --mtp
    # draft file; the same class name's DeepseekV4FlashVisionModel writes the mmproj file)
    "deepseek4": ArchMap(
        "deepseek_v4",
        {
            **COMMON,
            **MOE,
            **HEAD_DIM,
            "n_routed_experts": "expert_count",
            "n_shared_experts": "expert_shared_count",
            "q_lora_rank": "attention.q_lora_rank",
            "qk_rope_head_dim": "rope.dimension_count",
            "sliding_window": "attention.sliding_window",
            "index_n_heads": "attention.indexer.head_count",
            "index_head_dim": "attention.indexer.key_length",
            "index_topk": "attention.indexer.top_k",
            "o_groups": "attention.output_group_count",
            "o_lora_rank": "attention.output_lora_rank",
            "hc_mult": "hyper_connection.count",
            "hc_sinkhorn_iters": "hyper_connection.sinkhorn_iterations",
            "num_hash_layers": "hash_layer_count",
            "routed_scaling_factor": "expert_weights_scale",
            "norm_topk_prob": "expert_weights_norm",
            "rope_theta": "rope.freq_base",
            "compress_rope_theta": "attention.compress_rope_freq_base",
        },
        (deepseek4,),
    ),
    # Glm5NextModel (conversion/glm.py: GLM-5.3-Flash's text model; the class of the same HF
    # name in conversion/qwen3vl.py, Glm5NextVisionModel, writes the vision tower's mmproj file)
    "glm5-next": ArchMap(
        "glm5_next_text",
        {
            **{k: v for k, v in COMMON.items() if k != "num_key_value_heads"},
            **MOE,
            "n_routed_experts": "expert_count",
            "n_shared_experts": "expert_shared_count",
            "first_k_dense_replace": "leading_dense_block_count",
            "q_lora_rank": "attention.q_lora_rank",
            "kv_lora_rank": "attention.kv_lora_rank",
            "index_n_heads": "attention.indexer.head_count",
            "index_head_dim": "attention.indexer.key_length",
            "index_topk": "attention.indexer.top_k",
            "index_kpool": "attention.indexer.kpool",
            "linear_head_dim": "kda.head_dim",
            "linear_conv_kernel_dim": "ssm.conv_kernel",
            "hc_mult": "hyper_connection.count",
            "hc_sinkhorn_iters": "hyper_connection.sinkhorn_iterations",
            "routed_scaling_factor": "expert_weights_scale",
            "norm_topk_prob": "expert_weights_norm",
        },
        (glm5_next,),
    ),
    # KimiK3Model (conversion/kimi_k3.py: Kimi-K3's text model, a kimi_linear text_config; the
    # vision tower is not converted). The Attention Residual norm x proj pairs are written fused
    # (attn_res_score, ffn_res_score, output_res_score): one [hidden] vector for two HF weights
    "kimi-k3": ArchMap(
        "kimi_linear",
        {
            **{k: v for k, v in COMMON.items() if k != "num_key_value_heads"},
            "num_experts": "expert_count",
            "num_experts_per_token": "expert_used_count",
            "num_shared_experts": "expert_shared_count",
            "moe_intermediate_size": "expert_feed_forward_length",
            "routed_expert_hidden_size": "expert_latent_length",
            "first_k_dense_replace": "leading_dense_block_count",
            "q_lora_rank": "attention.q_lora_rank",
            "kv_lora_rank": "attention.kv_lora_rank",
            "attn_res_block_size": "attn_res.block_size",
            "routed_scaling_factor": "expert_weights_scale",
            "moe_renormalize": "expert_weights_norm",
        },
        (kimi_k3,),
    ),
}
