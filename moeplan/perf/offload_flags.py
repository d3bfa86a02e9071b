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


def prefill_switch_flag(
    engine: OffloadProfile, path: str, prompt_tokens: int
) -> tuple[str, str | None] | None:
    """The engine setting that runs every pass of a `prompt_tokens` prompt the other way than
    `path` ("stream": the host experts copied to the GPU, "cpu": computed by the CPU), with the
    moeplan option that prices it (None: moeplan has none), or None where the engine has no
    such setting. llama.cpp: --no-op-offload keeps them on the CPU; with op offload on, a pass
    (-ub tokens at most) streams from GGML_OP_OFFLOAD_MIN_BATCH tokens (ggml-cuda.cu, default
    32). kt-kernel + SGLang: a chunk streams from --kt-gpu-prefill-token-threshold tokens, unset
    by default. ktransformers V0.2/V0.3: the layer-wise GPU prefill is off in every shipped rule
    file, no flag."""
    ubatch = min(prompt_tokens, engine.ubatch_tokens)
    smallest_pass = prompt_tokens % ubatch or ubatch  # the short last pass, if any
    if engine.id == "llamacpp":
        if path == "stream":
            return "llama.cpp --no-op-offload", "--no-op-offload"
        if engine.stream_min_batch is None:
            return "llama.cpp without --no-op-offload", "without --no-op-offload"
        if engine.ubatch_tokens < engine.stream_min_batch <= prompt_tokens:
            ub = engine.stream_min_batch
            return f"llama.cpp -ub {ub} or more", f"--ubatch {ub}"
        return f"llama.cpp with GGML_OP_OFFLOAD_MIN_BATCH={smallest_pass}", None
    if engine.id == "ktransformers":
        if path == "stream":
            return (
                "kt-kernel without --kt-gpu-prefill-token-threshold",
                "without --kt-gpu-prefill-threshold",
            )
        return (
            f"kt-kernel --kt-gpu-prefill-token-threshold {smallest_pass}",
            f"--kt-gpu-prefill-threshold {smallest_pass}",
        )
    return None
