"""A larger llama.cpp -ub for an offload run whose prompt streams the host experts to the GPU.

Each streamed pass copies the host experts its tokens route to over PCIe (perf/offload_prefill.py),
so the copy is paid once a ubatch and a larger ubatch spreads it over more tokens; the compute
buffer grows with the ubatch (perf/offload_compute_buffer.py), so at --offload auto fewer layers'
experts may stay on the GPU and a given --n-cpu-moe may no longer fit. The published llama-bench
sweep of gpt-oss-120b on an RTX 3090 (ai-maestro.online 'Drastically improve prompt processing
speed for n-cpu-moe partially offloaded models') shows the effect: pp4096 at 380 tok/s with -ub
512, 1682 with -ub 4096."""

from __future__ import annotations

from collections.abc import Callable

from moeplan.perf.offload import OffloadReport
from moeplan.perf.offload_engines import OffloadProfile
from moeplan.perf.offload_flags import with_prompt_flags

UBATCH_STEPS = (1024, 2048, 4096, 8192)
"""The -ub values tried (llama.cpp needs -b at least as large)."""

MIN_PROMPT_GAIN = 1.1
"""A larger ubatch is named only when its prompt is at least this much faster."""


def faster_ubatch(
    report: OffloadReport, estimate: Callable[[OffloadProfile], OffloadReport]
) -> OffloadReport | None:
    """The run at the -ub of UBATCH_STEPS above the report's that fits and gives the fastest
    prompt, at least MIN_PROMPT_GAIN x the report's; None when the engine is not llama.cpp, the
    prompt runs on the CPU or no larger ubatch helps. `estimate` prices the same run under
    another profile. Stops at the first ubatch that holds the whole prompt."""
    engine, speed = report.engine, report.speed
    prompt_tok_s = report.prefill_tok_s
    if engine.id != "llamacpp" or speed is None or speed.prefill_path == "cpu" or not prompt_tok_s:
        return None
    best, floor = None, prompt_tok_s * MIN_PROMPT_GAIN
    for ubatch in (u for u in UBATCH_STEPS if u > engine.ubatch_tokens):
        run = estimate(with_prompt_flags(engine, ubatch=ubatch))
        if run.fits and run.prefill_tok_s is not None and run.prefill_tok_s >= floor:
            best, floor = run, run.prefill_tok_s
        if ubatch >= report.batch * report.input_len:
            break
    return best
