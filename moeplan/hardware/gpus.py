"""The GPU catalog (``moeplan/data/gpus.yaml``, built from shared/reference/gpus.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from moeplan.data import data_path
from moeplan.errors import MoeplanError
from moeplan.names import catalog_lookup
from moeplan.yamlio import load_packaged_yaml


@dataclass(frozen=True)
class Interconnect:
    kind: str  # nvlink, pcie, infinity-fabric, none
    per_direction_bytes_per_s: float


@dataclass(frozen=True)
class GPU:
    id: str
    name: str
    vendor: str
    memory_label_gb: float  # as marketed
    memory_bytes: int  # what the runtime can see (see memory_bytes_source)
    memory_bytes_source: str
    mem_bw_bytes_per_s: float
    bf16_flops: float | None  # dense
    fp8_flops: float | None
    int8_ops: float | None
    fp4_flops: float | None
    interconnect: Interconnect
    aliases: tuple[str, ...] = ()
    nvlink_domain_gpus: int = 8  # GPUs in one NVLink / Infinity Fabric domain (72 in NVL72)
    network_bytes_per_s: float = 400e9 / 8  # scale-out NIC per GPU (one 400G NIC by default)
    sources: tuple[str, ...] = ()
    pcie_gen: int | None = None  # host link, where the catalog gives it
    pcie_lanes: int | None = None
    sm_count: int | None = None  # streaming multiprocessors, where the catalog gives them

    def has_peak(self, compute: str) -> bool:
        """Whether the catalog gives this math datatype's own dense peak (else peak_flops falls
        back to BF16)."""
        own = {"fp8": self.fp8_flops, "fp4": self.fp4_flops, "int8": self.int8_ops}
        return bool(own.get(compute)) if compute in own else self.bf16_flops is not None

    def peak_flops(self, compute: str) -> float:
        """Dense tensor-core peak for a math datatype ("bf16", "fp8", "fp4", "int8"); a GPU
        without that datatype runs the GEMM at its BF16 peak (weights dequantized first)."""
        peak = {"fp8": self.fp8_flops, "fp4": self.fp4_flops, "int8": self.int8_ops}.get(compute)
        if peak:
            return peak
        if self.bf16_flops is None:
            raise MoeplanError(
                f"GPU '{self.id}': the catalog has no published BF16 TFLOPS; "
                "compute-bound estimates need one (pass --calibration)"
            )
        return self.bf16_flops


def _num(rec: dict[str, Any], key: str, scale: float) -> float | None:
    value = rec.get(key)
    return None if value is None else float(value) * scale


@lru_cache(maxsize=1)
def gpu_catalog() -> dict[str, GPU]:
    path = data_path("gpus.yaml")
    gpus = {}
    for rec in load_packaged_yaml(path, "moeplan/data/gpus.yaml")["gpus"]:
        link = rec["interconnect"]
        gpus[rec["id"]] = GPU(
            id=rec["id"],
            name=rec["name"],
            vendor=rec["vendor"],
            memory_label_gb=float(rec["memory_label_gb"]),
            memory_bytes=int(rec["memory_bytes"]),
            memory_bytes_source=rec["memory_bytes_source"],
            mem_bw_bytes_per_s=float(rec["mem_bw_gbps"]) * 1e9,
            bf16_flops=_num(rec, "bf16_tflops", 1e12),
            fp8_flops=_num(rec, "fp8_tflops", 1e12),
            int8_ops=_num(rec, "int8_tops", 1e12),
            fp4_flops=_num(rec, "fp4_tflops", 1e12),
            interconnect=Interconnect(link["kind"], float(link["per_direction_gbps"]) * 1e9),
            aliases=tuple(rec.get("aliases") or ()),
            nvlink_domain_gpus=int(rec.get("nvlink_domain_gpus", 8)),
            network_bytes_per_s=float(rec.get("network_gbps", 400)) * 1e9 / 8,
            sources=tuple(rec.get("sources") or ()),
            pcie_gen=(rec.get("pcie") or {}).get("gen"),
            pcie_lanes=(rec.get("pcie") or {}).get("lanes"),
            sm_count=rec.get("sm_count"),
        )
    return gpus


def resolve_gpu(name: str) -> GPU:
    """A catalog id, alias or name, or a path to a GPU YAML/JSON file (hardware/gpu_file.py)."""
    path = Path(name)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.is_file():
        from moeplan.hardware.gpu_file import load_gpu_file

        if not path.is_file():
            raise MoeplanError(f"{name}: no such GPU file")
        return load_gpu_file(path)
    return catalog_gpu(name)


def catalog_gpu(name: str) -> GPU:
    """A catalog GPU by id, alias or name."""
    return catalog_lookup("GPU", name, gpu_catalog())
