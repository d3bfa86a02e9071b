"""The shape of a serving-engine profile: the few physical parameters that separate a roofline
from what an engine achieves, and the per-GPU measured values that replace them where a source
gives one. The profiles themselves, with the source of each constant, are in engines.py.

- bw_efficiency: fraction of spec memory bandwidth a long weight stream reaches (copy kernels
  reach ~85-92% of spec on HBM; the issue's published fused-MoE points are 88-92% at 8-32 tokens).
- compute_efficiency: fraction of dense tensor-core peak the large prefill GEMMs reach.
- kernel_overhead_s: fixed GPU time per kernel inside a CUDA graph (the launch gap between
  back-to-back graph kernels plus the ramp-up and tail of a kernel too small to fill the GPU),
  added to the bytes/bandwidth time; a decode step runs KERNELS_PER_* kernels per layer, so at
  batch 1 this is what makes a thin MoE layer cost far more than its bytes.
- step_overhead_s: once per decode step, the host (CPU) work that the GPU waits for: scheduling,
  input preparation, sampling and output processing not overlapped with the previous step.
- collective_latency_s: start-up latency of one NCCL-class all-reduce / all-to-all within a node
  (NCCL_LATENCY_S); a TP all-reduce over NVLink in an engine with a one-shot custom all-reduce
  (custom_allreduce) takes the measured ONE_SHOT_ALLREDUCE_S instead (allreduce_latency_for;
  both in collectives.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from moeplan.hardware.gpus import GPU
from moeplan.perf.collectives import one_shot_allreduce_s
from moeplan.perf.kernel_counts import FUSED_MOE_KERNELS, KernelCounts

FLASHMLA_DECODE_GPUS = frozenset({"h100-sxm", "h100-pcie", "h200", "h20", "h800"})
"""SM90 GPUs, where FlashMLA's dense MLA decode kernel runs (deepseek-ai/FlashMLA README at
9241ae3, support matrix: dense decoding SM90, BF16). The kernel overlaps memory with compute:
"we can launch the corresponding Tensor Memory Accelerator (TMA) instructions right after data
is no longer needed", one 64 x 576 K block in 9 TMA copies, "GEMM operations begin as soon as
each TMA copy completes" (docs/20250422-new-kernel-deep-dive.md), and the write-up classifies
it by roofline: compute-bound when h_q x s_q >= 128 on H800, else memory-bound, reaching
3000 GB/s memory-bound and 660 TFLOPS compute-bound (README). vLLM (FLASHMLA backend) and
SGLang (flashmla, fa3 backends, both TMA-pipelined Hopper kernels) run it on these GPUs;
other GPUs (Blackwell's MLA kernels, Ampere's Triton MLA) keep the additive pricing."""


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
    source: str = ""  # where each constant comes from
    fitted: str = ""  # the constant set from fitted_on ("" when none was fitted)
    fitted_on: tuple[str, ...] = ()
    kernels: KernelCounts = FUSED_MOE_KERNELS  # kernels a decode step launches per layer
    # per-kernel cost by GPU vendor (backend) where it differs from kernel_overhead_s
    kernel_overhead_by_vendor: tuple[tuple[str, float], ...] = ()
    # runs a one-shot custom all-reduce for TP over NVLink (ONE_SHOT_ALLREDUCE_S)
    custom_allreduce: bool = False

    # (vendor, math datatype, fraction of that datatype's own dense peak): measured per backend
    compute_efficiency_by: tuple[tuple[str, str, float], ...] = ()
    # measured on a GPU: (GPU id, math, fraction); prompt attention (GPU id, KV, e_max, s0)
    compute_efficiency_by_gpu: tuple[tuple[str, str, float], ...] = ()
    context_fmha_by_gpu: tuple[tuple[str, str, float, float], ...] = ()
    # fused MoE measured on a GPU: (GPU id, expert weights, fraction of peak, seconds a row)
    fused_moe_by_gpu: tuple[tuple[str, str, float, float], ...] = ()
    # (GPU id, fraction of spec HBM bandwidth) measured on that GPU, replacing bw_efficiency
    bw_efficiency_by_gpu: tuple[tuple[str, float], ...] = ()
    # (GPU id, bytes/s) its FP8 dense GEMMs reach at decode sizes (rocm_rates.decode_dense_bw)
    decode_dense_bw_by_gpu: tuple[tuple[str, float], ...] = ()
    # expert math datatypes (QuantScheme.expert_compute) the engine's fused-MoE kernel cannot
    # run: the layer then runs "out of the box", every expert over every token (phases.py)
    ootb_moe_compute: tuple[str, ...] = ()
    # MLA decode on FLASHMLA_DECODE_GPUS overlaps its KV reads and math: max(memory, compute)
    overlapped_mla_decode: bool = False
    # EP without attention DP moves no tokens: each rank runs its local experts over the whole
    # batch and the TP all-reduce sums them (REPLICATED_EP_SOURCE); no all-to-all is priced
    replicated_ep: bool = False
    # prompts run in prefill batches of their own, the decode batch waiting; else with it
    separate_prefill: bool = False
    # llama.cpp CUDA: a quantized KV cache decodes on the vector FA kernel, read once a query
    # head (perf/llamacpp_fattn.py)
    vec_fa_quantized_kv: bool = False

    def overlaps_mla_decode(self, gpu_id: str) -> bool:
        """Whether its MLA decode on `gpu_id` is FlashMLA's (FLASHMLA_DECODE_GPUS)."""
        return self.overlapped_mla_decode and gpu_id in FLASHMLA_DECODE_GPUS

    def runs_moe_ootb(self, expert_compute: str) -> bool:
        """Whether experts of math datatype `expert_compute` run as dense per-expert MLPs over
        all tokens (no fused-MoE kernel for that datatype in this engine version)."""
        return expert_compute in self.ootb_moe_compute

    def compute_efficiency_for(self, gpu: GPU, dtype: str) -> float:
        """Fraction of `gpu`'s dense peak for math datatype `dtype` the engine's prompt GEMMs
        reach where the catalog gives that datatype's own peak: the one measured on this GPU
        (compute_efficiency_by_gpu), else on its backend (compute_efficiency_by), else
        compute_efficiency."""
        if not gpu.has_peak(dtype):
            return self.compute_efficiency
        on_gpu = {(g, m): f for g, m, f in self.compute_efficiency_by_gpu}
        on_backend = {(v, m): f for v, m, f in self.compute_efficiency_by}
        default = on_backend.get((gpu.vendor.lower(), dtype), self.compute_efficiency)
        return on_gpu.get((gpu.id, dtype), default)

    def bw_efficiency_for(self, gpu: GPU) -> float:
        """Fraction of `gpu`'s spec HBM bandwidth a long weight stream reaches: the one measured
        on that GPU (bw_efficiency_by_gpu), else bw_efficiency."""
        return dict(self.bw_efficiency_by_gpu).get(gpu.id, self.bw_efficiency)

    def allreduce_latency_for(self, interconnect: str, group: int) -> float:
        """Start-up latency of one TP all-reduce over `group` GPUs of one node joined by
        `interconnect` (gpus.yaml kind): the measured one-shot custom all-reduce where the engine
        runs one, the link is NVLink and the group size is one it runs at, else
        collective_latency_s (NCCL)."""
        one_shot = one_shot_allreduce_s(group)
        if self.custom_allreduce and interconnect == "nvlink" and one_shot is not None:
            return one_shot
        return self.collective_latency_s

    def kernel_overhead_for(self, vendor: str) -> float:
        """Fixed GPU time per kernel on a GPU of `vendor` (NVIDIA: CUDA, Apple: Metal, AMD:
        HIP): the vendor's own value where the profile gives one, else kernel_overhead_s."""
        return dict(self.kernel_overhead_by_vendor).get(vendor.lower(), self.kernel_overhead_s)
