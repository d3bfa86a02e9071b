"""`moeplan latency ... --calibrate-host TOK_S`: the host read rate one decode run measured on
this box implies (plan/host_calibration.py), written as a host file for `--host FILE`."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

from moeplan.cli.offload import HostArgs
from moeplan.errors import MoeplanError

if TYPE_CHECKING:
    from moeplan.hardware.hosts import Host
    from moeplan.perf.offload import OffloadReport

READ_DECIMALS = 2
"""The calibrated read is written to 0.01 GB/s (rounded down), so the host file reproduces the
run within a fraction of a percent even on a slow box (a 0.1 GB/s step is 2.5% of 4 GB/s)."""


@dataclass(frozen=True)
class _TriedRead(HostArgs):
    """The run's host options with the host's read rate set to the one the search tries, as is:
    an effective rate may exceed the theoretical one, which --host-mem-measured-gbps refuses."""

    read_bytes_per_s: float = 0.0

    def resolve_host(self) -> Host:
        return replace(super().resolve_host(), read_override_bytes_per_s=self.read_bytes_per_s)


def run_host_calibration(
    args: HostArgs,
    offload_at: Callable[[HostArgs], OffloadReport],
    observed_tok_s: float,
    output: str | None,
    force: bool,
    fmt: str,
) -> None:
    """Find the read rate that reproduces `observed_tok_s`, write the host file, print both."""
    from moeplan.cli.output import check_output, write_atomic
    from moeplan.cli.render import emit
    from moeplan.cli.views.host_calibration import host_calibration_json, host_calibration_table
    from moeplan.hardware.host_record import measured_host_record
    from moeplan.plan.host_calibration import (
        above_theoretical_note,
        calibrate_read,
        decode_and_bound,
    )
    from moeplan.yamlio import dump_yaml

    if args.offload == "sweep":
        raise MoeplanError("--calibrate-host takes one run: --offload experts or auto, not sweep")
    host = args.resolve_host()
    host.require_complete()
    own_read = host.read_bw_bytes_per_s
    assert own_read is not None  # require_complete
    path = check_output(
        output or f"host-{host.id}-calibrated.yaml", (), force, option="--write-host"
    )
    base = offload_at(args)
    decode_and_bound(base)  # a run moeplan prices at all

    given = {f.name: getattr(args, f.name) for f in fields(args)}

    def at(read_bytes_per_s: float) -> OffloadReport:
        return offload_at(_TriedRead(**given, read_bytes_per_s=read_bytes_per_s))

    calibration = calibrate_read(
        lambda read: decode_and_bound(at(read))[0],
        observed_tok_s,
        own_read,
        host.mem_bw_bytes_per_s,
        lambda read: decode_and_bound(at(read))[1],
        base.engine.host_bw_efficiency,
    )
    calibrated = at(calibration.read_bytes_per_s)
    source = (
        f"calibrated by moeplan latency --calibrate-host {observed_tok_s:g}, "
        f"{datetime.date.today().isoformat()}: {base.spec.name} {base.scheme.id} on "
        f"{base.gpu.id} with --n-cpu-moe {base.placement.n_cpu_moe} ({base.engine.id}, "
        f"batch {base.batch}, {base.input_len} in / {base.output_len} out); an effective read "
        "rate, holding whatever else moeplan misses on this box"
    )
    record = measured_host_record(
        host,
        calibration.read_bytes_per_s,
        source,
        host.core_read_bytes_per_s,
        decimals=READ_DECIMALS,
        above_note=above_theoretical_note,
    )
    write_atomic(path, dump_yaml({"host": record}))
    emit(
        [host_calibration_table(calibration, base, calibrated, str(path))],
        fmt,
        host_calibration_json(calibration, base, calibrated, str(path)),
    )
