"""A host as the record a host YAML file holds (what `--host FILE` reads back through
hosts.load_host_file): written by `moeplan profile --host-memory` with the read bandwidth it
measured on this machine."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from moeplan.hardware.hosts import Host


def above_rated_note(theoretical_bytes_per_s: float) -> str:
    """Why a host file from a read above the CPU's rated memory speed has no channels or MT/s."""
    return (
        f"the measured read is above the {theoretical_bytes_per_s / 1e9:.1f} GB/s theoretical "
        "rate of the CPU's rated memory speed (a faster kit): channels and MT/s are left out"
    )


def _gbps_down(bytes_per_s: float, decimals: int = 1) -> float:
    """GB/s to `decimals` places, rounded down: a read just under a bound must not round above
    it."""
    scale = 10.0**decimals
    return math.floor(bytes_per_s / 1e9 * scale) / scale


def measured_host_record(
    host: Host,
    read_bytes_per_s: float,
    source: str,
    core_read_bytes_per_s: float | None = None,
    decimals: int = 1,
    above_note: Callable[[float], str] = above_rated_note,
) -> dict[str, Any]:
    """`host` (this machine: --host local) with a measured `mem_read_gbps` and, where given, one
    core's own read (`core_read_gbps`, at most the whole machine's). Its theoretical
    figures (channels x MT/s, or the vendor's) stay where the measurement is under them; a read
    above them means the kit runs faster than the CPU's rated speed (XMP/EXPO), so they are left
    out rather than kept wrong (a host file's read may not exceed its theoretical rate). The
    reads are written in GB/s to `decimals` places, rounded down; `above_note` says why the
    theoretical figures are left out."""
    record: dict[str, Any] = {
        "id": host.id,
        "name": host.name,
        "segment": "user",
        "cores": host.cores_per_socket,
        "sockets": host.sockets,
    }
    if host.vendor:
        record["vendor"] = host.vendor
    if host.performance_cores is not None:
        record["performance_cores"] = host.performance_cores
        record["p_core_smt"] = host.p_core_smt
    # what the kernel reported, without the advice for a host that has no bandwidth yet
    notes = [host.detected.split(";")[0] if host.detected else f"catalog host {host.id}"]
    theoretical = host.mem_bw_bytes_per_s
    if theoretical is not None and read_bytes_per_s <= theoretical:
        record["memory_type"] = host.memory_type
        if host.published_bw_bytes_per_s is not None:
            record["mem_bw_gbps"] = round(host.published_bw_bytes_per_s / 1e9, 2)
        else:
            record["memory_channels"] = host.memory_channels
            record["memory_mts"] = host.memory_mts
    elif theoretical is not None:
        notes.append(above_note(theoretical))
    if host.read_family:
        record["read_family"] = host.read_family
    if host.ccds:
        record["ccds"] = host.ccds
    if host.ram_bytes is not None and not host.ram_assumed:  # not the catalog's reference size
        record["ram_gb"] = round(host.ram_bytes / 1e9, 2)
    if host.isa:
        record["isa"] = list(host.isa)
    if host.unified_memory:
        record["unified_memory"] = True
    record["mem_read_gbps"] = _gbps_down(read_bytes_per_s, decimals)
    if core_read_bytes_per_s is not None:
        record["core_read_gbps"] = _gbps_down(
            min(core_read_bytes_per_s, read_bytes_per_s), decimals
        )
    record["sources"] = [source, *host.sources]
    record["notes"] = "; ".join(notes)
    return record
