"""Timing: warm-up, then the median of repeats. CUDA: CUDA events read once at the end, the L2
flushed between timed runs where it would flatter bandwidth, CUDA graphs where the kernel can
be captured. CPU: perf_counter."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

L2_FLUSH_BYTES = 256 << 20  # > 2x the largest L2 here (H100 50 MB, B200 126 MB)


@dataclass(frozen=True)
class Timing:
    median_s: float
    min_s: float
    repeats: int
    graph: bool
    graph_error: str | None = None  # why a capture asked for failed (the call ran eagerly)


class Timer:
    def __init__(self, device: str, repeats: int = 20, warmup: int = 3) -> None:
        self.device = device
        self.repeats = repeats
        self.warmup = warmup
        self._flush: Any = None

    def _flush_l2(self) -> None:
        import torch

        if self._flush is None:
            self._flush = torch.empty(L2_FLUSH_BYTES, dtype=torch.uint8, device="cuda")
        self._flush.zero_()

    def time(self, fn: Callable[[], Any], flush_l2: bool = True, graph: bool = True) -> Timing:
        if self.device == "cpu":
            return self._time_cpu(fn)
        return self._time_cuda(fn, flush_l2, graph)

    def _time_cpu(self, fn: Callable[[], Any]) -> Timing:
        for _ in range(self.warmup):
            fn()
        samples = []
        for _ in range(self.repeats):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        return Timing(statistics.median(samples), min(samples), self.repeats, False)

    def _time_cuda(self, fn: Callable[[], Any], flush_l2: bool, graph: bool) -> Timing:
        import torch

        for _ in range(self.warmup):
            fn()
        torch.cuda.synchronize()
        run, used_graph, graph_error = fn, False, None
        if graph:  # only for callers that never sync with the host (Backend.capturable)
            captured, graph_error = _capture(fn)
            if captured is not None:
                run, used_graph = captured.replay, True
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(self.repeats)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(self.repeats)]
        for start, end in zip(starts, ends, strict=False):
            if flush_l2:
                self._flush_l2()
            start.record()
            run()
            end.record()
        torch.cuda.synchronize()
        samples = [s.elapsed_time(e) / 1e3 for s, e in zip(starts, ends, strict=False)]
        return Timing(
            statistics.median(samples), min(samples), self.repeats, used_graph, graph_error
        )


def _capture(fn: Callable[[], Any]) -> tuple[Any, str | None]:
    """(a CUDA graph of fn, None), or (None, why) when the capture failed. Asked only for
    calls that never sync with the host: a failed capture can leave the CUDA context in an
    error state, so syncing backends are never captured (moe.Backend.capturable)."""
    import torch

    try:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            fn()
        torch.cuda.current_stream().wait_stream(stream)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            fn()
        g.replay()
        torch.cuda.synchronize()
        return g, None
    except Exception as exc:
        torch.cuda.synchronize()
        return None, str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
