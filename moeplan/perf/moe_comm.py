"""How an engine moves tokens to their experts under attention data-parallel + expert-parallel.

The default elsewhere is an all-to-all: each token's hidden state goes to the ranks of its top_k
experts and comes back (DeepEP, vLLM's all2all backends, SGLang). TensorRT-LLM's PyTorch MoE
(`_torch/modules/fused_moe/fused_moe_cutlass.py`, CutlassFusedMoE, "max-throughput mode:
routing [+ dynamic quant] [+ allgather] + FusedMoe Op + reducescatter, with AttentionDP on")
instead all-gathers every rank's tokens (quantized first: FP8 e4m3 for FP8 QDQ checkpoints,
NVFP4 values plus one FP8 scale per 16 for NVFP4 ones, with the top_k expert ids (int32) and
weights (fp32)), runs its local experts over all of them, and reduce-scatters the BF16 outputs.
Top-1 models (Llama 4) then move dp x more than an all-to-all would; top-8 ones a little less.
"""

from __future__ import annotations

from moeplan.memory.estimate import ACTIVATION_BYTES

ALLGATHER_ENGINES = frozenset({"trtllm"})
"""Engines whose MoE under attention DP is all-gather + reduce-scatter (see above)."""

REPLICATED_EP_SOURCE = (
    "SGLang without an all-to-all backend (no --moe-a2a-backend / DeepEP): "
    "sgl-project/sglang@00114aef python/sglang/srt/models/deepseek_v2.py DeepseekV2MoE.forward "
    "takes forward_normal, which runs the experts over every token of the batch and "
    "tensor_model_parallel_all_reduce's their sum with the shared expert's output (fused into "
    "the next norm under --enable-flashinfer-allreduce-fusion); only forward_deepep dispatches "
    "and combines tokens. Under --ep-size the experts layer holds num_experts / ep_size experts "
    "and runs the batch against them alone (sglang@008d7d0e python/sglang/srt/layers/moe/"
    "fused_moe_triton/layer.py: FusedMoE's expert map, FlashInferFP4MoE.forward passing all "
    "hidden_states to trtllm_fp4_block_scale_moe with local_expert_offset / local_num_experts)"
)
"""Why an engine flagged EngineProfile.replicated_ep prices no all-to-all for EP without
attention DP: the tokens are already on every rank after attention's TP all-reduce, and the MoE
layer's TP all-reduce sums the ranks' expert outputs."""

GATHERED_BYTES_PER_VALUE = {"fp8": 1.0, "fp4": 0.5 + 1 / 16}
"""Bytes per hidden value all-gathered, by the experts' math type: FP8 e4m3; NVFP4 4 bits plus
an FP8 scale per 16 values. Others: BF16 (ACTIVATION_BYTES)."""

ROUTING_BYTES_PER_CHOICE = 4 + 4
"""Gathered with each token: an int32 expert id and an fp32 weight per top_k choice."""


def uses_allgather(engine_id: str, dp: int, ep: int) -> bool:
    return engine_id in ALLGATHER_ENGINES and dp > 1 and ep > 1


def allgather_moe_bytes_per_layer(
    tokens: float, hidden: int, top_k: int, expert_compute: str
) -> float:
    """Bytes of the all-gathered input plus the reduce-scattered output of one MoE layer, for
    `tokens` tokens over all ranks (each ring collective moves (n - 1) / n of it per GPU)."""
    gathered = hidden * GATHERED_BYTES_PER_VALUE.get(expert_compute, float(ACTIVATION_BYTES))
    routing = top_k * ROUTING_BYTES_PER_CHOICE
    return tokens * (gathered + routing + hidden * ACTIVATION_BYTES)
