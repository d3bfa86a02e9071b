"""The measured curves of a calibration and how the estimator reads them (pure, no I/O).

Interpolation rules (schema 2):
- MoE layer: one curve per (weight dtype, expert size): fraction of spec bandwidth at which the
  expert weights are read, by tokens per touched expert. Looked up by the weight dtype (exact;
  else a curve of the same bits per weight; else the nearest bits per weight, ties to the wider),
  then the measured expert size nearest in log(bytes per expert read per GPU), then log-log in
  tokens per expert between measured points. Outside the measured range of either key the
  nearest measured value is held, and a note says so.
- Attention decode: fraction of spec bandwidth reading the KV cache, by KV bytes read per layer
  call; log-log between points, held outside (noted).
- Attention prefill: fraction of spec BF16 peak, by query tokens per sequence; log-log, held.
- Collectives: per (kernel, world size), per-call seconds by message bytes; log-log between
  measured sizes; below the smallest the smallest's time (a latency floor), above the largest
  the largest's bandwidth (time in proportion to bytes).
Schema 1 curves (by layer token count) keep schema 1's rule: linear in log2 tokens, held outside.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from moeplan.errors import CalibrationError

Points = tuple[tuple[float, float], ...]

DTYPE_BITS: dict[str, float] = {
    "fp32": 32,
    "bf16": 16,
    "fp16": 16,
    "fp8": 8,
    "int8": 8,
    "int4": 4,
    "mxfp4": 4,
    "nvfp4": 4,
}
"""Weight dtypes a calibration's MoE curves may be keyed on, with their bits per value."""

DTYPE_ALIASES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32", "half": "fp16"}


def calibration_dtype(weight_format: str) -> str:
    """The calibration dtype of a weight format id (memory.quant): fp8-block reads as fp8,
    int4-g128 as int4; a format with no calibration dtype (GGUF q4_k, ...) is returned as is."""
    fmt = DTYPE_ALIASES.get(weight_format, weight_format)
    if fmt in DTYPE_BITS:
        return fmt
    for base in ("fp8", "int8", "int4"):
        if fmt.startswith(base):
            return base
    if fmt == "gguf-f32":
        return "fp32"
    return fmt


def interpolate_log2(points: Points, x: float) -> float:
    """Schema 1's rule: exact at a measured x, linear in log2(x) between points, nearest value
    outside."""
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


def interpolate_loglog(points: Points, x: float) -> tuple[float, bool]:
    """Exact at a measured x; between two points log(y) is linear in log(x) (y = y0 (x/x0)^s);
    outside the measured range the nearest point's y is held. Returns (y, held outside)."""
    if not points:
        raise CalibrationError("empty efficiency curve")
    if x <= points[0][0]:
        return points[0][1], x < points[0][0]
    if x >= points[-1][0]:
        return points[-1][1], x > points[-1][0]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= x <= x1:
            if x == x0:
                return y0, False
            slope = math.log(y1 / y0) / math.log(x1 / x0)
            return y0 * (x / x0) ** slope, False
    return points[-1][1], False  # pragma: no cover - the loop covers the range


@dataclass(frozen=True)
class MoECurve:
    """One measured MoE curve: fraction of spec bandwidth at which expert weights are read, for
    one weight dtype and one expert size (bytes of one expert), by tokens per touched expert.
    A schema 1 curve has no expert size and is keyed on the layer's token count."""

    dtype: str
    bytes_per_expert: float | None  # None: schema 1 (any expert size)
    points: Points  # (key, fraction), key strictly increasing
    model: str = ""

    @property
    def legacy(self) -> bool:
        return self.bytes_per_expert is None


@dataclass(frozen=True)
class Lookup:
    """A value read from a calibration and the notes that say how it was chosen."""

    value: float
    notes: tuple[str, ...] = ()


def _mb(n: float) -> str:
    return f"{n / 1e6:.3g} MB"


