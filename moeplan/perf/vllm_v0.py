"""vLLM V0's host time per decode step, from vLLM's own published profile (used by the vllm-v0
engine profile in engines.py)."""

from __future__ import annotations


def v0_step_overhead_s(
    scheduling_share: float = 0.29, gpu_share: float = 0.38, gpu_step_s: float = 5e-3
) -> float:
    """Host time per decode step of vLLM's V0 engine loop, whose scheduling, input preparation
    and output processing ran synchronously between GPU steps (documented in the vLLM v0.6.0
    blog, 2024-09-05, and removed by its multi-step scheduling / async output processing and by
    V1). The blog profiled Llama 3 8B on one H100 in v0.5.3: 29% of the time scheduling (gathering
    the last step's results, scheduling, preparing inputs), 38% GPU execution (33% HTTP server,
    which an offline run does not have); the V1 blog (2025-01-27) puts that GPU step at ~5 ms.
    So scheduling per step = 0.29 / 0.38 x 5 ms = 3.8 ms (the same blog's "1 token every 13 ms
    under light load" x 29% = 3.8 ms agrees)."""
    return scheduling_share / gpu_share * gpu_step_s
