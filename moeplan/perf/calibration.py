"""Calibration files written by `moeplan profile`: schema, validation, and turning measured
rates into the latency model's Rates.

The latency model uses a measured point exactly, interpolates between points (linear in
log2 tokens) and holds the nearest efficiency outside the measured grid.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from dataclasses import dataclass
from typing import Any

from moeplan.errors import CalibrationError, MoeplanError
from moeplan.hardware.gpus import GPU
from moeplan.perf.engines import EngineProfile
from moeplan.perf.phases import Rates
from moeplan.yamlio import load_document

SCHEMA = "moeplan-calibration/1"


@dataclass(frozen=True)
class Calibration:
    path: str
    device_name: str
    catalog_id: str | None
    copy_bw_bytes_per_s: float
    gemm_flops: dict[str, float]  # best measured, by dtype
    moe_curve: tuple[tuple[float, float], ...]  # (tokens, fraction of spec bandwidth), best backend
    doc: dict[str, Any]

    def moe_fraction(self, tokens: float) -> float:
        return interpolate_log2(self.moe_curve, tokens)


def interpolate_log2(points: tuple[tuple[float, float], ...], x: float) -> float:
    """Exact at a measured x, linear in log2(x) between points, nearest value outside."""
    if not points:
        raise CalibrationError("empty efficiency curve")
    pts = sorted(points)
    if x <= pts[0][0]:
        return pts[0][1]
    if x >= pts[-1][0]:
        return pts[-1][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        if x0 <= x <= x1:
            if x == x0:
                return y0
            t = (math.log2(x) - math.log2(x0)) / (math.log2(x1) - math.log2(x0))
            return y0 + t * (y1 - y0)
    return pts[-1][1]  # pragma: no cover - the loop covers the range


def best_moe_curve(
    doc: dict[str, Any], where: str = "calibration"
) -> tuple[tuple[float, float], ...]:
    """Per token count, the best backend's achieved fraction of spec bandwidth (tokens >= 1,
    fraction > 0; anything else is a CalibrationError naming the field)."""
    best: dict[float, float] = {}
    moe = _mapping(doc, "moe", where)
    curves = _mapping(moe, "curves", where, "moe.")
    for backend, rows in curves.items():
        field = f"moe.curves.{backend}"
        if not isinstance(rows, list):
            raise CalibrationError(f"{where}: field '{field}' must be a list of rows")
        for i, row in enumerate(rows):
            at = f"{field}[{i}]"
            if not isinstance(row, dict):
                raise CalibrationError(f"{where}: field '{at}' must be a mapping")
            tokens = _number(row.get("tokens"), where, f"{at}.tokens")
            frac = _number(row.get("fraction_of_spec_bw"), where, f"{at}.fraction_of_spec_bw")
            if tokens < 1:
                raise CalibrationError(f"{where}: field '{at}.tokens' must be >= 1, got {tokens}")
            if frac <= 0:  # above 1 happens: caches on a CPU, a spec sheet that understates
                raise CalibrationError(
                    f"{where}: field '{at}.fraction_of_spec_bw' must be positive, got {frac}"
                )
            best[tokens] = max(best.get(tokens, 0.0), frac)
    return tuple(sorted(best.items()))


def _mapping(doc: dict[str, Any], key: str, where: str, prefix: str = "") -> dict[str, Any]:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CalibrationError(f"{where}: field '{prefix}{key}' must be a mapping")
    return value


def _number(value: Any, where: str, field: str) -> float:
    if isinstance(value, str):  # YAML 1.1 reads 1.0e12 (no sign after e) as a string
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CalibrationError(f"{where}: field '{field}' must be a number, got {value!r:.40}")
    if not math.isfinite(value) or value > 1e30:
        raise CalibrationError(f"{where}: field '{field}' must be finite, got {value}")
    return float(value)


def _check_positive(doc: Any, where: str, path: str = "") -> None:
    """No number anywhere in a calibration may be negative (or NaN)."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            _check_positive(v, where, f"{path}.{k}" if path else str(k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            _check_positive(v, where, f"{path}[{i}]")
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        if not math.isfinite(doc):
            raise CalibrationError(f"{where}: field '{path}' must be a finite number, got {doc}")
        if doc < 0:
            raise CalibrationError(f"{where}: field '{path}' must not be negative, got {doc}")


def parse_calibration(doc: Any, where: str) -> Calibration:
    if not isinstance(doc, dict):
        raise CalibrationError(f"{where}: not a calibration file (expected a mapping)")
    if doc.get("schema") != SCHEMA:
        raise CalibrationError(f"{where}: schema is {doc.get('schema')!r}, expected '{SCHEMA}'")
    _check_positive(doc, where)
    device = _mapping(doc, "device", where)
    measured = _mapping(doc, "measured", where)
    if measured.get("copy_bandwidth_bytes_per_s") is None:
        raise CalibrationError(f"{where}: missing field 'measured.copy_bandwidth_bytes_per_s'")
    copy_bw = _number(
        measured["copy_bandwidth_bytes_per_s"], where, "measured.copy_bandwidth_bytes_per_s"
    )
    if copy_bw <= 0:
        raise CalibrationError(
            f"{where}: field 'measured.copy_bandwidth_bytes_per_s' must be positive"
        )
    gemm = _mapping(measured, "gemm_flops", where, "measured.")
    flops = {str(k): _number(v, where, f"measured.gemm_flops.{k}") for k, v in gemm.items() if v}
    catalog_id = device.get("catalog_id")
    if catalog_id is not None and not isinstance(catalog_id, str):
        raise CalibrationError(f"{where}: field 'device.catalog_id' must be a string")
    return Calibration(
        where,
        str(device.get("name", "unknown")),
        catalog_id,
        copy_bw,
        flops,
        best_moe_curve(doc, where),
        doc,
    )


def load_calibration(path: str, gpu: GPU | None = None) -> Calibration:
    """Read and validate; with `gpu`, the file must be of that device."""
    try:
        doc = load_document(path, kind="calibration file")
    except MoeplanError as exc:
        raise CalibrationError(str(exc)) from None
    cal = parse_calibration(doc, path)
    if gpu is not None and cal.catalog_id != gpu.id:
        raise CalibrationError(
            f"{path}: calibration is for device '{cal.catalog_id or cal.device_name}', "
            f"not '{gpu.id}'"
        )
    return cal


def rates_from_calibration(cal: Calibration, gpu: GPU, engine: EngineProfile) -> Rates:
    """Measured copy bandwidth for weight/KV streams; the measured MoE curve (fraction of spec
    bandwidth by token count) for expert reads; measured GEMM FLOPS where profiled. Kernel and
    step overheads stay the engine's, less the MoE kernels the curve already holds."""
    spec_bw = gpu.mem_bw_bytes_per_s

    def expert_bw(tokens: float) -> float:
        return spec_bw * cal.moe_fraction(tokens) if cal.moe_curve else cal.copy_bw_bytes_per_s

    def flops(dtype: str) -> float | None:
        if dtype in cal.gemm_flops:
            return cal.gemm_flops[dtype]
        if gpu.bf16_flops is None:
            return cal.gemm_flops.get("bf16")
        return gpu.peak_flops(dtype) * engine.compute_efficiency

    return Rates(
        cal.copy_bw_bytes_per_s,
        expert_bw,
        flops,
        engine,
        f"calibration {cal.path}",
        moe_overhead_measured=bool(cal.moe_curve),
    )
