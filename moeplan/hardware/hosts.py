"""The host catalog (``moeplan/data/hosts.yaml``): CPUs and their RAM for expert offload, a user's
own machine from a YAML file, explicit overrides, and the PCIe link between host and GPU."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from moeplan.data import data_path
from moeplan.errors import MoeplanError
from moeplan.hardware.host_fields import (
    HOST_FIELD_CEILINGS,
    HOST_FIELDS,
    HOST_ISA,
    bounds_error,
)
from moeplan.hardware.host_read import (
    MEASURED_READ_FRACTIONS,
    ccd_read_limit_bytes_per_s,
    unmeasured_read_fraction,
)
from moeplan.names import catalog_lookup
from moeplan.yamlio import load_fields, load_packaged_yaml

DDR_CHANNEL_BYTES = 8
"""Bytes per transfer of one DDR4/DDR5 channel: 64 data bits (DDR5 splits them into two 32-bit
subchannels; the total per DIMM channel is unchanged)."""

GIB = 1 << 30

PCIE_GT_PER_S = {3: 8.0, 4: 16.0, 5: 32.0}
"""PCIe 3.0/4.0/5.0 signalling rate per lane (GT/s); all three use 128b/130b encoding, so Gen5 x16
carries 32 x 16 x 128/130 / 8 = 63.0 GB/s per direction ("PCIe Gen5 x16 is ~64 GB/s per
direction", https://ai-infrastructure.net/grace-cpu/)."""

PCIE_ENCODING = 128 / 130

HOST_OPTIONS = (
    "--host NAME|FILE, --host-mem-gbps, --host-mem-measured-gbps, --host-ram-gb, --host-cores"
)


def pcie_bytes_per_s(gen: int, lanes: int) -> float:
    """One direction of a PCIe link: GT/s per lane x lanes x 128/130 encoding / 8 bits."""
    if gen not in PCIE_GT_PER_S:
        raise MoeplanError(f"PCIe generation must be one of {sorted(PCIE_GT_PER_S)}, got {gen}")
    if lanes not in (1, 2, 4, 8, 16):
        raise MoeplanError(f"PCIe lanes must be 1, 2, 4, 8 or 16, got {lanes}")
    return PCIE_GT_PER_S[gen] * 1e9 * lanes * PCIE_ENCODING / 8


def ddr_bandwidth_bytes_per_s(channels: int, mts: float, sockets: int = 1) -> float:
    """Theoretical DRAM bandwidth: sockets x channels x MT/s x 8 bytes (a 64-bit channel)."""
    return sockets * channels * mts * 1e6 * DDR_CHANNEL_BYTES


@dataclass(frozen=True)
class Host:
    id: str
    name: str
    vendor: str
    segment: str  # server, workstation, desktop, unified, superchip, user
    cores_per_socket: int
    memory_type: str
    performance_cores: int | None = None  # per socket, on hybrid CPUs (P-cores of P + E designs)
    p_core_smt: bool = True  # hybrid x86: each P-core runs two threads (Arrow Lake: one)
    sockets: int = 1
    max_sockets: int = 1
    memory_channels: int | None = None  # DDR channels per socket
    memory_mts: float | None = None  # supported transfer rate
    published_bw_bytes_per_s: float | None = None  # per socket, where the vendor publishes it
    bw_override_bytes_per_s: float | None = None  # --host-mem-gbps: the whole machine
    read_family: str | None = None  # key of MEASURED_READ_FRACTIONS
    ccds: int | None = None  # per socket: Ryzen CCDs, each read through one GMI link
    read_override_bytes_per_s: float | None = None  # --host-mem-measured-gbps: whole machine
    core_read_bytes_per_s: float | None = None  # one core reading alone, measured (host file)
    ram_bytes: int | None = None
    isa: tuple[str, ...] = ()
    unified_memory: bool = False
    aliases: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    notes: str = ""
    detected: str = ""  # --host local: what the kernel reported (hardware/local_host.py)
    ram_assumed: bool = False  # ram_bytes is the catalog's reference size, not this machine's

    @property
    def cores(self) -> int:
        return self.cores_per_socket * self.sockets

    @property
    def mem_bw_bytes_per_s(self) -> float | None:
        """Theoretical bandwidth of all sockets: the override, else the vendor figure, else the
        DDR formula; None when the catalog has no verified speed."""
        if self.bw_override_bytes_per_s is not None:
            return self.bw_override_bytes_per_s
        if self.published_bw_bytes_per_s is not None:
            return self.published_bw_bytes_per_s * self.sockets
        if self.memory_channels and self.memory_mts:
            return ddr_bandwidth_bytes_per_s(self.memory_channels, self.memory_mts, self.sockets)
        return None

    @property
    def read_fraction(self) -> tuple[float, str]:
        """Measured read fraction of theoretical bandwidth for the host's family, and its source
        (MEASURED_READ_FRACTIONS), else the unmeasured median."""
        if self.read_family in MEASURED_READ_FRACTIONS:
            return MEASURED_READ_FRACTIONS[self.read_family]
        return unmeasured_read_fraction(), "assumed: median of measured platforms"

    @property
    def read_bw_bytes_per_s(self) -> float | None:
        """Achievable read bandwidth of all sockets, the one formula: a measured figure given for
        the machine, else theoretical x the platform's measured read fraction, capped on Ryzen
        by its CCD links (ccd_read_limit_bytes_per_s); None without a theoretical figure."""
        if self.read_override_bytes_per_s is not None:
            return self.read_override_bytes_per_s
        theoretical = self.mem_bw_bytes_per_s
        if theoretical is None:
            return None
        reach = theoretical * self.read_fraction[0]
        if self.ccds:
            reach = min(reach, ccd_read_limit_bytes_per_s(self.ccds * self.sockets))
        return reach

    @property
    def has_amx(self) -> bool:
        return "amx" in self.isa

    def require_complete(self) -> None:
        """Offload needs a bandwidth and a RAM size; say which option supplies a missing one."""
        if self.read_bw_bytes_per_s is None:
            where = (
                f"({self.detected.split(';')[0]}) is not in the catalog"
                if self.detected
                else "is a file with no memory_channels + memory_mts or mem_bw_gbps"
                if self.segment == "user"
                else "has no verified memory speed in the catalog"
            )
            raise MoeplanError(
                f"host '{self.id}' {where}; pass "
                "--host-mem-gbps (GB/s of bytes, channels x MT/s x 8 / 1000) or "
                "--host-mem-measured-gbps, or on that machine run `moeplan profile "
                "--host-memory` and pass --host FILE"
            )
        if self.ram_bytes is None:
            raise MoeplanError(f"host '{self.id}': RAM size unknown; pass --host-ram-gb")


def _smt(rec: dict[str, Any], where: str) -> bool:
    """A host record's `p_core_smt` (hybrid x86: P-cores with two threads each; default true)."""
    value = rec.get("p_core_smt", True)
    if not isinstance(value, bool):
        raise MoeplanError(f"{where}: field 'p_core_smt' must be true or false")
    return value


def _texts(rec: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    """A host record's list of texts (`aliases`, `sources`); a number or a mapping in it (YAML
    reads "text (a: b)" as a mapping) is refused."""
    value = rec.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise MoeplanError(
            f"{where}: field '{key}' must be a list of texts (quote an item that holds ': ')"
        )
    return tuple(str(v) for v in value)


def _host_from_record(rec: dict[str, Any], where: str) -> Host:
    def need(key: str, kind: type) -> Any:
        value = rec.get(key)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            article = "an" if kind.__name__[0] in "aeiou" else "a"
            raise MoeplanError(f"{where}: field '{key}' must be {article} {kind.__name__}")
        return value

    def number(key: str) -> float | None:
        value = rec.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise MoeplanError(f"{where}: field '{key}' must be a positive number, got {value!r}")
        bad = bounds_error(f"field '{key}'", value, key)
        if bad:
            raise MoeplanError(f"{where}: {bad}")
        return float(value)

    def whole(key: str) -> int | None:
        value = number(key)
        if value is not None and not value.is_integer():
            raise MoeplanError(f"{where}: field '{key}' must be a whole number, got {value:g}")
        return None if value is None else int(value)

    unknown = sorted(str(k) for k in rec if k not in HOST_FIELDS)
    if unknown:
        raise MoeplanError(
            f"{where}: unknown field '{unknown[0]}' (fields: {', '.join(sorted(HOST_FIELDS))})"
        )
    isa = tuple(str(i).lower() for i in rec.get("isa") or ())
    odd = [i for i in isa if i not in HOST_ISA]
    if odd:
        known = ", ".join(sorted(HOST_ISA))
        raise MoeplanError(f"{where}: isa '{odd[0]}' unknown (one of {known})")
    need("cores", int)
    cores = whole("cores") or 0
    sockets = whole("sockets") or 1
    channels = whole("memory_channels")
    ram_gib = number("ram_gib")
    ram_gb = number("ram_gb")
    dimm_gib = number("dimm_gib")
    if ram_gb is not None:
        ram_bytes: int | None = int(ram_gb * 1e9)
    elif ram_gib is not None:
        ram_bytes = int(ram_gib * GIB)
    elif dimm_gib is not None and channels is not None:
        ram_bytes = int(dimm_gib * channels * sockets * GIB)
    else:
        ram_bytes = None
    bw = number("mem_bw_gbps")
    read = number("mem_read_gbps")
    core_read = number("core_read_gbps")
    family = rec.get("read_family")
    if family is not None and family not in MEASURED_READ_FRACTIONS:
        raise MoeplanError(
            f"{where}: read_family '{family}' unknown (one of {', '.join(MEASURED_READ_FRACTIONS)})"
        )
    p_cores = whole("performance_cores")
    if p_cores is not None and p_cores > cores:
        raise MoeplanError(f"{where}: performance_cores ({p_cores}) exceeds cores ({cores})")
    host = Host(
        id=str(rec.get("id") or Path(where).stem),
        name=str(rec.get("name") or rec.get("id") or Path(where).stem),
        vendor=str(rec.get("vendor") or ""),
        segment=str(rec.get("segment") or "user"),
        cores_per_socket=cores,
        memory_type=str(rec.get("memory_type") or "DDR5"),
        performance_cores=p_cores,
        p_core_smt=_smt(rec, where),
        sockets=sockets,
        max_sockets=whole("max_sockets") or sockets,
        memory_channels=channels,
        memory_mts=number("memory_mts"),
        published_bw_bytes_per_s=bw * 1e9 if bw else None,
        read_family=family,
        ccds=whole("ccds"),
        read_override_bytes_per_s=read * 1e9 if read else None,
        core_read_bytes_per_s=core_read * 1e9 if core_read else None,
        ram_bytes=ram_bytes,
        isa=isa,
        unified_memory=bool(rec.get("unified_memory", False)),
        aliases=tuple(a.lower() for a in _texts(rec, "aliases", where)),
        sources=_texts(rec, "sources", where),
        notes=str(rec.get("notes") or ""),
    )
    _check_read(host, where)
    return host


def _check_read(host: Host, where: str) -> None:
    """A measured read bandwidth cannot exceed the theoretical one, nor one core's read the whole
    machine's (a typo, or the two swapped)."""
    read, theoretical = host.read_override_bytes_per_s, host.mem_bw_bytes_per_s
    core = host.core_read_bytes_per_s
    whole = read if read is not None else theoretical
    if core is not None and whole is not None and core > whole:
        raise MoeplanError(
            f"{where}: one core's read {core / 1e9:g} GB/s exceeds the whole machine's "
            f"{whole / 1e9:g} GB/s"
        )
    if read is not None and theoretical is not None and read > theoretical:
        raise MoeplanError(
            f"{where}: measured read bandwidth {read / 1e9:g} GB/s exceeds the theoretical "
            f"{theoretical / 1e9:g} GB/s (channels x MT/s x 8 bytes)"
        )


@lru_cache(maxsize=1)
def host_catalog() -> dict[str, Host]:
    hosts = {}
    for rec in load_packaged_yaml(data_path("hosts.yaml"), "moeplan/data/hosts.yaml")["hosts"]:
        host = _host_from_record(rec, f"moeplan/data/hosts.yaml: host '{rec.get('id')}'")
        hosts[host.id] = replace(host, ram_assumed=host.ram_bytes is not None)
    return hosts


def load_host_file(path: Path) -> Host:
    """A user's machine: the catalog's fields (cores per socket, sockets, memory_channels,
    memory_mts or mem_bw_gbps, ram_gb in decimal GB or ram_gib, isa), top level or under `host:`.
    memory_mts / mem_bw_gbps are theoretical; mem_read_gbps is a measured read bandwidth of the
    whole machine (STREAM, mlc, AIDA64 read) and replaces theoretical x read fraction."""
    doc, where = load_fields(path, "host", "cores, memory_channels")
    return _host_from_record(doc, where)


def resolve_host(name: str) -> Host:
    """A catalog id, alias or brand string, `local` (this machine: hardware/local_host.py), or a
    path to a host YAML file."""
    if name.strip().lower() == "local":
        from moeplan.hardware.local_host import local_host

        return local_host()
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if path.is_dir():
            raise MoeplanError(f"{name}: a directory, not a host file")
        if not path.is_file():
            raise MoeplanError(f"{name}: no such host file")
        return load_host_file(path)
    return catalog_host(name)


def catalog_host(name: str) -> Host:
    """A catalog host by id, alias, name or brand string (names.py catalog_lookup)."""
    return catalog_lookup("host", name, host_catalog())


def custom_host() -> Host:
    """A host described only by the override options."""
    return Host(
        id="custom",
        name="host from options",
        vendor="",
        segment="user",
        cores_per_socket=0,
        memory_type="DDR5",
    )


def with_overrides(
    host: Host,
    mem_gbps: float | None = None,
    ram_gb: float | None = None,
    cores: int | None = None,
    sockets: int | None = None,
    mem_measured_gbps: float | None = None,
) -> Host:
    """Explicit figures replace the catalog's: theoretical bandwidth in GB/s of bytes (whole
    machine; the platform's read fraction still applies), a measured read bandwidth (used as is),
    RAM in decimal GB, total cores, sockets (bandwidth and RAM of a catalog host scale with
    sockets)."""
    for label, field, value in (
        ("host-mem-gbps", "mem_bw_gbps", mem_gbps),
        ("host-mem-measured-gbps", "mem_read_gbps", mem_measured_gbps),
        ("host-ram-gb", "ram_gb", ram_gb),
        ("host-cores", "cores", cores),
        ("host-sockets", "sockets", sockets),
    ):
        if value is None:
            continue
        if not math.isfinite(value) or value <= 0:
            raise MoeplanError(f"--{label} must be positive, got {value}")
        ceiling = HOST_FIELD_CEILINGS[field] * (16 if field == "cores" else 1)
        if value > ceiling:
            raise MoeplanError(f"--{label} is {value:g}, above {ceiling:g}")
        bad = bounds_error(f"--{label}", value, field)
        if bad:
            raise MoeplanError(bad)
    if sockets is not None:
        if sockets > max(host.max_sockets, 1) and host.segment != "user":
            raise MoeplanError(
                f"--host-sockets {sockets}: host '{host.id}' supports at most "
                f"{host.max_sockets} socket(s)"
            )
        ram = host.ram_bytes
        if ram is not None:
            ram = ram // host.sockets * sockets
        host = replace(host, sockets=sockets, ram_bytes=ram)
    if cores is not None:
        # the given cores are the ones that compute: no P/E split left to apply
        host = replace(host, cores_per_socket=max(1, cores // host.sockets), performance_cores=None)
    if mem_gbps is not None:
        host = replace(host, bw_override_bytes_per_s=mem_gbps * 1e9)
    if mem_measured_gbps is not None:
        host = replace(host, read_override_bytes_per_s=mem_measured_gbps * 1e9)
    _check_read(host, "--host-mem-measured-gbps")
    if ram_gb is not None:
        host = replace(host, ram_bytes=int(ram_gb * 1e9), ram_assumed=False)
    if host.cores_per_socket < 1:
        raise MoeplanError(f"host '{host.id}': core count unknown; pass --host-cores")
    return host
