"""`latency --offload sweep`: the offload report at each K of a --n-cpu-moe sweep
(perf/offload_sweep.py), every row priced as `latency --n-cpu-moe K` would price it."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from moeplan.cli.offload import HostArgs, offload_report
from moeplan.errors import MoeplanError

if TYPE_CHECKING:
    from moeplan.hardware.gpus import GPU
    from moeplan.memory.quant import QuantScheme
    from moeplan.model.specs import ModelSpec
    from moeplan.perf.offload import OffloadReport
    from moeplan.perf.offload_sweep import OffloadSweep


def offload_sweep_report(
    args: HostArgs,
    spec: ModelSpec,
    scheme: QuantScheme,
    gpu: GPU,
    engine: str | None,
    batch: int,
    input_len: int,
    output_len: int,
    kv_quant: str,
) -> OffloadSweep:
    from moeplan.perf.offload_sweep import sweep_offload

    if args.n_cpu_moe is not None or args.kt_gpu_experts is not None:
        raise MoeplanError("--offload sweep chooses K itself: drop --n-cpu-moe / --kt-gpu-experts")

    def estimate(mode: str, n_cpu_moe: int | None) -> OffloadReport:
        one = replace(args, offload=mode, n_cpu_moe=n_cpu_moe)
        return offload_report(
            one, spec, scheme, gpu, engine, batch, input_len, output_len, kv_quant
        )

    return sweep_offload(estimate, spec.num_layers)
