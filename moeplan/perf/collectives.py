"""Start-up latency of the collectives the engines run, from published measurements: NCCL's
small all-reduce, and the one-shot custom all-reduce vLLM, SGLang and TensorRT-LLM run for TP
over NVLink (engines.EngineProfile.allreduce_latency_for picks between them)."""

from __future__ import annotations

NCCL_LATENCY_S = 20e-6
"""Time of one small (4-16 KB) NCCL all-reduce inside a node, launched from a CUDA graph:
measured 19.4 us at 4 KB and 20.3 us at 8 KB, 4 ranks (V100s behind one PCIe switch), inside a
CUDA graph (github.com/haohervchb/sglang-V100 PR 2, 2026-09-12); over NVLink NCCL is no
faster at these sizes: 19-23 us from 128 B to 64 KB on 8 x H100 through torch.distributed
(ByteDance-Seed/Triton-distributed issue 57, 2025-07-14), 21.8 us at 8 KB (yifuwang/
symm-mem-recipes PR 3, 2025-06-03), ring on a DGX-A100 10.0 / 16.9 / 33.7 us on 2 / 4 / 8 GPUs
(NVIDIA/nccl-tests issue 123, one channel forced). Used where no one-shot custom all-reduce
runs (PCIe-only cards; a GPU count outside CUSTOM_ALLREDUCE_SIZES; all-to-all and all-gather;
engines without one) and on AMD cards: vLLM and SGLang run their custom all-reduce over xGMI
too, but no measurement of it was found, so RCCL is priced at NCCL's figure."""

ONE_SHOT_ALLREDUCE_S: tuple[tuple[int, float], ...] = ((2, 3.9e-6), (4, 3.7e-6), (8, 5.7e-6))
"""Time of one one-shot custom all-reduce over NVLink by GPU count: SGLang's sgl-kernel custom
all-reduce (derived from TensorRT-LLM's one-shot kernel), measured on H100 at 4096 fp32
elements (16 KB, the size of a batch-1 to batch-4 decode message: hidden x 2 bytes) in
sgl-project/sglang PR 2904 (2025-01-15, 'unit test performance in H100', sgl-kernel/tests/
test_trt_reduce.py @01fe99eaf6da52d1e5c458ffc1115bfad4073669): 0.0039 / 0.0037 / 0.0057 ms on
2 / 4 / 8 GPUs (128 KB: 4.5 / 4.8 / 7.8 us). Timed over 5000 back-to-back calls outside a CUDA
graph, so launch cost, absent inside a graph, is in it: an upper bound on the in-graph kernel.
In-graph measurements agree: vLLM's one-shot custom all-reduce at 512 KB, 10 per CUDA graph, on
H100: 7 / 10 / 13 us on 2 / 4 / 6 GPUs, the message's bytes included (vllm-project/vllm PR
24111, 2025-09-02, benchmarks/kernels/benchmark_device_communicators.py); TensorRT-LLM's one-shot
kernel (through FlashInfer) at 6 x 6144 bf16 with RMSNorm fused, TP2 on an 8 x H100 node, CUDA
graph, slowest rank: 6.98 us (flagos-ai/FlagGems-vllm PR 773). vLLM runs its one-shot kernel
for small messages since PR 2192 (merged 2024-01-27), SGLang either vLLM's or sgl-kernel's
(USE_VLLM_CUSTOM_ALLREDUCE), TensorRT-LLM's AUTO strategy its ONESHOT for small messages on
NVLink. Measured on H100 and applied to every NVLink GPU; 6 GPUs, not measured, take the 8-GPU
time (CUSTOM_ALLREDUCE_SIZES gives the counts the kernel runs at)."""

CUSTOM_ALLREDUCE_SIZES = frozenset({2, 4, 6, 8})
"""TP group sizes the one-shot custom all-reduce runs at; any other (3, 5, 7, more than 8) runs
NCCL. vLLM and SGLang: CustomAllreduce._SUPPORTED_WORLD_SIZES = [2, 4, 6, 8], else 'Custom
allreduce is disabled due to an unsupported world size' (vllm-project/vllm@0ad80649
vllm/distributed/device_communicators/custom_all_reduce.py; sgl-project/sglang@004e6561
python/sglang/srt/distributed/device_communicators/custom_all_reduce.py). TensorRT-LLM's kernel
also runs at 16 ('Custom all reduce only supported on {2, 4, 6, 8, 16} GPUs per node',
NVIDIA/TensorRT-LLM@10a94126 cpp/tensorrt_llm/kernels/customAllReduceKernels.cu), but no time
was found for 16, so NCCL's is priced there too."""


def one_shot_allreduce_s(group: int) -> float | None:
    """ONE_SHOT_ALLREDUCE_S for a TP group of `group` GPUs: the smallest measured count at or
    above it; None where the custom all-reduce does not run (CUSTOM_ALLREDUCE_SIZES)."""
    if group not in CUSTOM_ALLREDUCE_SIZES:
        return None
    return next(seconds for n, seconds in ONE_SHOT_ALLREDUCE_S if group <= n)
