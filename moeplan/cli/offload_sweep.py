"""`latency --offload sweep`: the offload report at each K of a --n-cpu-moe sweep
(perf/offload_sweep.py), every row priced as `latency --n-cpu-moe K` would price it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from moeplan.cli.offload import HostArgs
from moeplan.errors import MoeplanError

if TYPE_CHECKING:
    from moeplan.perf.offload import OffloadReport
    from moeplan.perf.offload_sweep import OffloadSweep


def offload_sweep_report(
    args: HostArgs, report: Callable[[HostArgs], OffloadReport], num_layers: int
) -> OffloadSweep:
    """`report` (cli/offload.py offload_report with the model, GPU and lengths bound) run for
    auto, then for each K of the sweep with `args` otherwise as given."""
    from moeplan.perf.offload_sweep import sweep_offload

    if args.n_cpu_moe is not None or args.kt_gpu_experts is not None:
        raise MoeplanError("--offload sweep chooses K itself: drop --n-cpu-moe / --kt-gpu-experts")
    return sweep_offload(
        lambda mode, k: report(replace(args, offload=mode, n_cpu_moe=k)), num_layers
    )
