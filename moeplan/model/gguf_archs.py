"""GGUF architectures (llama.cpp ``MODEL_ARCH`` names) mapped to the HF config.json fields of the
same model, one entry per architecture.

Each entry follows the llama.cpp converter class that writes the file (``convert_hf_to_gguf.py``,
its ``conversion/`` modules): which HF field each ``{arch}.*`` key is written from. Fields the
converter does not write are read back from the tensor table (names and shapes), as llama.cpp's
loader does (``src/llama-model.cpp``); where neither holds a field the count needs, the
architecture is refused naming it. Shapes are GGML order: ``ne[0]`` (the input dimension) first.
Family groups with their own derivations sit in their own modules (``gguf_mla.py``: the
DeepSeek-style MLA architectures; ``gguf_swa.py``: sliding/full attention with dense and MoE
blocks), merged here.
"""

from __future__ import annotations

from moeplan.model import gguf_derive as d
from moeplan.model.gguf_bd import BD_ARCHS
from moeplan.model.gguf_dk import DK_ARCHS
from moeplan.model.gguf_dm import DM_ARCHS
from moeplan.model.gguf_grok import GROK_ARCHS
from moeplan.model.gguf_gs import GS_ARCHS
from moeplan.model.gguf_keys import COMMON, HEAD_DIM, MOE, QWEN_NEXT, ArchMap
from moeplan.model.gguf_mla import MLA_ARCHS
from moeplan.model.gguf_qm import QM_ARCHS
from moeplan.model.gguf_swa import SWA_ARCHS

__all__ = ["ARCHS", "ArchMap"]

_QWEN_NEXT = {**QWEN_NEXT, "full_attention_interval": "full_attention_interval"}


