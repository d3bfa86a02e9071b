"""Collective communication with torch.distributed: all-reduce and all-to-all over a sweep of
message sizes (fp32) and at the shapes a MoE model sends (TP all-reduce of tokens x hidden in
bf16, EP dispatch and combine all-to-all of the token copies). Under torchrun (NCCL on GPUs,
gloo on CPU) every rank runs the same loop, before rank 0 times anything else; the test suite
starts two gloo processes on the loopback.

Timing: after warm-up and a barrier, `iterations` back-to-back calls between two CUDA events
(perf_counter on CPU), per-call time = elapsed / iterations; the median of `repeats` such rounds.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from .moe import MoEShape

COLLECTIVE_TIMEOUT = dt.timedelta(minutes=30)
"""Rendezvous and collective timeout: generous, so a slow rank never trips the others."""
MODEL_TOKENS = (1, 8, 64, 512, 4096)
"""Tokens per step at which the model-shaped collectives are timed (decode to prefill)."""


def distributed_env() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_process_group(device: str) -> tuple[int, int]:
    """set_device first, then init_process_group with device_id (NCCL binds the communicator
    to that GPU eagerly instead of guessing from the current device)."""
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        if device == "cuda":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            dist.init_process_group(
                "nccl", device_id=torch.device("cuda", local), timeout=COLLECTIVE_TIMEOUT
            )
        else:
            dist.init_process_group("gloo", timeout=COLLECTIVE_TIMEOUT)
    return dist.get_rank(), dist.get_world_size()


def model_collectives(shape: MoEShape, device: str) -> list[dict[str, Any]]:
    """The messages a MoE layer sends with TP = EP = world size, per token count: the TP
    all-reduce of the attention/MLP output (tokens x hidden), the EP dispatch all-to-all of
    the token copies (tokens x top_k x hidden) and the combine all-to-all back (same size).
    bf16 on GPUs (what engines send), fp32 on CPU (gloo)."""
    dtype = "bf16" if device == "cuda" else "fp32"
    out = []
    for tokens in MODEL_TOKENS:
        out.append(
            {
                "purpose": "tp all-reduce",
                "kernel": "all_reduce",
                "tokens": tokens,
                "elements": tokens * shape.hidden,
                "dtype": dtype,
            }
        )
        for purpose in ("ep dispatch", "ep combine"):
            out.append(
                {
                    "purpose": purpose,
                    "kernel": "all_to_all",
                    "tokens": tokens,
                    "elements": tokens * shape.top_k * shape.hidden,
                    "dtype": dtype,
                }
            )
    return out


def bus_factor(kernel: str, world: int) -> float:
    """NCCL-tests' bus bandwidth factor: all-reduce 2(n-1)/n, all-to-all (n-1)/n."""
    return 2 * (world - 1) / world if kernel == "all_reduce" else (world - 1) / world


def _time_calls(device: str, fn: Callable[[], Any], iterations: int, repeats: int) -> float:
    import torch
    import torch.distributed as dist

    for _ in range(3):
        fn()
    rounds = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        dist.barrier()
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(iterations):
                fn()
            end.record()
            torch.cuda.synchronize()
            rounds.append(start.elapsed_time(end) / 1e3 / iterations)
        else:
            t0 = time.perf_counter()
            for _ in range(iterations):
                fn()
            rounds.append((time.perf_counter() - t0) / iterations)
    return statistics.median(rounds)


def time_collectives(
    device: str,
    sizes: list[int],
    repeats: int = 5,
    iterations: int | None = None,
    model_shapes: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Per-call seconds and bus bandwidth for the fp32 sweep over `sizes` (bytes) and for each
    model-shaped message. Every rank must call this with the same arguments."""
    import torch
    import torch.distributed as dist

    _, world = init_process_group(device)
    iterations = iterations or (20 if device == "cuda" else 3)
    jobs: list[dict[str, Any]] = []
    for size in sizes:
        elems = max(world, size // 4 // world * world)
        for kernel in ("all_reduce", "all_to_all"):
            jobs.append({"purpose": "sweep", "kernel": kernel, "elements": elems, "dtype": "fp32"})
    for job in model_shapes or []:
        job = dict(job)
        job["elements"] = max(world, -(-job["elements"] // world) * world)  # divisible by n
        jobs.append(job)
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    rows = []
    for job in jobs:
        buf = torch.ones(job["elements"], dtype=dtypes[job["dtype"]], device=device)
        out = torch.empty_like(buf)
        fn: Callable[[], Any]
        if job["kernel"] == "all_reduce":
            fn = functools.partial(dist.all_reduce, buf)
        else:
            fn = functools.partial(dist.all_to_all_single, out, buf)
        seconds = _time_calls(device, fn, iterations, repeats)
        n_bytes = buf.numel() * buf.element_size()
        rows.append(
            {
                **job,
                "bytes": n_bytes,
                "world_size": world,
                "seconds": seconds,
                "iterations": iterations,
                "timer": "cuda events" if device == "cuda" else "perf_counter",
                "bus_bytes_per_s": n_bytes * bus_factor(job["kernel"], world) / seconds,
            }
        )
    return rows
