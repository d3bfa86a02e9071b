"""GGUF architectures with hyper-connection residual streams: DeepSeek-V4 (compressed sparse
attention, hash-routed MoE layers) and GLM-5-Next (KDA + nope MLA under a k-pool DSA indexer);
table entries and the fields they derive (``gguf_archs.py`` merges DK_ARCHS into its table).
"""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import GgufFile, per_block
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


def glm5_next(g: GgufFile, cfg: dict[str, Any]) -> None:
    """llama_model_glm5_next's loader: a block is KDA (recurrent) where head_count_kv is 0, else
    nope-only MLA under the k-pool DSA indexer (MLA sizes as the other MLA files:
    gguf_mla.mla); KDA heads are attention.head_count (d_inner = kda.head_dim x n_head; the
    converter asserts linear_attn_config.num_heads == num_attention_heads); the MLA's KV heads
    are its query heads (Glm5NextTextConfig requires it); indexer types per block."""
    kv = per_block(g, g.need("attention.head_count_kv"))
    cfg["layer_types"] = ["indexed_attention" if n else "linear_attention" for n in kv]
    heads = int(g.need("attention.head_count"))
    cfg["num_key_value_heads"] = heads
    cfg["linear_num_heads"] = heads
    mla(g, cfg)
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
}