def pick_dtype(curves: tuple[MoECurve, ...], dtype: str) -> tuple[str, str | None]:
    """The dtype whose curves are used for weights of `dtype`, and a note when it differs."""
    have = sorted({c.dtype for c in curves})
    if dtype in have:
        return dtype, None
    bits = DTYPE_BITS.get(dtype)
    if bits is None:
        from moeplan.memory.quant import weight_format

        try:
            bits = weight_format(dtype).bits_per_weight
        except Exception:  # an unknown format: the widest curve
            bits = 16.0
    # same bits first, then the nearest bits; ties to the wider dtype
    chosen = min(have, key=lambda d: (abs(math.log2(DTYPE_BITS[d] / bits)), -DTYPE_BITS[d], d))
    return chosen, (
        f"no {dtype} MoE curve in the calibration: its {chosen} curve is used "
        "(nearest bits per weight)"
    )


def moe_lookup(
    curves: tuple[MoECurve, ...],
    dtype: str,
    bytes_per_expert: float,
    tokens_per_expert: float,
    tokens: float,
) -> Lookup | None:
    """Fraction of spec bandwidth for reading experts of `dtype` (a calibration dtype) and
    `bytes_per_expert` bytes per GPU at `tokens_per_expert` tokens per touched expert (`tokens`
    in the layer, for schema 1 curves). None when the calibration has no MoE curve."""
    if not curves:
        return None
    notes: list[str] = []
    legacy = [c for c in curves if c.legacy]
    if legacy:
        curve = legacy[0]
        return Lookup(interpolate_log2(curve.points, tokens), ())
    used, note = pick_dtype(curves, dtype)
    if note:
        notes.append(note)
    same = [c for c in curves if c.dtype == used]
    sizes = sorted(c.bytes_per_expert or 0.0 for c in same)
    curve = min(same, key=lambda c: abs(math.log((c.bytes_per_expert or 1.0) / bytes_per_expert)))
    if not sizes[0] <= bytes_per_expert <= sizes[-1]:
        span = _mb(sizes[0]) if len(sizes) == 1 else f"{_mb(sizes[0])}-{_mb(sizes[-1])}"
        notes.append(
            f"{used} MoE curve: experts of {_mb(bytes_per_expert)} per GPU are outside the "
            f"measured {span}: the nearest measured expert size's curve is used"
        )
    fraction, held = interpolate_loglog(curve.points, tokens_per_expert)
    if held:
        lo, hi = curve.points[0][0], curve.points[-1][0]
        notes.append(
            f"{used} MoE curve ({_mb(curve.bytes_per_expert or 0)} experts): tokens per expert "
            f"outside the measured {lo:g}-{hi:g}, held at the nearest measured point"
        )
    return Lookup(fraction, tuple(notes))


def curve_lookup(points: Points, x: float, what: str, unit: str = "") -> Lookup | None:
    """A log-log curve (attention decode/prefill), held outside its range with a note."""
    if not points:
        return None
    value, held = interpolate_loglog(points, x)
    notes: tuple[str, ...] = ()
    if held:
        lo, hi = points[0][0], points[-1][0]
        notes = (f"{what} outside the measured {lo:g}-{hi:g}{unit}, held at the nearest point",)
    return Lookup(value, notes)


def collective_seconds(points: Points, message_bytes: float) -> float:
    """Per-call seconds at `message_bytes` from measured (bytes, seconds) points: log-log
    between sizes; the smallest size's time below it (latency-bound); the largest size's
    bandwidth above it (time in proportion to bytes)."""
    if message_bytes <= 0:
        return 0.0
    lo_bytes, lo_s = points[0]
    hi_bytes, hi_s = points[-1]
    if message_bytes <= lo_bytes:
        return lo_s
    if message_bytes >= hi_bytes:
        return hi_s * message_bytes / hi_bytes
    return interpolate_loglog(points, message_bytes)[0]
