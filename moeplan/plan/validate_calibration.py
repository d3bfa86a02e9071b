"""`moeplan validate --calibration FILE`: the published measurements of the calibration's GPU
kind (measurements.yaml and latency_references.yaml) predicted with the engine defaults and with
the calibration's measured rates, and the median |error| of each."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from moeplan.hardware.gpus import GPU, resolve_gpu
from moeplan.perf.calibration import Calibration, rates_from_calibration
from moeplan.perf.engines import EngineProfile
from moeplan.perf.phases import Rates
from moeplan.plan.validate import load_measurements, load_references, validate_record


@dataclass(frozen=True)
class CalibratedValidation:
    id: str
    model: str
    metric: str
    published: float
    default: float
    calibrated: float
    counted: bool  # in validate's medians (a counted decode or prefill record)

    @property
    def default_error(self) -> float:
        return self.default / self.published - 1

    @property
    def calibrated_error(self) -> float:
        return self.calibrated / self.published - 1


def validate_with_calibration(cal: Calibration) -> list[CalibratedValidation]:
    """Every predicted record on the calibration's GPU (catalog id), default vs calibrated."""

    def rates(gpu: GPU, engine: EngineProfile) -> Rates:
        return rates_from_calibration(cal, gpu, engine)

    out = []
    for rec in load_measurements() + load_references():
        how = rec["moeplan"]
        if "skip" in how or cal.catalog_id is None:
            continue
        if resolve_gpu(how["gpu"]).id != cal.catalog_id:
            continue
        default = validate_record(rec)
        calibrated = validate_record(rec, rates=rates)
        if default.predicted is None or calibrated.predicted is None:
            continue
        out.append(
            CalibratedValidation(
                default.id,
                default.model,
                default.metric,
                default.published,
                default.predicted,
                calibrated.predicted,
                default.counts_in("decode") or default.counts_in("prefill"),
            )
        )
    return out


def median_abs_errors(rows: list[CalibratedValidation]) -> tuple[float | None, float | None]:
    """Median |error| of the counted records, with the defaults and with the calibration."""
    counted = [r for r in rows if r.counted]
    if not counted:
        return None, None
    return (
        statistics.median(abs(r.default_error) for r in counted),
        statistics.median(abs(r.calibrated_error) for r in counted),
    )
