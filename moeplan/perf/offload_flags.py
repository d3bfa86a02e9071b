"""An offload engine profile under a run's flags (llama.cpp -ub, --no-op-offload, --swa-full,
--no-mmap;
kt-kernel + SGLang's --kt-gpu-prefill-token-threshold; the ktransformers server's --cache_lens):
the profiles themselves are in offload_engines.py."""

from __future__ import annotations

from dataclasses import replace

from moeplan.errors import MoeplanError
from moeplan.perf.offload_engines import OffloadProfile


def positive_tokens(name: str, value: object) -> int:
    """`value` as a token count: a whole number of at least 1, else one line naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MoeplanError(f"{name} must be a positive whole number of tokens, got {value!r}")
    return value


def with_prompt_flags(
    engine: OffloadProfile,
    ubatch: int | None = None,
    op_offload: bool = True,
    kt_gpu_prefill_threshold: int | None = None,
    cache_lens: int | None = None,
    swa_full: bool = False,
    mmap: bool = True,
) -> OffloadProfile:
    """The profile under a run's flags: `ubatch` tokens a pass (llama.cpp -ub, ktransformers'
    chunk size), llama.cpp's --no-op-offload (op_offload False: host experts stay on the CPU at
    any batch), kt-kernel + SGLang's --kt-gpu-prefill-token-threshold (a chunk of at least that
    many tokens streams every expert of each host layer to the GPU), the ktransformers server's
    --cache_lens (a static KV cache of that many tokens, KT_SERVER_CACHE_SOURCE), llama.cpp's
    --swa-full (sliding-window layers keep every cell of the context), llama.cpp's --no-mmap
    (mmap False: host experts in a pinned buffer, streamed at the link's pinned rate)."""
    if swa_full:
        if not engine.swa_cache_holds_ubatch:
            raise MoeplanError(f"--swa-full is a llama.cpp flag; the engine is {engine.id}")
        engine = replace(engine, swa_full=True)
    if cache_lens is not None:
        if not engine.id.startswith("ktransformers"):
            raise MoeplanError(f"--cache-lens is a ktransformers server flag, not {engine.id}'s")
        engine = replace(engine, kv_cache_tokens=positive_tokens("--cache-lens", cache_lens))
    if not mmap:
        if engine.id != "llamacpp":
            raise MoeplanError(f"--no-mmap is a llama.cpp flag; the engine is {engine.id}")
        engine = replace(engine, maps_weights=False)
    if ubatch is not None:
        engine = replace(engine, ubatch_tokens=positive_tokens("--ubatch", ubatch))
    if not op_offload:
        if engine.id != "llamacpp":
            raise MoeplanError(f"--no-op-offload is a llama.cpp flag; the engine is {engine.id}")
        engine = replace(engine, stream_min_batch=None)
    if kt_gpu_prefill_threshold is not None:
        if engine.id != "ktransformers":  # V0.2.x (ktransformers-v02) has no such flag
            raise MoeplanError(
                "--kt-gpu-prefill-threshold is a kt-kernel + SGLang flag (engine ktransformers), "
                f"not {engine.id}'s"
            )
        threshold = positive_tokens("--kt-gpu-prefill-threshold", kt_gpu_prefill_threshold)
        engine = replace(engine, stream_min_batch=threshold, streams_used_experts=False)
    return engine
