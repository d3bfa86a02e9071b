"""Which config fields change no count, and which look like shapes: how a config of an unknown
model_type is judged (read with the standard blocks, or refused naming the fields), and how
a known family reports fields its reader did not look at."""

from __future__ import annotations

from typing import Any

from moeplan.model.fields import Fields

# Fields the blocks read (STANDARD) and fields that do not change parameter or cache counts
# (HARMLESS): a config of an unknown model_type with any other field that looks like a shape
# is refused, naming those fields.
STANDARD = frozenset(
    {
        "model_type",
        "hidden_size",
        "num_hidden_layers",
        "num_layers",
        "intermediate_size",
        "ffn_hidden_size",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "v_head_dim",
        "vocab_size",
        "tie_word_embeddings",
        "attention_bias",
        "mlp_bias",
        "sliding_window",
        "use_sliding_window",
        "max_window_layers",
        "layer_types",
        "mlp_layer_types",
        "attention_chunk_size",
        "first_k_dense_replace",
        "moe_layer_freq",
        "decoder_sparse_step",
        "mlp_only_layers",
        "moe_layer_start_index",
        "moe_layer_end_index",
        "moe_layer_interval",
        "expert_layer_period",
        "expert_layer_offset",
        "n_routed_experts",
        "num_experts",
        "num_local_experts",
        "moe_num_experts",
        "num_experts_per_tok",
        "moe_k",
        "moe_topk",
        "experts_per_token",
        "moe_intermediate_size",
        "expert_ffn_hidden_size",
        "n_shared_experts",
        "num_shared_experts",
        "moe_num_shared_experts",
        "shared_expert_intermediate_size",
        "moe_shared_expert_intermediate_size",
        "num_nextn_predict_layers",
        "q_lora_rank",
        "kv_lora_rank",
        "qk_nope_head_dim",
        "qk_rope_head_dim",
        "qk_head_dim",
        "index_n_heads",
        "index_head_dim",
        "index_topk",
        "indexer_types",
        "index_topk_pattern",
        "index_topk_freq",
        "index_skip_topk_offset",
        "full_attention_interval",
        "linear_num_value_heads",
        "linear_value_head_dim",
        "linear_key_head_dim",
        "linear_num_key_heads",
        "linear_conv_kernel_dim",
        "quantization_config",
        "vision_config",
        "audio_config",
        "text_config",
    }
)
HARMLESS_SUFFIXES = (
    "_eps",
    "_epsilon",
    "_id",
    "_ids",
    "_dropout",
    "_range",
    "_theta",
    "_scaling",
    "_act",
    "_kernels",
)
HARMLESS = frozenset(
    {
        "architectures",
        "auto_map",
        "torch_dtype",
        "dtype",
        "transformers_version",
        "use_cache",
        "max_position_embeddings",
        "rope_scaling",
        "rope_parameters",
        "partial_rotary_factor",
        "scoring_func",
        "routed_scaling_factor",
        "norm_topk_prob",
        "router_aux_loss_coef",
        "aux_loss_alpha",
        "seq_aux",
        "output_router_logits",
        "topk_method",
        "n_group",
        "topk_group",
        "pretraining_tp",
        "ep_size",
        "hidden_act",
        "tokenizer_class",
        "_name_or_path",
        "initializer_range",
        "attention_dropout",
        "use_qk_norm_in_kernel",
        "rope_interleave",
        "bos_token_id",
        "eos_token_id",
        "pad_token_id",
        "router_jitter_noise",
        "moe_router_dtype",
        "is_encoder_decoder",
        # read by no block, and changing no count: RoPE / scaling details, kernels, runtime
        "indexer_rope_interleave",
        "n_ctx",
        "norm_head",
        "attention_method",
        "mla_scale_kv_lora",
        "mla_scale_q_lora",
        "attention_value_scale",
        "rotary_dim",
        "chunk_size",
        "num_logits_to_keep",
        "rescale_prenorm_residual",
        "time_step_floor",
        "time_step_max",
        "time_step_min",
        "mamba_ssm_cache_dtype",
        "mamba_ssm_dtype",
        "residual_in_fp32",
        "mtp_use_dedicated_embeddings",
        "sliding_window_size",
        # PretrainedConfig generics (transformers writes them into every config)
        "return_dict",
        "output_hidden_states",
        "output_attentions",
        "chunk_size_feed_forward",
        "problem_type",
        "is_decoder",
        "add_cross_attention",
        "cross_attention_hidden_size",
        "tie_encoder_decoder",
        "pruned_heads",
        "torchscript",
        "use_bfloat16",
        "finetuning_task",
        "id2label",
        "label2id",
        # runtime or MTP-only details of known families
        "moe_shared_expert_overlap",
        "time_step_limit",
        "moe_norm_min",
        "use_mambapy",
        "use_associative_scan",
    }
)
_SHAPE_WORDS = (
    "num",
    "n_",
    "size",
    "dim",
    "rank",
    "expert",
    "layer",
    "head",
    "vocab",
    "proj",
    "lora",
    "moe",
    "shared",
    "mamba",
    "ssm",
    "conv",
    "window",
    "kv",
    "mlp",
    "ffn",
    "hidden",
    "index",
    "mtp",
    "nextn",
    "bias",
    "norm",
    "gate",
    "pattern",
    "interval",
    "period",
    "offset",
    "freq",
    "step",
    "group",
    "sink",
    "zero",
    "share",
    "attn",
    "attention",
    "tie",
    "state",
)


def unknown_count_fields(cfg: dict[str, Any]) -> list[str]:
    """Fields of a config that look like shapes and that no block reads: a shape word in the
    name, or a list of mappings (per-layer block specs, as DeciLM's NAS ``block_configs``)."""
    out = []
    for key, value in cfg.items():
        if key in STANDARD or key in HARMLESS or key.endswith(HARMLESS_SUFFIXES):
            continue
        per_layer = (
            isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
        )
        if per_layer or (
            any(word in key.lower() for word in _SHAPE_WORDS) and value not in (None, False)
        ):
            out.append(key)
    return sorted(out)


def unread_shape_fields(f: Fields) -> list[str]:
    """Fields that look like shapes and that no block read (checked for known families)."""
    return [k for k in unknown_count_fields(f.cfg) if k not in f.read]
