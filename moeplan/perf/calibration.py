"""Calibration files written by `moeplan profile`: loading (schema 2, and schema 1 files as
before) and turning the measured figures into the latency model's Rates.

What the estimator reads (calibration_curves.py has the interpolation rules):
- weights and KV streams at the measured copy bandwidth; dense GEMMs at the measured FLOP/s;
- routed experts at spec bandwidth x the MoE curve of their weight dtype and expert size, by
  tokens per touched expert (schema 1: the one curve by layer token count);
- the KV cache read at spec bandwidth x the measured attention-decode fraction, by KV bytes
  per layer call; prefill attention FLOPs at spec BF16 peak x the measured attention-prefill
  fraction, by prompt tokens per sequence;
- TP all-reduce and EP all-to-all at the measured per-call time where the file has that kernel
  at the group's size (inside one node), else the link formula with the engine's figures.
Kernel and step overheads stay the engine's, less the MoE kernels the MoE curve already holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from moeplan.errors import CalibrationError, MoeplanError
from moeplan.hardware.gpus import GPU
from moeplan.perf.calibration_curves import interpolate_log2, interpolate_loglog
from moeplan.perf.calibration_schema import (
    SCHEMA,
    SCHEMA_V1,
    Calibration,
    best_moe_curve,
    parse_calibration,
)
from moeplan.perf.engines import EngineProfile
from moeplan.perf.measured import ExpertRead, Measured
from moeplan.perf.phases import Rates
from moeplan.yamlio import load_document

__all__ = [
    "SCHEMA",
    "SCHEMA_V1",
    "CalibratedRates",
    "Calibration",
    "best_moe_curve",
    "interpolate_log2",
    "interpolate_loglog",
    "load_calibration",
    "parse_calibration",
    "rates_from_calibration",
]


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


@dataclass(frozen=True)
class CalibratedRates:
    """A calibration's measured rates on `gpu` (phases.MeasuredRates)."""

    cal: Calibration
    spec_bw_bytes_per_s: float
    spec_bf16_flops: float | None
    notes: tuple[str, ...] = ()

    def expert_bw(self, read: ExpertRead) -> Measured | None:
        got = self.cal.moe(
            read.weight_format, read.bytes_per_expert, read.tokens_per_expert, read.tokens
        )
        return None if got is None else (self.spec_bw_bytes_per_s * got.value, got.notes)

    def kv_bw(self, kv_bytes_per_layer: float) -> Measured | None:
        got = self.cal.attention_decode_fraction(kv_bytes_per_layer)
        return None if got is None else (self.spec_bw_bytes_per_s * got.value, got.notes)

    def attention_flops(self, query_tokens: float) -> Measured | None:
        got = self.cal.attention_prefill_fraction(query_tokens)
        if got is None or self.spec_bf16_flops is None:
            return None
        return self.spec_bf16_flops * got.value, got.notes

    def collective_s(self, kernel: str, message_bytes: float, group: int) -> float | None:
        return self.cal.collective(kernel, message_bytes, group)


def rates_from_calibration(cal: Calibration, gpu: GPU, engine: EngineProfile) -> Rates:
    """Measured copy bandwidth for weight/KV streams, measured GEMM FLOPS where profiled, and
    the measured MoE, attention and collective figures (CalibratedRates). Kernel and step
    overheads stay the engine's, less the MoE kernels the MoE curve already holds."""

    def flops(dtype: str) -> float | None:
        if dtype in cal.gemm_flops:
            return cal.gemm_flops[dtype]
        if gpu.bf16_flops is None:
            return cal.gemm_flops.get("bf16")
        return gpu.peak_flops(dtype) * engine.compute_efficiency_for(gpu, dtype)

    peak = gpu.peak_flops("bf16") if gpu.bf16_flops is not None else cal.spec_bf16_flops
    measured = CalibratedRates(cal, gpu.mem_bw_bytes_per_s, peak, cal.notes)
    return Rates(
        cal.copy_bw_bytes_per_s,
        flops,
        engine,
        f"calibration {cal.path}",
        moe_overhead_measured=bool(cal.moe_curves),
        measured=measured,
    )
