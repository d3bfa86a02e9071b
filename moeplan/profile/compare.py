"""`moeplan profile --compare`: per measured kernel, the latency model's prediction with default
efficiencies, with the calibration, and the measurement; plus a leave-one-out check of the
MoE-curve interpolation. Pure: needs no torch (reads a calibration document)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from moeplan.hardware.gpus import GPU
from moeplan.perf.calibration import Calibration, interpolate_log2
from moeplan.perf.calibration_curves import MoECurve, moe_lookup
from moeplan.perf.engines import EngineProfile
from moeplan.perf.phases import Phase
from moeplan.perf.terms import expected_experts_touched

from .moe import MoEShape  # torch-free at import: moe.py imports torch inside its functions


@dataclass(frozen=True)
class Comparison:
    kernel: str
    shape: str
    measured_s: float
    default_s: float | None  # engine defaults on the catalog spec (None: no catalog GPU)
    calibrated_s: float
    leave_one_out_s: float | None = None

    @staticmethod
    def _err(pred: float | None, meas: float) -> float | None:
        return None if pred is None else pred / meas - 1

    @property
    def default_error(self) -> float | None:
        return self._err(self.default_s, self.measured_s)

    @property
    def calibrated_error(self) -> float | None:
        return self._err(self.calibrated_s, self.measured_s)

    @property
    def loo_error(self) -> float | None:
        return self._err(self.leave_one_out_s, self.measured_s)


def moe_layer_seconds(
    shape: dict[str, int],
    element_bytes: float,
    tokens: int,
    bw_bytes_per_s: float,
    peak_flops: float | None,
    overhead_s: float,
    bytes_per_expert: float | None = None,
    measured: bool = False,
) -> float:
    """The latency model's MoE layer: router + expected distinct experts (uniform routing) read
    at `bw`, with the GEMM FLOPs at `peak` (added; with a `measured` curve, the larger of the
    two, as phases.stage_pass), plus fixed kernel overhead. Experts weigh `bytes_per_expert`
    (quantized) or their parameters x `element_bytes`."""
    moe = MoEShape(**shape)
    touched = expected_experts_touched(moe.num_experts, moe.top_k, tokens)
    per_expert = moe.expert_params * element_bytes if bytes_per_expert is None else bytes_per_expert
    bytes_ = moe.hidden * moe.num_experts * element_bytes + touched * per_expert
    phase = Phase()
    add = phase.add_measured if measured else phase.add_roofline
    add(bytes_, bw_bytes_per_s, moe.flops(tokens), peak_flops)
    return phase.total_s + overhead_s


def _moe_v2(
    cal: Calibration, spec_bw: float, peak: float | None, default: Callable[..., float] | None
) -> list[Comparison]:
    """Schema 2: every point of every MoE curve (dtype x expert shape), predicted with the
    engine's defaults and with the calibration's lookup (by dtype, bytes per expert and the
    uniform-routing tokens per expert the latency model uses), and leaving that point out."""
    out: list[Comparison] = []
    element = 2 if cal.doc["moe"].get("dtype") == "bf16" else 4
    for c in cal.moe_curves:
        size = c.bytes_per_expert or 0.0
        entries = cal.doc["moe"]["efficiency"][c.dtype]
        entry = next(e for e in entries if e["bytes_per_expert"] == size)
        shape = MoEShape(**entry["shape"])
        others = tuple(x for x in cal.moe_curves if x is not c)
        for i, point in enumerate(entry["points"]):
            t = point["tokens"]
            tpe = t * shape.top_k / expected_experts_touched(shape.num_experts, shape.top_k, t)
            rest = c.points[:i] + c.points[i + 1 :]
            predicted = [
                None
                if curves is None
                else moe_layer_seconds(
                    entry["shape"],
                    element,
                    t,
                    spec_bw * _fraction(curves, c.dtype, size, tpe, t),
                    peak,
                    0.0,
                    size,
                    measured=True,
                )
                for curves in (cal.moe_curves, (*others, replace(c, points=rest)) if rest else None)
            ]
            out.append(
                Comparison(
                    f"moe {c.dtype} {point.get('backend', '')}".rstrip(),
                    f"{t} tokens, {size / 1e6:.3g} MB experts",
                    point["seconds"],
                    None if default is None else default(entry["shape"], element, t, size),
                    predicted[0] or 0.0,
                    predicted[1],
                )
            )
    return out


def _moe_overhead(engine: EngineProfile, gpu: GPU) -> float:
    """The engine's fixed cost of one routed-MoE block on this GPU's backend (engines.py)."""
    return engine.kernels.moe_ffn * engine.kernel_overhead_for(gpu.vendor)


def _default_moe(
    bw: float,
    peak: float | None,
    overhead: float,
    shape: dict[str, int],
    element: float,
    tokens: int,
    size: float,
) -> float:
    return moe_layer_seconds(shape, element, tokens, bw, peak, overhead, size)


def _fraction(curves: tuple[MoECurve, ...], dtype: str, size: float, tpe: float, t: int) -> float:
    got = moe_lookup(curves, dtype, size, tpe, t)
    if got is None:
        raise ValueError("no MoE curve")
    return got.value


def compare(cal: Calibration, gpu: GPU | None, engine: EngineProfile) -> list[Comparison]:
    doc: dict[str, Any] = cal.doc
    out: list[Comparison] = []
    spec_bw = doc["spec"]["mem_bw_bytes_per_s"]
    peak_cal = cal.gemm_flops.get("bf16")
    peak_default = (
        gpu.peak_flops("bf16") * engine.compute_efficiency_for(gpu, "bf16")
        if gpu and gpu.bf16_flops
        else None
    )
    for row in doc["raw"]["copy"]:
        default = (
            2 * row["bytes"] / (gpu.mem_bw_bytes_per_s * engine.bw_efficiency_for(gpu))
            if gpu
            else None
        )
        out.append(
            Comparison(
                "copy",
                f"{row['bytes']} B",
                row["seconds"],
                default,
                2 * row["bytes"] / cal.copy_bw_bytes_per_s,
            )
        )
    for row in doc["raw"]["gemm"]:
        flops = 2.0 * row["m"] * row["n"] * row["k"]
        dtype = row["dtype"]
        default = (
            flops / (gpu.peak_flops(dtype) * engine.compute_efficiency_for(gpu, dtype))
            if gpu and gpu.bf16_flops
            else None
        )
        out.append(
            Comparison(
                f"gemm {dtype}",
                f"{row['m']}x{row['n']}x{row['k']}",
                row["seconds"],
                default,
                flops / cal.gemm_flops[dtype],
            )
        )
    if cal.schema_version >= 2:
        default = None
        if gpu is not None:
            default = functools.partial(
                _default_moe,
                gpu.mem_bw_bytes_per_s * engine.bw_efficiency_for(gpu),
                peak_default,
                _moe_overhead(engine, gpu),
            )
        return out + _moe_v2(cal, spec_bw, peak_cal, default)
    moe = doc["moe"]
    fastest: dict[int, tuple[float, str]] = {}  # per token count, the best backend (as the curve)
    for backend, backend_rows in moe["curves"].items():
        for row in backend_rows:
            if row["tokens"] not in fastest or row["seconds"] < fastest[row["tokens"]][0]:
                fastest[row["tokens"]] = (row["seconds"], backend)
    element = moe["expert_bytes"] // MoEShape(**moe["shape"]).expert_params
    curve = cal.moe_curve
    for t, (seconds, backend) in sorted(fastest.items()):
        default = None
        if gpu is not None:
            overhead = _moe_overhead(engine, gpu)
            default = moe_layer_seconds(
                moe["shape"],
                element,
                t,
                gpu.mem_bw_bytes_per_s * engine.bw_efficiency_for(gpu),
                peak_default,
                overhead,
            )
        calibrated = moe_layer_seconds(
            moe["shape"], element, t, spec_bw * cal.moe_fraction(t), peak_cal, 0.0, measured=True
        )
        others = tuple(p for p in curve if p[0] != t)
        loo = None
        if others:
            loo = moe_layer_seconds(
                moe["shape"],
                element,
                t,
                spec_bw * interpolate_log2(others, t),
                peak_cal,
                0.0,
                measured=True,
            )
        out.append(Comparison(f"moe {backend}", f"{t} tokens", seconds, default, calibrated, loo))
    return out
