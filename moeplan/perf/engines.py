"""Serving-engine profiles: the few physical parameters that separate a roofline from what an
engine achieves. One profile per engine, never per model.

- bw_efficiency: fraction of spec memory bandwidth a long weight stream reaches (copy kernels
  reach ~85-92% of spec on HBM; the issue's published fused-MoE points are 88-92% at 8-32 tokens).
- compute_efficiency: fraction of dense tensor-core peak the large prefill GEMMs reach.
- kernel_overhead_s: fixed time per kernel (launch, ramp-up, tail) that adds to the bytes/bandwidth
  time; a decode step runs KERNELS_PER_* kernels per layer, so at batch 1 this is what makes a
  thin MoE layer cost far more than its bytes.
- step_overhead_s: once per decode step (scheduling, sampling, host sync).
- collective_latency_s: start-up latency of one all-reduce / all-to-all within a node.

The defaults were set from the kernel counts and the decode records named in `fitted_on`
(shared/reference/measurements.yaml), then left alone: `moeplan validate` shows the error they
leave on every record.
"""

from __future__ import annotations

from dataclasses import dataclass

from moeplan.errors import UnknownNameError

# Kernels a decode step launches per layer in the CUDA-graph engines (vLLM/SGLang fused-MoE
# path): attention block = fused add+norm, QKV GEMM, rope, split-KV attention and its merge,
# O GEMM, plus one kernel each for q- and k-norm where the model has them; routed MoE block =
# add+norm, router GEMM, top-k softmax, block alignment (2), gate_up GEMM, activation, down
# GEMM, combine; shared experts add gate_up, activation, down (and a sigmoid gate in Qwen2);
# dense FFN = add+norm, gate_up, activation, down. Collectives are counted by the
# communication terms.
KERNELS_PER_ATTENTION = 7
KERNELS_PER_QK_NORM = 2
KERNELS_PER_MOE_FFN = 9
KERNELS_PER_SHARED_EXPERTS = 3
KERNELS_PER_DENSE_FFN = 4


@dataclass(frozen=True)
class EngineProfile:
    id: str
    description: str
    bw_efficiency: float
    compute_efficiency: float
    kernel_overhead_s: float
    step_overhead_s: float
    collective_latency_s: float
    collective_efficiency: float = 0.75  # bus bandwidth reached by NCCL-class collectives
    fitted_on: tuple[str, ...] = ()


ENGINES: dict[str, EngineProfile] = {
    e.id: e
    for e in (
        EngineProfile(
            "ideal",
            "pure roofline: spec peaks, no kernel or host overhead",
            bw_efficiency=1.0,
            compute_efficiency=1.0,
            kernel_overhead_s=0.0,
            step_overhead_s=0.0,
            collective_latency_s=0.0,
            collective_efficiency=1.0,
        ),
        EngineProfile(
            "vllm",
            "vLLM with CUDA graphs and the Triton/CUTLASS fused-MoE kernels",
            bw_efficiency=0.85,
            compute_efficiency=0.6,
            kernel_overhead_s=5e-6,
            step_overhead_s=0.5e-3,
            collective_latency_s=20e-6,
        ),
        EngineProfile(
            "vllm-v0",
            "vLLM before 0.6 (2024): same kernels, host-side scheduling/detokenization "
            "between steps (the vLLM v0.6.0 performance blog measured the GPU idle for most of a "
            "small-model decode step in v0.5.3)",
            bw_efficiency=0.85,
            compute_efficiency=0.6,
            kernel_overhead_s=5e-6,
            step_overhead_s=4e-3,
            collective_latency_s=20e-6,
            fitted_on=(
                "mixtral-8x7b_8xh100_vllm_tp8_bs1_latency",
                "mixtral-8x7b_2xh100_vllm_tp2_itl_qps1",
            ),
        ),
        EngineProfile(
            "sglang",
            "SGLang with CUDA graphs and the Triton fused-MoE kernel",
            bw_efficiency=0.85,
            compute_efficiency=0.6,
            kernel_overhead_s=5e-6,
            step_overhead_s=0.5e-3,
            collective_latency_s=20e-6,
            fitted_on=(
                "qwen3-30b-a3b_h20_sglang_bf16_in1",
                "qwen3-235b-a22b_8xh20_sglang_bf16_in1",
            ),
        ),
        EngineProfile(
            "trtllm",
            "TensorRT-LLM (fused kernels, fewer launches); set from the kernel argument "
            "alone: the TensorRT-LLM records in the reference are max-throughput runs with no "
            "stated batch, so nothing was fitted",
            bw_efficiency=0.88,
            compute_efficiency=0.7,
            kernel_overhead_s=3e-6,
            step_overhead_s=0.3e-3,
            collective_latency_s=10e-6,
        ),
        EngineProfile(
            "llamacpp",
            "llama.cpp (GGUF, CUDA/Metal/HIP backends, layer split across GPUs)",
            bw_efficiency=0.85,
            compute_efficiency=0.35,
            kernel_overhead_s=5e-6,
            step_overhead_s=0.5e-3,
            collective_latency_s=20e-6,
            fitted_on=("gpt-oss-20b_gb10_llamacpp_tg32", "mixtral-8x7b_m2max_llamacpp_q4km_tg128"),
        ),
    )
}

DEFAULT_ENGINE = "vllm"


def resolve_engine(name: str) -> EngineProfile:
    key = name.strip().lower()
    aliases = {
        "tensorrt-llm": "trtllm",
        "trt-llm": "trtllm",
        "llama.cpp": "llamacpp",
        "llama-cpp": "llamacpp",
        "roofline": "ideal",
    }
    key = aliases.get(key, key)
    if key not in ENGINES:
        raise UnknownNameError("engine", name, list(ENGINES))
    return ENGINES[key]
