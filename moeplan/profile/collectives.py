"""Collective communication with torch.distributed: all-reduce and all-to-all over message
sizes. Under torchrun (NCCL on GPUs, gloo on CPU) every rank runs the same loop; the test suite
starts two gloo processes on the loopback."""

from __future__ import annotations

import os
import statistics
import time
from typing import Any


def distributed_env() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_process_group(device: str) -> tuple[int, int]:
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def time_collectives(device: str, sizes: list[int], repeats: int = 5) -> list[dict[str, Any]]:
    """Median seconds per collective; bus bandwidth as NCCL-tests defines it (all-reduce:
    size x 2(n-1)/n / t; all-to-all: size x (n-1)/n / t)."""
    import torch
    import torch.distributed as dist

    _, world = init_process_group(device)
    if device == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    rows = []
    for size in sizes:
        elems = max(world, size // 4 // world * world)
        buf = torch.ones(elems, dtype=torch.float32, device=device)
        out = torch.empty_like(buf)
        for name, fn, factor in (
            ("all_reduce", lambda b=buf: dist.all_reduce(b), 2 * (world - 1) / world),
            ("all_to_all", lambda o=out, b=buf: dist.all_to_all_single(o, b), (world - 1) / world),
        ):
            fn()  # warm-up
            samples = []
            for _ in range(repeats):
                if device == "cuda":
                    torch.cuda.synchronize()
                dist.barrier()
                start = time.perf_counter()
                fn()
                if device == "cuda":
                    torch.cuda.synchronize()
                samples.append(time.perf_counter() - start)
            seconds = statistics.median(samples)
            rows.append(
                {
                    "kernel": name,
                    "bytes": elems * 4,
                    "world_size": world,
                    "seconds": seconds,
                    "bus_bytes_per_s": elems * 4 * factor / seconds,
                }
            )
    return rows
