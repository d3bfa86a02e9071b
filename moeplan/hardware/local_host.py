"""`--host local`: the machine moeplan runs on, from what the Linux kernel reports (/proc/cpuinfo,
/proc/meminfo), matched to the host catalog by its CPU brand string (names.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from moeplan.errors import MoeplanError, UnknownNameError
from moeplan.hardware.hosts import Host, catalog_host

CPUINFO = Path("/proc/cpuinfo")
MEMINFO = Path("/proc/meminfo")
KIB = 1024


def _fields(path: Path) -> list[tuple[str, str]]:
    """The `key : value` lines of a /proc file, in order."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MoeplanError(
            f"--host local reads {path} (Linux only): {exc.strerror or exc}; pass --host NAME "
            "or the --host-* options"
        ) from None
    pairs = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            pairs.append((key.strip(), value.strip()))
    return pairs


def _whole(value: str, what: str, path: Path) -> int:
    head = next(iter(value.split()), "")
    if not head.isdigit() or int(head) < 1:
        raise MoeplanError(f"{path}: {what} '{value}' is not a positive whole number")
    return int(head)


FLAG_ISA = {
    "avx2": "avx2",
    "avx512f": "avx512",
    "amx_int8": "amx",
    "asimd": "neon",
    "sve": "sve",
    "sve2": "sve2",
}
"""/proc/cpuinfo flags (x86 `flags`, Arm `Features`) -> the host ISA names moeplan prices
(host_fields.HOST_ISA); AMX counts where its int8 tiles are present."""


def cpu_isa(cpu: list[tuple[str, str]]) -> tuple[str, ...]:
    """The extensions the first CPU's flag line names, in HOST_ISA's terms."""
    line = next((v for k, v in cpu if k in ("flags", "Features")), "")
    flags = set(line.split())
    return tuple(dict.fromkeys(isa for flag, isa in FLAG_ISA.items() if flag in flags))


def local_host(cpuinfo: Path = CPUINFO, meminfo: Path = MEMINFO) -> Host:
    """This machine: the catalog entry of the CPU its kernel names ("model name"), with the sockets
    ("physical id"s), RAM (MemTotal, what the kernel can hand out, a little under the DIMMs) and,
    where fewer than the part has (a VM), cores ("cpu cores") it reports; a CPU the catalog lacks
    becomes a host of its cores and RAM whose bandwidth --host-mem-gbps or
    --host-mem-measured-gbps supplies."""
    cpu = _fields(cpuinfo)
    models = [v for k, v in cpu if k == "model name" and v]
    if not models:
        raise MoeplanError(
            f"{cpuinfo}: no 'model name' line (an Arm kernel names no model); pass --host NAME "
            "or the --host-* options"
        )
    model = models[0]
    sockets = len({v for k, v in cpu if k == "physical id"}) or 1
    per_socket = [v for k, v in cpu if k == "cpu cores"]
    threads = sum(1 for k, _ in cpu if k == "processor")
    cores = (
        _whole(per_socket[0], "cpu cores", cpuinfo) if per_socket else max(1, threads // sockets)
    )
    mem = dict(_fields(meminfo))
    if "MemTotal" not in mem:
        raise MoeplanError(f"{meminfo}: no MemTotal line")
    ram_bytes = _whole(mem["MemTotal"], "MemTotal", meminfo) * KIB
    detected = f"detected: '{model}', {sockets} socket(s), MemTotal {ram_bytes / 1e9:.1f} GB"
    try:
        host = catalog_host(model)
    except UnknownNameError:
        return Host(
            id="local",
            name=model,
            vendor="",
            segment="user",
            cores_per_socket=cores,
            memory_type="DDR5",
            sockets=sockets,
            max_sockets=sockets,
            ram_bytes=ram_bytes,
            isa=cpu_isa(cpu),
            detected=f"{detected}; not in the catalog: its bandwidth from --host-mem-gbps",
        )
    if cores < host.cores_per_socket:
        # a VM slice or cores switched off: the threads that exist run (no P/E split left to apply)
        host = replace(host, cores_per_socket=cores, performance_cores=None)
        detected += f", {cores} cores a socket"
    return replace(
        host,
        sockets=sockets,
        max_sockets=max(host.max_sockets, sockets),
        ram_bytes=ram_bytes,
        ram_assumed=False,  # MemTotal, not the catalog entry's reference size
        detected=f"{detected}: the catalog's {host.id}",
    )


def available_ram_bytes(meminfo: Path = MEMINFO) -> int | None:
    """MemAvailable: what the kernel can hand a new allocation without swapping; None where
    /proc/meminfo is missing or names no such line (not Linux)."""
    try:
        mem = dict(_fields(meminfo))
    except MoeplanError:
        return None
    value = mem.get("MemAvailable", "").split()
    return int(value[0]) * KIB if value and value[0].isdigit() else None
