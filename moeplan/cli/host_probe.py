"""`moeplan profile --host-memory`: measure this machine's DRAM read bandwidth and write the host
file that `--host FILE` reads (profile/host_memory.py measures; hardware/host_record.py writes)."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from moeplan.errors import MoeplanError
from moeplan.hardware.hosts import Host

DEFAULT_BUFFER_BYTES = 4e9
"""Default buffer: 4 GB, over three times the largest L3 of one socket in the catalog (EPYC 9684X,
1152 MB), so a pass reads DRAM, not cache; at most half of what the kernel says is available."""

QUICK_BUFFER_BYTES = 1e9
MIN_BUFFER_BYTES = 0.5e9
"""Below half a GB a desktop's L3 (up to 128 MB a CCD pair on X3D parts) holds a large share of the
buffer and the figure is the caches', not the DRAM's."""

DEFAULT_PASSES = 5
QUICK_PASSES = 3


@dataclass(frozen=True)
class HostProbeOptions:
    output: str | None
    force: bool
    threads: int | None
    buffer_gb: float | None
    passes: int | None
    quick: bool


def this_machine() -> Host:
    """--host local, or where the kernel names no CPU model (an Arm board, not Linux) a host of
    the usable CPUs whose RAM comes from --host-ram-gb later."""
    from moeplan.hardware.local_host import local_host
    from moeplan.profile.host_memory import usable_cpus

    try:
        return local_host()
    except MoeplanError as exc:
        return Host(
            id="local",
            name="this machine",
            vendor="",
            segment="user",
            cores_per_socket=len(usable_cpus()),
            memory_type="DDR5",
            detected=f"not identified ({exc}); cores = the CPUs this process may use",
        )


def _buffer_bytes(opts: HostProbeOptions) -> int:
    from moeplan.hardware.local_host import available_ram_bytes

    available = available_ram_bytes()
    if opts.buffer_gb is not None:
        if not math.isfinite(opts.buffer_gb) or opts.buffer_gb * 1e9 < MIN_BUFFER_BYTES:
            raise MoeplanError(
                f"--buffer-gb must be at least {MIN_BUFFER_BYTES / 1e9:g} (a smaller buffer is "
                f"read from the caches), got {opts.buffer_gb}"
            )
        if available is not None and opts.buffer_gb * 1e9 > available:
            raise MoeplanError(
                f"--buffer-gb {opts.buffer_gb:g} is more than the {available / 1e9:.1f} GB "
                "this machine has available"
            )
        return int(opts.buffer_gb * 1e9)
    wanted = QUICK_BUFFER_BYTES if opts.quick else DEFAULT_BUFFER_BYTES
    if available is not None:
        wanted = min(wanted, available / 2)
    if wanted < MIN_BUFFER_BYTES:
        raise MoeplanError(
            f"only {(available or 0) / 1e9:.1f} GB of RAM available: the read probe needs "
            f"{2 * MIN_BUFFER_BYTES / 1e9:g} GB free"
        )
    return int(wanted)


def run_host_probe(opts: HostProbeOptions, fmt: str) -> None:
    """Measure, write the host file, print what was measured beside the catalog's estimate."""
    from moeplan.cli.output import check_output, write_atomic
    from moeplan.cli.render import emit
    from moeplan.cli.views.host_memory import host_probe_json, host_probe_table
    from moeplan.hardware.host_record import measured_host_record
    from moeplan.profile.host_memory import measure_read, usable_cpus
    from moeplan.yamlio import dump_yaml

    cpus = len(usable_cpus())
    threads = cpus if opts.threads is None else opts.threads
    if not 1 <= threads <= 4 * cpus:
        raise MoeplanError(
            f"--threads must be 1 to {4 * cpus} (this process may use {cpus} CPUs), got {threads}"
        )
    passes = opts.passes
    if passes is None:
        passes = QUICK_PASSES if opts.quick else DEFAULT_PASSES
    if passes < 1:
        raise MoeplanError(f"--repeats must be positive, got {passes}")
    buffer_bytes = _buffer_bytes(opts)
    host = this_machine()
    path = check_output(opts.output or f"host-{host.id}.yaml", (), opts.force)
    probe = measure_read(threads, buffer_bytes, passes)
    # one core alone (its misses in flight bound it); with --threads 1 that was the first probe
    core = probe if threads == 1 else measure_read(1, buffer_bytes, passes)
    read = probe.read_bytes_per_s
    for figure in (read, core.read_bytes_per_s):
        if not math.isfinite(figure) or figure < 1e9:
            raise MoeplanError(
                f"the read probe measured {figure / 1e9:.3g} GB/s, under 1 GB/s: not a DRAM rate "
                "(a loaded or throttled machine?); nothing written"
            )
    when = datetime.date.today().isoformat()
    source = (
        f"measured on this machine by moeplan profile --host-memory, {when}: median of {passes} "
        f"read passes, {threads} threads, {probe.buffer_bytes / 1e9:.2f} GB buffer"
    )
    record = measured_host_record(host, read, source, core.read_bytes_per_s)
    write_atomic(path, dump_yaml({"host": record}))
    emit(
        [host_probe_table(host, probe, core, record, str(path))],
        fmt,
        host_probe_json(host, probe, core, record, str(path)),
    )
