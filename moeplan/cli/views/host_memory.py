"""Rows and JSON for `moeplan profile --host-memory`."""

from __future__ import annotations

from typing import Any

from moeplan.cli.render import Table
from moeplan.hardware.host_record import above_rated_note
from moeplan.hardware.hosts import Host
from moeplan.profile.host_memory import ReadProbe

SPREAD_WARNING = 0.15
"""Passes farther apart than this share of the median are flagged: on an idle machine they agree
within a few percent (this project's VM: 35.2-38.6 GB/s over six passes when quiet)."""


def _catalog_read(host: Host) -> tuple[float | None, float | None, str]:
    """The catalog's theoretical and estimated read rate of this CPU (None where unknown)."""
    return host.mem_bw_bytes_per_s, host.read_bw_bytes_per_s, host.read_fraction[1]


def host_probe_table(
    host: Host, probe: ReadProbe, core: ReadProbe, record: dict[str, Any], path: str
) -> Table:
    theoretical, estimate, fraction_source = _catalog_read(host)
    read = probe.read_bytes_per_s
    passes = ", ".join(f"{r / 1e9:,.1f}" for r in probe.pass_bytes_per_s)
    rows = [
        ["threads", f"{probe.threads} (each pinned to one CPU, reading its own share)"],
        ["buffer", f"{probe.buffer_bytes / 1e9:,.2f} GB"],
        ["passes (GB/s)", passes],
        ["measured read", f"{read / 1e9:,.1f} GB/s (median pass)"],
        [
            "one core's read",
            f"{core.read_bytes_per_s / 1e9:,.1f} GB/s (one thread alone, median of "
            f"{', '.join(f'{r / 1e9:,.1f}' for r in core.pass_bytes_per_s)})",
        ],
    ]
    if theoretical is not None and estimate is not None:
        rows.append(
            [
                "catalog estimate",
                f"{estimate / 1e9:,.1f} GB/s of {theoretical / 1e9:,.1f} theoretical "
                f"(measured is {read / estimate:.2f}x the estimate, "
                f"{read / theoretical:.2f} of theoretical)",
            ]
        )
    else:
        rows.append(["catalog estimate", "none (the CPU is not in the host catalog)"])
    rows.append(["host file written", path])
    table = Table(f"host memory read: {host.name} ({host.id})", ["measure", "value"], rows)
    if host.detected:  # what was detected, not --host local's advice for a host without a read
        table.notes.append(host.detected.split(";")[0])
    if theoretical is not None and estimate is not None:
        table.notes.append(f"catalog read fraction: {fraction_source}")
    if theoretical is not None and "memory_type" not in record:  # left out: above the rating
        table.notes.append(above_rated_note(theoretical))
    if "ram_gb" not in record:
        table.notes.append("RAM size unknown here: give it with --host-ram-gb when planning")
    spread = (max(probe.pass_bytes_per_s) - min(probe.pass_bytes_per_s)) / read
    if spread > SPREAD_WARNING:
        table.notes.append(
            f"the passes spread {spread:.0%} of the median: something else was using the memory "
            "or the CPUs; close it and rerun (--force) for a steadier figure"
        )
    table.notes.append(
        f"use it: moeplan latency MODEL --gpu GPU --host {path} --offload auto; the measured "
        "read replaces the catalog's estimate (the engine's host efficiency still applies); "
        "one core's read replaces the published stand-in where a core's own read bounds: "
        "ktransformers' decode threads, and a memory-mapped prompt's copies to the GPU"
    )
    return table


def host_probe_json(
    host: Host, probe: ReadProbe, core: ReadProbe, record: dict[str, Any], path: str
) -> dict[str, Any]:
    theoretical, estimate, _ = _catalog_read(host)
    return {
        "host_file": path,
        "host": record,
        "read_bytes_per_s": probe.read_bytes_per_s,
        "pass_bytes_per_s": list(probe.pass_bytes_per_s),
        "threads": probe.threads,
        "core_read_bytes_per_s": core.read_bytes_per_s,
        "core_pass_bytes_per_s": list(core.pass_bytes_per_s),
        "buffer_bytes": probe.buffer_bytes,
        "catalog_theoretical_bytes_per_s": theoretical,
        "catalog_read_bytes_per_s": estimate,
    }