ARCHS: dict[str, ArchMap] = {
    # Qwen3MoeModel
    "qwen3moe": ArchMap("qwen3_moe", {**COMMON, **MOE, **HEAD_DIM, "num_experts": "expert_count"}),
    # Qwen2MoeModel
    "qwen2moe": ArchMap(
        "qwen2_moe",
        {
            **COMMON,
            **MOE,
            "num_experts": "expert_count",
            "shared_expert_intermediate_size": "expert_shared_feed_forward_length",
        },
    ),
    # LlamaModel (Mixtral: MixtralForCausalLM is converted as llama)
    "llama": ArchMap(
        "mixtral",
        {**COMMON, "num_local_experts": "expert_count", "num_experts_per_tok": "expert_used_count"},
    ),
    # Glm4MoeModel
    "glm4moe": ArchMap(
        "glm4_moe",
        {
            **COMMON,
            **MOE,
            **HEAD_DIM,
            "n_routed_experts": "expert_count",
            "n_shared_experts": "expert_shared_count",
            "first_k_dense_replace": "leading_dense_block_count",
        },
        (d.bias_and_qk_norm,),
    ),
    # GptOssModel
    "gpt-oss": ArchMap(
        "gpt_oss",
        {
            **COMMON,
            **HEAD_DIM,
            "num_local_experts": "expert_count",
            "num_experts_per_tok": "expert_used_count",
            "intermediate_size": "expert_feed_forward_length",
            "sliding_window": "attention.sliding_window",
        },
    ),
    # Qwen3NextModel (MTP blocks appended by _QwenMtpMixin)
    "qwen3next": ArchMap("qwen3_next", _QWEN_NEXT, (d.gated_deltanet,)),
    # Qwen3_5MoeTextModel: the text model of Qwen3.5/3.6 MoE (the vision tower goes to a
    # separate mmproj file)
    "qwen35moe": ArchMap("qwen3_5_moe_text", _QWEN_NEXT, (d.gated_deltanet,)),
    # Qwen3VLMoeTextModel: the text model of Qwen3-VL MoE (vision tower: mmproj file)
    "qwen3vlmoe": ArchMap(
        "qwen3_vl_moe_text",
        {**COMMON, **MOE, **HEAD_DIM, "num_experts": "expert_count"},
        (d.dense_layers,),
    ),
    # MiniMaxM2Model: intermediate_size is the expert width
    "minimax-m2": ArchMap(
        "minimax_m2",
        {
            **COMMON,
            **HEAD_DIM,
            "num_local_experts": "expert_count",
            "num_experts_per_tok": "expert_used_count",
            "intermediate_size": "expert_feed_forward_length",
            "rotary_dim": "rope.dimension_count",
        },
        (d.minimax_m2,),
    ),
    # NemotronHModel (Nemotron-3 Nano/Super: Mamba2 + attention + MoE blocks)
    "nemotron_h_moe": ArchMap(
        "nemotron_h",
        {
            **COMMON,
            **HEAD_DIM,
            "n_routed_experts": "expert_count",
            "n_shared_experts": "expert_shared_count",
            "num_experts_per_tok": "expert_used_count",
            "moe_intermediate_size": "expert_feed_forward_length",
            "moe_shared_expert_intermediate_size": "expert_shared_feed_forward_length",
            "moe_latent_size": "moe_latent_size",
            "ssm_state_size": "ssm.state_size",
            "mamba_num_heads": "ssm.time_step_rank",
            "n_groups": "ssm.group_count",
            "conv_kernel": "ssm.conv_kernel",
        },
        (d.nemotron_h,),
    ),
    # GraniteHybridModel (Granite-4.0-H: Mamba2 + attention, MoE or dense FFN)
    "granitehybrid": ArchMap(
        "granitemoehybrid",
        {
            **COMMON,
            "num_local_experts": "expert_count",
            "num_experts_per_tok": "expert_used_count",
            "shared_intermediate_size": "expert_shared_feed_forward_length",
            "mamba_d_state": "ssm.state_size",
            "mamba_n_heads": "ssm.time_step_rank",
            "mamba_n_groups": "ssm.group_count",
            "mamba_d_conv": "ssm.conv_kernel",
        },
        (d.granite_hybrid,),
    ),
    # Ernie4_5MoeModel
    "ernie4_5-moe": ArchMap(
        "ernie4_5_moe",
        {
            **COMMON,
            "moe_num_experts": "expert_count",
            "moe_k": "expert_used_count",
            "moe_intermediate_size": "expert_feed_forward_length",
            "moe_num_shared_experts": "expert_shared_count",
            "moe_layer_start_index": "leading_dense_block_count",
            "moe_layer_interval": "interleave_moe_layer_step",
        },
        (d.ernie,),
    ),
    # HunYuanMoEModel (Hunyuan-A13B): the shared expert's width is intermediate_size
    "hunyuan-moe": ArchMap(
        "hunyuan_v1_moe",
        {
            **COMMON,
            **HEAD_DIM,
            "num_experts": "expert_count",
            "moe_topk": "expert_used_count",
            "moe_intermediate_size": "expert_feed_forward_length",
            "num_shared_expert": "expert_shared_count",
            "intermediate_size": "expert_shared_feed_forward_length",
        },
        (d.bias_and_qk_norm,),
    ),
    # Dots1Model
    "dots1": ArchMap(
        "dots1",
        {
            **COMMON,
            **MOE,
            **HEAD_DIM,
            "n_routed_experts": "expert_count",
            "n_shared_experts": "expert_shared_count",
            "first_k_dense_replace": "leading_dense_block_count",
        },
        (d.attention_bias,),
    ),
    # OlmoeModel: intermediate_size is the expert width
    "olmoe": ArchMap(
        "olmoe",
        {**COMMON, "num_experts": "expert_count", "num_experts_per_tok": "expert_used_count"},
    ),
    # LFM2MoeModel (LFM2-8B-A1B: short convolutions + attention)
    "lfm2moe": ArchMap(
        "lfm2_moe",
        {
            **COMMON,
            **MOE,
            "num_experts": "expert_count",
            "num_dense_layers": "leading_dense_block_count",
            "conv_L_cache": "shortconv.l_cache",
        },
        (d.lfm2,),
    ),
    # AfmoeModel (Arcee Trinity)
    "afmoe": ArchMap(
        "afmoe",
        {
            **COMMON,
            **MOE,
            **HEAD_DIM,
            "num_experts": "expert_count",
            "num_shared_experts": "expert_shared_count",
            "num_dense_layers": "leading_dense_block_count",
            "sliding_window": "attention.sliding_window",
        },
        (d.afmoe,),
    ),
    # GraniteMoeModel (granitemoe and granitemoeshared)
    "granitemoe": ArchMap(
        "granitemoe",
        {
            **COMMON,
            "num_local_experts": "expert_count",
            "num_experts_per_tok": "expert_used_count",
            "shared_intermediate_size": "expert_shared_feed_forward_length",
        },
        (d.granitemoe,),
    ),
    # JambaModel (Jamba 1.5/1.6/1.7: Mamba + attention, MoE every other layer)
    "jamba": ArchMap(
        "jamba",
        {
            **COMMON,
            "num_experts": "expert_count",
            "num_experts_per_tok": "expert_used_count",
            "mamba_d_state": "ssm.state_size",
            "mamba_d_conv": "ssm.conv_kernel",
            "mamba_dt_rank": "ssm.time_step_rank",
        },
        (d.jamba,),
    ),
    # PhiMoEModel (Phi-3.5-MoE)
    "phimoe": ArchMap(
        "phimoe",
        {**COMMON, "num_local_experts": "expert_count", "num_experts_per_tok": "expert_used_count"},
        (d.phimoe,),
    ),
    # DbrxModel: the HF config nests attention and FFN fields
    "dbrx": ArchMap(
        "dbrx",
        {
            "n_layers": "block_count",
            "d_model": "embedding_length",
            "n_heads": "attention.head_count",
            "max_seq_len": "context_length",
            "attn_config.kv_n_heads": "attention.head_count_kv",
            "ffn_config.ffn_hidden_size": "feed_forward_length",
            "ffn_config.moe_num_experts": "expert_count",
            "ffn_config.moe_top_k": "expert_used_count",
        },
    ),
    # Llama4Model: the text model of Llama 4 Scout/Maverick (vision tower: mmproj file)
    "llama4": ArchMap(
        "llama4_text",
        {
            **COMMON,
            **HEAD_DIM,
            "intermediate_size_mlp": "feed_forward_length",
            "intermediate_size": "expert_feed_forward_length",
            "num_local_experts": "expert_count",
            "num_experts_per_tok": "expert_used_count",
            "interleave_moe_layer_step": "interleave_moe_layer_step",
        },
        (d.llama4,),
    ),
    **MLA_ARCHS,
    **SWA_ARCHS,
    **BD_ARCHS,
    **DK_ARCHS,
    **GS_ARCHS,
    **QM_ARCHS,
    **DM_ARCHS,
    **GROK_ARCHS,
}
