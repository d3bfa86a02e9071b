"""A sweep of --n-cpu-moe: the question "how many layers' experts do I move" answered as a table
of placements, from just below the smallest K that fits the GPU (llama.cpp --fit's choice) to
every layer's experts in RAM, each with its fit and its speed (perf/offload.py)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from moeplan.perf.offload import OffloadReport

SWEEP_ROWS = 10
"""Placements above auto's K a sweep shows (evenly spaced, every layer's experts in RAM last)."""

BELOW_AUTO = 2
"""K values below auto's a sweep shows: where the GPU part stops fitting."""


@dataclass(frozen=True)
class OffloadSweep:
    auto_n_cpu_moe: int  # the smallest K whose GPU part fits with --fit's margin
    reports: tuple[OffloadReport, ...]  # one a K, ascending


def sweep_ks(num_layers: int, auto_k: int, rows: int = SWEEP_ROWS) -> list[int]:
    """The K values of a sweep: BELOW_AUTO under auto's K (not below 0), auto's K, then steps of
    ceil((layers - auto) / rows) up to every layer (K = num_layers, always included)."""
    if not 0 <= auto_k <= num_layers:
        raise ValueError(f"auto K {auto_k} outside 0..{num_layers}")
    ks = {k for k in range(auto_k - BELOW_AUTO, auto_k) if k >= 0}
    step = max(1, math.ceil((num_layers - auto_k) / rows))
    ks.update(range(auto_k, num_layers, step))
    ks.add(num_layers)
    return sorted(ks)


def sweep_offload(
    estimate: Callable[[str, int | None], OffloadReport], num_layers: int
) -> OffloadSweep:
    """`estimate(mode, n_cpu_moe)` run for auto, then for each K of sweep_ks at that K (no
    margin: a K the user passes is placed as given, as llama.cpp does)."""
    auto = estimate("auto", None)
    k = auto.placement.n_cpu_moe
    return OffloadSweep(k, tuple(estimate("experts", kk) for kk in sweep_ks(num_layers, k)))
