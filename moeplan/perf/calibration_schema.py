"""Calibration files written by `moeplan profile`: the parsed form (Calibration) and the
validation of schema 2 and schema 1 documents. Every refusal is one CalibrationError naming the
file and the field.

Schema 2 (`moeplan-calibration/2`), what the estimator reads:
  measured.copy_bandwidth_bytes_per_s   weights and KV streams (required)
  measured.gemm_flops.<dtype>           dense GEMM FLOP/s where profiled
  moe.efficiency.<dtype>: [{bytes_per_expert, model, points: [{tokens_per_expert,
                          fraction_of_spec_bw, ...}]}]     one curve per expert size
  attention.decode:  [{kv_bytes, fraction_of_spec_bw, ...}]      by KV bytes per layer call
  attention.prefill: [{tokens, fraction_of_peak_flops, ...}]     by query tokens per sequence
  collectives:       [{kernel, world_size, bytes, seconds, ...}] per-call time by message bytes
Curve keys strictly increase; fractions lie in (0, 1]; dtypes are those of DTYPE_BITS.
Everything else in the file (raw rows, per-backend curves, notes) is provenance.

Schema 1 (`moeplan-calibration/1`) still loads: its one MoE curve (moe.curves, the best backend
per token count, measured on one shape in the layer's dtype) is applied by layer token count to
every weight dtype and expert size, as before; its attention and collective rows are not read.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any

from moeplan.errors import CalibrationError

from .calibration_curves import (
    DTYPE_ALIASES,
    DTYPE_BITS,
    Lookup,
    MoECurve,
    Points,
    calibration_dtype,
    collective_seconds,
    curve_lookup,
    interpolate_log2,
    moe_lookup,
)

SCHEMA = "moeplan-calibration/2"
SCHEMA_V1 = "moeplan-calibration/1"
BW_FRACTION = "fraction_of_spec_bw"
COLLECTIVE_KERNELS = ("all_reduce", "all_to_all")
V1_NOTE = (
    "calibration schema 1: its one MoE curve (by layer token count, one bf16 shape) is applied "
    "to every weight dtype and expert size; its attention and collective rows are not read"
)


@dataclass(frozen=True)
class Calibration:
    path: str
    device_name: str
    catalog_id: str | None
    copy_bw_bytes_per_s: float
    gemm_flops: dict[str, float]  # best measured, by dtype
    moe_curves: tuple[MoECurve, ...] = ()
    attention_decode: Points = ()  # (KV bytes per layer call, fraction of spec bandwidth)
    attention_prefill: Points = ()  # (query tokens per sequence, fraction of spec BF16 peak)
    collectives: dict[tuple[str, int], Points] = field(default_factory=dict)  # (bytes, seconds)
    spec_bf16_flops: float | None = None  # the file's reference peak for attention_prefill
    schema_version: int = 2
    notes: tuple[str, ...] = ()
    doc: dict[str, Any] = field(default_factory=dict)

    @property
    def moe_curve(self) -> Points:
        """Schema 1's curve (by layer tokens), else the widest dtype's largest-expert curve."""
        if not self.moe_curves:
            return ()
        legacy = [c for c in self.moe_curves if c.legacy]
        if legacy:
            return legacy[0].points
        return max(self.moe_curves, key=lambda c: (DTYPE_BITS[c.dtype], c.bytes_per_expert)).points

    def moe_fraction(self, tokens: float) -> float:
        """Schema 1's lookup by layer token count (profile --compare on schema 1 files)."""
        return interpolate_log2(self.moe_curve, tokens)

    def moe(
        self, weight_format: str, bytes_per_expert: float, tokens_per_expert: float, tokens: float
    ) -> Lookup | None:
        return moe_lookup(
            self.moe_curves,
            calibration_dtype(weight_format),
            bytes_per_expert,
            tokens_per_expert,
            tokens,
        )

    def attention_decode_fraction(self, kv_bytes_per_call: float) -> Lookup | None:
        return curve_lookup(
            self.attention_decode, kv_bytes_per_call, "attention decode: KV bytes per layer", " B"
        )

    def attention_prefill_fraction(self, query_tokens: float) -> Lookup | None:
        return curve_lookup(
            self.attention_prefill, query_tokens, "attention prefill: tokens per sequence"
        )

    def collective(self, kernel: str, message_bytes: float, group: int) -> float | None:
        points = self.collectives.get((kernel, group))
        return None if points is None else collective_seconds(points, message_bytes)


def _mapping(doc: dict[str, Any], key: str, where: str, prefix: str = "") -> dict[str, Any]:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CalibrationError(f"{where}: field '{prefix}{key}' must be a mapping")
    return value


