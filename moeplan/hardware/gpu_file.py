"""A user's GPU from a YAML (or JSON) file: a card the catalog lacks (an RTX 3070, a 20 GB RTX
3080 from a modder) or a catalog card with other figures (a 48 GB RTX 4090). `--gpu FILE` takes
it wherever a GPU id goes; the figures are validated here, at the edge, like a host file's
(hardware/hosts.py load_host_file).

Fields, top level or under `gpu:`:

- `base`: a catalog GPU id whose figures the file starts from; every other field overrides it.
- `memory_mib` (what nvidia-smi / llama.cpp's device log call the total), `memory_gib` or
  `memory_gb` (decimal): the memory the runtime sees. One of them, unless `base` gives it.
- `mem_bw_gbps`: memory bandwidth, GB/s. Required unless `base` gives it.
- `bf16_tflops`, `fp8_tflops`, `int8_tops`, `fp4_tflops`: dense tensor peaks (optional: without
  BF16 a compute-bound estimate asks for one).
- `vendor` (NVIDIA, AMD, Apple, Intel; default NVIDIA), `name`, `id`, `sm_count`,
  `pcie_gen` and `pcie_lanes` (the host link; without `base`, PCIe Gen4 x16 unless given),
  `sources` (a list of strings: where the figures come from).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import GPU, Interconnect, catalog_gpu
from moeplan.hardware.hosts import pcie_bytes_per_s
from moeplan.yamlio import load_fields

MIB = 1 << 20
GIB = 1 << 30

GPU_FILE_FIELDS = frozenset(
    {
        "base",
        "id",
        "name",
        "vendor",
        "memory_mib",
        "memory_gib",
        "memory_gb",
        "mem_bw_gbps",
        "bf16_tflops",
        "fp8_tflops",
        "int8_tops",
        "fp4_tflops",
        "sm_count",
        "pcie_gen",
        "pcie_lanes",
        "sources",
        "notes",
    }
)

GPU_FIELD_CEILINGS = {
    "memory_mib": 4096 * 1024,
    "memory_gib": 4096,
    "memory_gb": 4400,
    "mem_bw_gbps": 100_000,
    "bf16_tflops": 100_000,
    "fp8_tflops": 100_000,
    "int8_tops": 100_000,
    "fp4_tflops": 100_000,
    "sm_count": 10_000,
    "pcie_gen": 7,
    "pcie_lanes": 32,
}
"""Plausibility ceilings: a value above one is a typo (an extra zero), refused with one line."""

VENDORS = ("NVIDIA", "AMD", "Apple", "Intel")
"""Vendors the engines price (a vendor picks the backend's per-kernel cost and FA kernel)."""

PCIE_GENS = (3, 4, 5, 6)
PCIE_LANES = (1, 2, 4, 8, 16)
DEFAULT_FILE_PCIE = (4, 16)
"""A file without `base` or a link: PCIe Gen4 x16, the consumer cards' link since 2020."""


def _number(rec: dict[str, Any], key: str, where: str) -> float | None:
    value = rec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MoeplanError(f"{where}: field '{key}' must be a number, got {value!r}")
    if value <= 0:
        raise MoeplanError(f"{where}: field '{key}' must be positive, got {value:g}")
    ceiling = GPU_FIELD_CEILINGS[key]
    if value > ceiling:
        raise MoeplanError(f"{where}: field '{key}' is {value:g}, above {ceiling:g}")
    return float(value)


def _whole(rec: dict[str, Any], key: str, where: str, allowed: tuple[int, ...] = ()) -> int | None:
    value = _number(rec, key, where)
    if value is None:
        return None
    if not value.is_integer() or (allowed and int(value) not in allowed):
        wanted = f"one of {', '.join(map(str, allowed))}" if allowed else "a whole number"
        raise MoeplanError(f"{where}: field '{key}' must be {wanted}, got {value:g}")
    return int(value)


def _memory_bytes(rec: dict[str, Any], where: str) -> int | None:
    given = [k for k in ("memory_mib", "memory_gib", "memory_gb") if rec.get(k) is not None]
    if len(given) > 1:
        raise MoeplanError(f"{where}: give one of {', '.join(given)}, not several")
    if not given:
        return None
    value = _number(rec, given[0], where)
    assert value is not None
    scale = {"memory_mib": MIB, "memory_gib": GIB, "memory_gb": 1e9}[given[0]]
    return int(value * scale)


def gpu_from_record(rec: dict[str, Any], where: str) -> GPU:
    """A GPU from a file's fields (module docstring), on `base`'s figures where it names one."""
    unknown = sorted(set(rec) - GPU_FILE_FIELDS)
    if unknown:
        raise MoeplanError(
            f"{where}: unknown field(s) {', '.join(unknown)} (known: "
            f"{', '.join(sorted(GPU_FILE_FIELDS))})"
        )
    base_name = rec.get("base")
    if base_name is not None and not isinstance(base_name, str):
        raise MoeplanError(f"{where}: field 'base' must be a catalog GPU id")
    base = catalog_gpu(base_name) if base_name else None
    memory = _memory_bytes(rec, where)
    bandwidth = _number(rec, "mem_bw_gbps", where)
    if base is None and (memory is None or bandwidth is None):
        raise MoeplanError(
            f"{where}: a GPU file needs memory_mib (or memory_gib / memory_gb) and mem_bw_gbps, "
            "or a 'base' catalog GPU to start from"
        )
    vendor = rec.get("vendor")
    if vendor is not None and (
        not isinstance(vendor, str) or vendor.lower() not in {v.lower() for v in VENDORS}
    ):
        raise MoeplanError(f"{where}: field 'vendor' must be one of {', '.join(VENDORS)}")
    for key in ("id", "name", "notes"):
        if rec.get(key) is not None and not isinstance(rec[key], str):
            raise MoeplanError(f"{where}: field '{key}' must be text")
    sources = rec.get("sources") or []
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise MoeplanError(f"{where}: field 'sources' must be a list of text")
    stem = Path(where).stem
    gen = _whole(rec, "pcie_gen", where, PCIE_GENS)
    lanes = _whole(rec, "pcie_lanes", where, PCIE_LANES)
    link = (gen or DEFAULT_FILE_PCIE[0], lanes or DEFAULT_FILE_PCIE[1])
    gpu = base or GPU(
        id=stem,
        name=stem,
        vendor="NVIDIA",
        memory_label_gb=0.0,
        memory_bytes=0,
        memory_bytes_source="",
        mem_bw_bytes_per_s=0.0,
        bf16_flops=None,
        fp8_flops=None,
        int8_ops=None,
        fp4_flops=None,
        interconnect=Interconnect("pcie", pcie_bytes_per_s(*link)),
        pcie_gen=link[0],
        pcie_lanes=link[1],
    )
    changes: dict[str, Any] = {"id": str(rec.get("id") or stem), "aliases": ()}
    changes["name"] = str(rec.get("name") or (f"{gpu.name} ({stem})" if base else stem))
    if vendor is not None:
        changes["vendor"] = next(v for v in VENDORS if v.lower() == vendor.lower())
    if memory is not None:
        changes["memory_bytes"] = memory
        changes["memory_label_gb"] = round(memory / 1e9, 1)
        changes["memory_bytes_source"] = f"{where} (user file)"
    if bandwidth is not None:
        changes["mem_bw_bytes_per_s"] = bandwidth * 1e9
    for key, field, scale in (
        ("bf16_tflops", "bf16_flops", 1e12),
        ("fp8_tflops", "fp8_flops", 1e12),
        ("int8_tops", "int8_ops", 1e12),
        ("fp4_tflops", "fp4_flops", 1e12),
    ):
        value = _number(rec, key, where)
        if value is not None:
            changes[field] = value * scale
    sm = _whole(rec, "sm_count", where)
    if sm is not None:
        changes["sm_count"] = sm
    if base is not None and (gen, lanes) != (None, None):
        changes["pcie_gen"] = gen or base.pcie_gen or DEFAULT_FILE_PCIE[0]
        changes["pcie_lanes"] = lanes or base.pcie_lanes or DEFAULT_FILE_PCIE[1]
    changes["sources"] = (*gpu.sources, *sources) if base else tuple(sources)
    return replace(gpu, **changes)


def load_gpu_file(path: Path) -> GPU:
    """The GPU a user's file describes (module docstring)."""
    doc, where = load_fields(path, "gpu", "memory_mib, mem_bw_gbps")
    return gpu_from_record(doc, where)
