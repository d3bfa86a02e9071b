"""Rows and JSON for `moeplan latency ... --calibrate-host TOK_S`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moeplan.cli.render import Table
from moeplan.plan.host_calibration import HostCalibration, above_theoretical_note

if TYPE_CHECKING:
    from moeplan.perf.offload import OffloadReport

LOW_READ_SHARE = 0.5
"""A calibrated read under half the host's own figure is flagged. The published runs `validate`
prices imply 0.38-0.94 of moeplan's figure; under half is that range's low tail, where a run that
paged, ran short of threads or shared the machine is a likelier cause than slow DRAM (a judgment,
not a measured threshold)."""


def _gbps(bytes_per_s: float) -> str:
    return f"{bytes_per_s / 1e9:,.2f} GB/s"


def host_calibration_table(
    calibration: HostCalibration, base: OffloadReport, calibrated: OffloadReport, path: str
) -> Table:
    theoretical = calibration.theoretical_bytes_per_s
    of_theoretical = ""
    if theoretical:
        share = calibration.read_bytes_per_s / theoretical
        of_theoretical = f"; {share:.2f} of the theoretical {_gbps(theoretical)}"
    rows = [
        [
            "run",
            f"{base.spec.name} {base.scheme.id} on {base.gpu.id}, --n-cpu-moe "
            f"{base.placement.n_cpu_moe}, {base.engine.id}, batch {base.batch}",
        ],
        ["measured decode", f"{calibration.observed_tok_s:,.2f} tok/s (--calibrate-host)"],
        [
            "moeplan's estimate",
            f"{calibration.estimated_tok_s:,.2f} tok/s at the host's read "
            f"{_gbps(calibration.host_read_bytes_per_s)} (measured / estimate "
            f"{calibration.observed_tok_s / calibration.estimated_tok_s:.2f})",
        ],
        [
            "calibrated host read",
            f"{_gbps(calibration.read_bytes_per_s)} ({calibration.read_vs_host:.2f}x the "
            f"host's figure{of_theoretical})",
        ],
        [
            "decode at that read",
            f"{calibrated.decode_tok_s or 0.0:,.2f} tok/s, bound by "
            f"{calibrated.speed.decode_bound if calibrated.speed else '-'}",
        ],
        ["host file written", path],
    ]
    table = Table(
        f"host read calibrated from a decode run: {base.host.name} ({base.host.id})",
        ["measure", "value"],
        rows,
    )
    table.notes.append(
        "an effective read rate: it holds whatever else moeplan misses on this box (threads, "
        "BIOS, background load) as well as the DRAM's own rate; `moeplan validate` shows what "
        "one run's calibration buys on a box's other published runs"
    )
    if theoretical and calibration.read_bytes_per_s > theoretical:
        table.notes.append(above_theoretical_note(theoretical))
    if calibration.read_vs_host < LOW_READ_SHARE:
        table.notes.append(
            f"the run implies under {LOW_READ_SHARE:.0%} of the host's figure: check it for "
            "paging or mmap reads from disk, few threads, or another load on the machine"
        )
    if base.host.ram_assumed:
        table.notes.append(
            "the file gives no RAM size (the catalog's is a reference size, not this box's): add "
            "ram_gb to it or pass --host-ram-gb with it"
        )
    table.notes.append(
        f"use it: moeplan latency MODEL --gpu GPU --host {path} --offload auto (other models, "
        "quantizations and --n-cpu-moe on this box; the engine's host efficiency still applies)"
    )
    return table


def host_calibration_json(
    calibration: HostCalibration, base: OffloadReport, calibrated: OffloadReport, path: str
) -> dict[str, Any]:
    return {
        "host_file": path,
        "observed_decode_tok_s": calibration.observed_tok_s,
        "estimated_decode_tok_s": calibration.estimated_tok_s,
        "host_read_bytes_per_s": calibration.host_read_bytes_per_s,
        "calibrated_read_bytes_per_s": calibration.read_bytes_per_s,
        "theoretical_bytes_per_s": calibration.theoretical_bytes_per_s,
        "calibrated_decode_tok_s": calibrated.decode_tok_s,
        "decode_bound": calibrated.speed.decode_bound if calibrated.speed else None,
        "n_cpu_moe": base.placement.n_cpu_moe,
        "engine": base.engine.id,
    }
