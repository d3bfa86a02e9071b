"""What a host record may say and the plausible range of its numbers: the fields a host YAML
may have, the vector/matrix extensions moeplan knows, and the ceilings and floors past which a
value is a typo or a unit slip (hosts.py reads records against them)."""

from __future__ import annotations

HOST_FIELD_CEILINGS: dict[str, float] = {
    "cores": 1024,  # per socket; the largest server CPUs have 192-288 cores
    "sockets": 16,
    "max_sockets": 16,
    "memory_channels": 64,  # per socket; 12 on current EPYC/Xeon
    "memory_mts": 20_000,
    "mem_bw_gbps": 100_000,
    "mem_read_gbps": 100_000,
    "core_read_gbps": 1_000,
    "ccds": 64,
    "ram_gb": 1e6,
    "ram_gib": 1e6,
    "dimm_gib": 4096,
}
"""Plausibility ceilings for a host file's fields: a value above one is a typo (an extra zero),
refused with one line rather than planned on."""

HOST_FIELD_FLOORS: dict[str, float] = {
    "memory_mts": 100,  # DDR-266 was the slowest DDR
    "mem_bw_gbps": 1.0,
    "mem_read_gbps": 1.0,
    "core_read_gbps": 0.5,
    "ram_gb": 0.5,
    "ram_gib": 0.5,
    "dimm_gib": 0.5,
}
"""Plausibility floors: a bandwidth under 1 GB/s or RAM under half a GB is a unit slip (GB/s
written as TB/s, MB as GB), refused rather than priced into hours a token."""

HOST_FIELDS = frozenset(
    {
        "id", "name", "vendor", "segment", "cores", "memory_type", "performance_cores",
        "p_core_smt", "sockets", "max_sockets", "memory_channels", "memory_mts", "mem_bw_gbps",
        "mem_read_gbps", "core_read_gbps", "read_family", "ccds", "ram_gb", "ram_gib",
        "dimm_gib", "isa", "unified_memory", "aliases", "sources", "notes",
    }
)  # fmt: skip
"""The fields a host record may have; any other key in a user's file is a typo, refused."""

HOST_ISA = frozenset({"avx2", "avx512", "amx", "neon", "sve", "sve2"})
"""Vector and matrix extensions moeplan prices (avx2 / avx512 int8 rates, amx tiles; Arm's
neon / sve / sve2 are named, not priced)."""


def bounds_error(label: str, value: float, field: str) -> str | None:
    """Why `value` of `field` is implausible (above its ceiling, below its floor), or None."""
    ceiling = HOST_FIELD_CEILINGS.get(field)
    if ceiling is not None and value > ceiling:
        return f"{label} is {value:g}, above {ceiling:g}"
    floor = HOST_FIELD_FLOORS.get(field)
    if floor is not None and value < floor:
        return f"{label} is {value:g}, below {floor:g} (a unit slip?)"
    return None
