"""Host (CPU) time an engine's step loop spends per running request, that the GPU waits for.

A serving step also runs Python on the host for every request in the batch: the sampler hands
each request its new token (one pybind call per request), the scheduler and the response
handler walk every request. TensorRT-LLM's PyTorch backend does this on one Python thread per
executor rank (one per attention-DP rank; every TP rank walks the whole batch), and measured
that it leaves the GPU idle each iteration in proportion to the batch: NVIDIA/TensorRT-LLM
PR 16564 (2026-07) reports a per-iteration GPU bubble of ~8.8 ms on GB200 "dominated by the
host-side sampler tail in TorchSampler.update_requests - a Python loop that fires 256
per-request pybind chatter calls". That is 8.8 ms / 256 = 34.4 us of idle GPU per request per
step on a Grace host. x86 hosts run the same Python faster: NVIDIA/TransformerEngine issue 2053
(2025-08) measured the CPU time of one PyTorch Linear forward at 37.08 us on GB200 (Grace) and
13.48 us on an H100 DGX (Xeon Platinum 8480C), 2.75x.

Only TensorRT-LLM has such a measurement; the other engines keep 0 (no published figure), so
their serving steps are GPU time only. This time adds to a serving step (`serving.mixed_step`),
never to `latency`'s batch-1 figures, whose step overhead already holds a small batch's share.

A step run eagerly (not replayed from a CUDA graph) is also launched op by op from Python: its
host time is then ops x the CPU time of one PyTorch op, and under the overlap scheduler (CPU of
step n+1 over GPU of step n) the step takes max(GPU time, that launch time) (`eager_step_s`).
TensorRT-LLM captures CUDA graphs for generation-only batches only; steps that carry prompts run
eagerly unless piecewise CUDA graphs are turned on, which exist "to reduce context-phase launch
overhead" and "primarily benefit host-bound iterations in the context phase. Within a single
iteration, larger token counts reduce exposure to host-side overhead" (NVIDIA/TensorRT-LLM@14e6b10
docs/source/features/torch_compile_and_piecewise_cuda_graph.md; the perf-overview runs' yaml
does not turn them on). The CPU time of one op is TransformerEngine issue 2053's plain PyTorch
Linear forward (backend "torch"): 13.48 us on an H100 DGX (Xeon 8480C), 37.08 us on GB200.
"""

from __future__ import annotations

GRACE_BUBBLE_S_PER_REQUEST = 8.8e-3 / 256
"""TensorRT-LLM PR 16564: ~8.8 ms GPU bubble per iteration at 256 requests on GB200 (Grace)."""

GRACE_OVER_X86_CPU_TIME = 37.08 / 13.48
"""TransformerEngine issue 2053: CPU time of the same PyTorch op on GB200 over H100 DGX (x86)."""

GRACE_HOSTED_GPUS = frozenset({"gb200-nvl72", "gb300-nvl72"})
"""GPUs whose host CPU is NVIDIA Grace (GB200/GB300 NVL72: one Grace per two GPUs)."""

EAGER_OP_CPU_S_X86 = 13.48e-6
EAGER_OP_CPU_S_GRACE = 37.08e-6
"""TransformerEngine issue 2053 (2025-08): CPU time of one torch.nn.Linear forward (8192 tokens,
hidden 2048, BF16) on an H100 DGX (x86) and on GB200 (Grace); its GPU time on GB200 was 41.79 us,
so the op was launch-bound there."""

HOST_ENGINES = frozenset({"trtllm"})
"""Engines with a published per-request host time (above); others: none modelled."""


def host_s_per_request(engine_id: str, gpu_id: str) -> float:
    """Seconds of GPU idle per running request per step on one executor rank: the Grace figure
    of PR 16564, divided by the Grace/x86 CPU-time ratio on x86 hosts; 0 for engines without a
    published figure."""
    if engine_id not in HOST_ENGINES:
        return 0.0
    if gpu_id in GRACE_HOSTED_GPUS:
        return GRACE_BUBBLE_S_PER_REQUEST
    return GRACE_BUBBLE_S_PER_REQUEST / GRACE_OVER_X86_CPU_TIME


def host_step_s(engine_id: str, gpu_id: str, requests_per_rank: float) -> float:
    """Host time a step adds for `requests_per_rank` requests (decoding plus new prompts) on the
    busiest executor rank."""
    return host_s_per_request(engine_id, gpu_id) * requests_per_rank


def eager_step_s(engine_id: str, gpu_id: str, gpu_s: float, ops: float) -> float:
    """Time of a step launched eagerly: max(its GPU time `gpu_s`, `ops` PyTorch ops x the CPU
    time of one on this host); `gpu_s` for engines without a published figure."""
    if engine_id not in HOST_ENGINES:
        return gpu_s
    per_op = EAGER_OP_CPU_S_GRACE if gpu_id in GRACE_HOSTED_GPUS else EAGER_OP_CPU_S_X86
    return max(gpu_s, ops * per_op)