def _list(value: Any, where: str, field_: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CalibrationError(f"{where}: field '{field_}' must be a list")
    return value


def _number(value: Any, where: str, field_: str) -> float:
    if isinstance(value, str):  # YAML 1.1 reads 1.0e12 (no sign after e) as a string
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CalibrationError(f"{where}: field '{field_}' must be a number, got {value!r:.40}")
    if not math.isfinite(value) or value > 1e30:
        raise CalibrationError(f"{where}: field '{field_}' must be finite, got {value}")
    return float(value)


def _positive(value: Any, where: str, field_: str) -> float:
    x = _number(value, where, field_)
    if x <= 0:
        raise CalibrationError(f"{where}: field '{field_}' must be positive, got {x}")
    return x


MIN_RATE = 1e6
"""The least bandwidth (bytes/s) or compute (FLOP/s) a calibration may record: a megabyte or a
megaflop per second, far below any device moeplan plans for; a smaller figure is a unit error
and would price a step in years (or overflow to infinity)."""


def _rate(value: Any, where: str, field_: str) -> float:
    """A measured or rated bandwidth / throughput: at least MIN_RATE."""
    x = _positive(value, where, field_)
    if x < MIN_RATE:
        raise CalibrationError(
            f"{where}: field '{field_}' is {x:g}: below {MIN_RATE:g} per second (a unit error?)"
        )
    return x


def _byte_count(value: Any, where: str, field_: str) -> float:
    """A size in bytes: at least 1 (a smaller positive figure is no size and prices a message
    or an expert at nearly nothing)."""
    x = _positive(value, where, field_)
    if x < 1:
        raise CalibrationError(f"{where}: field '{field_}' must be at least 1, got {x:g}")
    return x


def _fraction(value: Any, where: str, field_: str) -> float:
    x = _positive(value, where, field_)
    if x > 1:
        raise CalibrationError(f"{where}: field '{field_}' must be at most 1, got {x}")
    return x


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


def curve(rows: Any, where: str, field_: str, x_key: str, y_key: str) -> Points:
    """(x, y) points of a list of rows: x > 0 strictly increasing, y a fraction in (0, 1]."""
    points: list[tuple[float, float]] = []
    for i, row in enumerate(_list(rows, where, field_)):
        at = f"{field_}[{i}]"
        if not isinstance(row, dict):
            raise CalibrationError(f"{where}: field '{at}' must be a mapping")
        x = _positive(row.get(x_key), where, f"{at}.{x_key}")
        y = _fraction(row.get(y_key), where, f"{at}.{y_key}")
        if points and x <= points[-1][0]:
            raise CalibrationError(
                f"{where}: field '{at}.{x_key}' must increase along the curve "
                f"({x:g} after {points[-1][0]:g})"
            )
        points.append((x, y))
    return tuple(points)


def best_moe_curve(doc: dict[str, Any], where: str = "calibration") -> Points:
    """Schema 1: per token count, the best backend's achieved fraction of spec bandwidth
    (tokens >= 1, fraction > 0; above 1 was accepted: caches on a CPU)."""
    best: dict[float, float] = {}
    moe = _mapping(doc, "moe", where)
    curves = _mapping(moe, "curves", where, "moe.")
    for backend, rows in curves.items():
        field_ = f"moe.curves.{backend}"
        if not isinstance(rows, list):
            raise CalibrationError(f"{where}: field '{field_}' must be a list of rows")
        for i, row in enumerate(rows):
            at = f"{field_}[{i}]"
            if not isinstance(row, dict):
                raise CalibrationError(f"{where}: field '{at}' must be a mapping")
            tokens = _number(row.get("tokens"), where, f"{at}.tokens")
            frac = _positive(row.get("fraction_of_spec_bw"), where, f"{at}.fraction_of_spec_bw")
            if tokens < 1:
                raise CalibrationError(f"{where}: field '{at}.tokens' must be >= 1, got {tokens}")
            best[tokens] = max(best.get(tokens, 0.0), frac)
    return tuple(sorted(best.items()))


def moe_curves(doc: dict[str, Any], where: str) -> tuple[MoECurve, ...]:
    """Schema 2's moe.efficiency: one curve per (dtype, bytes per expert)."""
    efficiency = _mapping(_mapping(doc, "moe", where), "efficiency", where, "moe.")
    out: list[MoECurve] = []
    for name, entries in efficiency.items():
        field_ = f"moe.efficiency.{name}"
        dtype = DTYPE_ALIASES.get(str(name), str(name))
        if dtype not in DTYPE_BITS:
            raise CalibrationError(
                f"{where}: field '{field_}': unknown weight dtype '{name}' "
                f"(known: {', '.join(DTYPE_BITS)})"
            )
        sizes: set[float] = set()
        for i, entry in enumerate(_list(entries, where, field_)):
            at = f"{field_}[{i}]"
            if not isinstance(entry, dict):
                raise CalibrationError(f"{where}: field '{at}' must be a mapping")
            size = _byte_count(entry.get("bytes_per_expert"), where, f"{at}.bytes_per_expert")
            if size in sizes or any(c.dtype == dtype and c.bytes_per_expert == size for c in out):
                raise CalibrationError(
                    f"{where}: field '{at}.bytes_per_expert': a second {dtype} curve for "
                    f"{size:g} bytes per expert"
                )
            sizes.add(size)
            points = curve(
                entry.get("points"),
                where,
                f"{at}.points",
                "tokens_per_expert",
                "fraction_of_spec_bw",
            )
            if not points:
                raise CalibrationError(f"{where}: field '{at}.points' must hold measured points")
            out.append(MoECurve(dtype, size, points, str(entry.get("model", ""))))
    return tuple(out)


def collective_curves(doc: dict[str, Any], where: str) -> dict[tuple[str, int], Points]:
    """Per (kernel, world size): (message bytes, fastest per-call seconds) by bytes."""
    best: dict[tuple[str, int], dict[float, float]] = {}
    for i, row in enumerate(_list(doc.get("collectives"), where, "collectives")):
        at = f"collectives[{i}]"
        if not isinstance(row, dict):
            raise CalibrationError(f"{where}: field '{at}' must be a mapping")
        kernel = row.get("kernel")
        if kernel not in COLLECTIVE_KERNELS:
            raise CalibrationError(
                f"{where}: field '{at}.kernel' must be one of {', '.join(COLLECTIVE_KERNELS)}, "
                f"got {kernel!r:.40}"
            )
        world = row.get("world_size")
        if isinstance(world, bool) or not isinstance(world, int) or world < 2:
            raise CalibrationError(
                f"{where}: field '{at}.world_size' must be an integer >= 2, got {world!r:.40}"
            )
        size = _byte_count(row.get("bytes"), where, f"{at}.bytes")
        seconds = _positive(row.get("seconds"), where, f"{at}.seconds")
        group = best.setdefault((kernel, world), {})
        group[size] = min(group.get(size, seconds), seconds)
    return {k: tuple(sorted(v.items())) for k, v in best.items()}


def parse_calibration(doc: Any, where: str) -> Calibration:
    if not isinstance(doc, dict):
        raise CalibrationError(f"{where}: not a calibration file (expected a mapping)")
    schema = doc.get("schema")
    if schema not in (SCHEMA, SCHEMA_V1):
        raise CalibrationError(
            f"{where}: schema is {schema!r:.40}, expected '{SCHEMA}' (or '{SCHEMA_V1}')"
        )
    _check_positive(doc, where)
    device = _mapping(doc, "device", where)
    measured = _mapping(doc, "measured", where)
    if measured.get("copy_bandwidth_bytes_per_s") is None:
        raise CalibrationError(f"{where}: missing field 'measured.copy_bandwidth_bytes_per_s'")
    copy_bw = _rate(
        measured["copy_bandwidth_bytes_per_s"], where, "measured.copy_bandwidth_bytes_per_s"
    )
    gemm = _mapping(measured, "gemm_flops", where, "measured.")
    flops = {str(k): _rate(v, where, f"measured.gemm_flops.{k}") for k, v in gemm.items() if v}
    catalog_id = device.get("catalog_id")
    if catalog_id is not None and not isinstance(catalog_id, str):
        raise CalibrationError(f"{where}: field 'device.catalog_id' must be a string")
    name = str(device.get("name", "unknown"))
    if schema == SCHEMA_V1:
        points = best_moe_curve(doc, where)
        curves = (MoECurve("bf16", None, points),) if points else ()
        return Calibration(
            where, name, catalog_id, copy_bw, flops, curves, schema_version=1,
            notes=(V1_NOTE,), doc=doc,
        )  # fmt: skip
    attention = _mapping(doc, "attention", where)
    spec = _mapping(doc, "spec", where)
    prefill = curve(
        attention.get("prefill"), where, "attention.prefill", "tokens", "fraction_of_peak_flops"
    )
    peak = spec.get("bf16_flops")
    if spec.get("mem_bw_bytes_per_s") is not None:
        _rate(spec["mem_bw_bytes_per_s"], where, "spec.mem_bw_bytes_per_s")
    if prefill and peak is None:
        raise CalibrationError(f"{where}: attention.prefill needs field 'spec.bf16_flops'")
    return Calibration(
        where,
        name,
        catalog_id,
        copy_bw,
        flops,
        moe_curves(doc, where),
        curve(attention.get("decode"), where, "attention.decode", "kv_bytes", BW_FRACTION),
        prefill,
        collective_curves(doc, where),
        None if peak is None else _rate(peak, where, "spec.bf16_flops"),
        doc=doc,
    )
