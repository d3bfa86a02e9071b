"""`moeplan validate`: predict the published measurements shipped in
``moeplan/data/measurements.yaml`` under their stated conditions and report the errors.

Every record says whether it was used to set an engine constant (`used_for_fitting`: named in
an engine profile's `fitted_on`); the held-out median (records used for nothing) is the figure
to quote, the in-sample one is reported beside it. Leave-one-out: for each fitted record, the
constant the profile names in `fitted` is refitted on that profile's other
fitted records alone and the left-out record predicted with it."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from moeplan.data import data_path
from moeplan.hardware.gpus import GPU, resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.engines import ENGINES, EngineProfile, resolve_engine
from moeplan.perf.latency import LatencyPoint, latency_point, make_setup
from moeplan.perf.parallel import Layout
from moeplan.perf.phases import Rates
from moeplan.plan.bands import band_of
from moeplan.yamlio import load_packaged_yaml

DECODE_METRICS = ("speed", "decode_tokens_per_s", "tpot_ms", "end_to_end_s")
PREFILL_METRICS = ("prefill_tokens_per_s", "ttft_ms")


@dataclass(frozen=True)
class Validation:
    id: str
    model: str
    metric: str
    unit: str
    published: float
    predicted: float | None
    reading: str
    skipped: str = ""
    far_from_roofline: str = ""
    engine: str = ""
    used_for_fitting: bool = False
    same_table_as_fitted: str = ""  # a record from the table an engine constant was set from

    @property
    def error(self) -> float | None:
        """predicted / published - 1 (for times too: +10% means predicted 10% slower)."""
        if self.predicted is None:
            return None
        return self.predicted / self.published - 1

    @property
    def regime(self) -> str:
        """ "decode" or "prefill" by the metric (a speed over prompt and output is decode)."""
        return "prefill" if self.metric in PREFILL_METRICS else "decode"

    def counts_in(self, regime: str) -> bool:
        """In `regime`'s median: predicted, of that regime, not marked far from the roofline."""
        return (
            self.predicted is not None
            and not self.far_from_roofline
            and self.regime == regime
            and self.metric in DECODE_METRICS + PREFILL_METRICS
        )

    @property
    def counted(self) -> bool:
        """In the decode median: predicted, a decode metric, not marked far from the roofline."""
        return self.counts_in("decode")


def load_measurements() -> list[dict[str, Any]]:
    path = data_path("measurements.yaml")
    records: list[dict[str, Any]] = load_packaged_yaml(path, "moeplan/data/measurements.yaml")[
        "measurements"
    ]
    return records


def load_references() -> list[dict[str, Any]]:
    """The latency references gathered after the engine profiles were set (used for nothing)."""
    path = data_path("latency_references.yaml")
    records: list[dict[str, Any]] = load_packaged_yaml(
        path, "moeplan/data/latency_references.yaml"
    )["references"]
    return records


def predict_metric(metric: str, p: LatencyPoint) -> float:
    """The published metric, computed from a latency point by its definition."""
    if metric == "speed":  # Qwen: (prompt + generated) / wall time
        return (p.input_len + p.output_len) / p.end_to_end_s
    if metric == "decode_tokens_per_s":
        return p.tokens_per_s_per_seq
    if metric == "prefill_tokens_per_s":
        return p.input_len * p.batch / p.prefill.total_s
    if metric == "ttft_ms":
        return p.ttft_ms
    if metric == "tpot_ms":
        return p.tpot_ms
    if metric == "end_to_end_s":
        return p.end_to_end_s
    raise ValueError(f"unknown metric {metric}")


def fitted_record_ids() -> frozenset[str]:
    """Records named in any engine profile's `fitted_on`."""
    return frozenset(rid for e in ENGINES.values() for rid in e.fitted_on)


def validate_record(
    rec: dict[str, Any],
    engine: EngineProfile | None = None,
    rates: Callable[[GPU, EngineProfile], Rates] | None = None,
) -> Validation:
    """Predict one record; `engine` replaces the record's own profile (leave-one-out);
    `rates` gives the rates for the record's GPU and engine (a calibration's)."""
    how = rec["moeplan"]
    base = dict(
        id=rec["id"],
        model=str(rec["model"]),
        unit=str(rec["unit"]),
        published=float(rec["value"]),
        reading=how.get("reading", ""),
        used_for_fitting=rec["id"] in fitted_record_ids(),
    )
    if "skip" in how:
        return Validation(
            metric=how.get("metric", str(rec["metric"])),
            predicted=None,
            skipped=how["skip"],
            **base,
        )
    spec = load_model(how["model"])
    gpu = resolve_gpu(how["gpu"])
    engine = engine or resolve_engine(how["engine"])
    setup = make_setup(
        spec,
        resolve_scheme(how["quant"], spec),
        gpu,
        Layout(tp=how["tp"], pp=how["pp"]),
        engine,
        None if rates is None else rates(gpu, engine),
    )
    # the published runs fitted, so memory is not re-checked here
    point = latency_point(
        setup, how["batch"], how["input_len"], how["output_len"], check_memory=False
    )
    return Validation(
        metric=how["metric"],
        predicted=predict_metric(how["metric"], point),
        far_from_roofline=how.get("far_from_roofline", ""),
        same_table_as_fitted=how.get("same_table_as_fitted", ""),
        engine=how["engine"],
        **base,
    )


def validate_all() -> list[Validation]:
    return [validate_record(rec) for rec in load_measurements()]


def validate_references() -> list[Validation]:
    """Predict every record of latency_references.yaml (all held out by construction)."""
    return [validate_record(rec) for rec in load_references()]


def median_abs_error(
    results: list[Validation], used_for_fitting: bool | None = None, regime: str | None = "decode"
) -> float | None:
    """Median |error| over the records counted in `regime` (None: each record in its own regime,
    decode and prefill together): all of them (used_for_fitting None), only those used to set a
    constant (True: in-sample) or only those used for nothing (False: held out)."""
    errors = [
        abs(r.error)
        for r in results
        if r.counts_in(r.regime if regime is None else regime)
        and r.error is not None
        and (used_for_fitting is None or r.used_for_fitting == used_for_fitting)
    ]
    return statistics.median(errors) if errors else None


# values tried when a profile's fitted constant is refitted: per-step overhead 0 to 8 ms by
# 0.25 ms, per-kernel overhead 0 to 12 us by 0.25 us
FIT_GRIDS: dict[str, tuple[float, ...]] = {
    "step_overhead_s": tuple(round(i * 0.25e-3, 9) for i in range(33)),
    "kernel_overhead_s": tuple(round(i * 0.25e-6, 12) for i in range(49)),
}


def with_fitted(profile: EngineProfile, value: float) -> EngineProfile:
    """`profile` with its fitted constant set to `value`."""
    if profile.fitted == "kernel_overhead_s":
        return replace(profile, kernel_overhead_s=value)
    if profile.fitted == "step_overhead_s":
        return replace(profile, step_overhead_s=value)
    raise ValueError(f"engine {profile.id}: no grid for fitted constant {profile.fitted!r}")


def refit(profile: EngineProfile, records: list[dict[str, Any]]) -> float:
    """The value of `profile.fitted` on its grid with the least median |error| over `records`
    (the other constants stay); ties go to the smaller value. This is how the shipped fitted
    constants were set (tests check it), and what leave-one-out repeats without one record."""

    def score(value: float) -> float:
        trial = with_fitted(profile, value)
        errs = [validate_record(r, trial).error for r in records]
        return statistics.median(abs(e) for e in errs if e is not None)

    return min(FIT_GRIDS[profile.fitted], key=score)


@dataclass(frozen=True)
class LeaveOneOut:
    id: str
    engine: str
    constant: str  # the profile's fitted constant
    refitted: float | None  # its value refitted without this record; None: no other record
    error: float | None


def leave_one_out() -> list[LeaveOneOut]:
    """For each record in a profile's `fitted_on`: refit that profile's fitted constant on its
    other fitted records (`refit`) and predict the left-out record with it."""
    records = {rec["id"]: rec for rec in load_measurements()}
    out = []
    for profile in ENGINES.values():
        for left in profile.fitted_on:
            others = [records[i] for i in profile.fitted_on if i != left and i in records]
            if left not in records:
                continue
            if not others:
                out.append(LeaveOneOut(left, profile.id, profile.fitted, None, None))
                continue
            value = refit(profile, others)
            trial = with_fitted(profile, value)
            result = validate_record(records[left], trial)
            out.append(LeaveOneOut(left, profile.id, profile.fitted, value, result.error))
    return out


ERROR_BAND_DEFINITION = (
    "error_band_pct: [10th, 90th percentile] (fewer than 10 records: [lowest, highest]) "
    "out-of-sample residual of decode (prefill) time for this "
    "engine, predicted / measured - 1 in % (positive: the estimate is slower than measured), "
    "over the held-out records of measurements.yaml and latency_references.yaml and, for "
    "decode, the leave-one-out predictions of the fitted ones; n/a below 3 records"
)


def speed_to_time_error(speed_error: float) -> float:
    """A speed error e (predicted / measured tok/s - 1) as a time error (predicted / measured
    time - 1): time is tokens / speed, so the time error is 1 / (1 + e) - 1 (an estimate 25% too
    fast, e = +0.25, is 20% short in time, -0.2)."""
    return 1.0 / (1.0 + speed_error) - 1.0


def time_error(v: Validation) -> float | None:
    """A record's error as decode time (predicted / measured time - 1): speed metrics invert
    (speed_to_time_error)."""
    if v.error is None:
        return None
    if v.unit.startswith("tokens/s"):
        return speed_to_time_error(v.error)
    return v.error


def error_band_pct(engine: str, regime: str) -> list[float] | str:
    """Spread of the out-of-sample residuals backing `engine` in `regime` ("decode" or
    "prefill"): [low, high] in % (plan/bands.py band_of), or "n/a: reason" with fewer than 3
    records. Held-out records
    of both files count; leave-one-out predictions of the fitted records add to decode (no
    prefill record is fitted)."""
    results = validate_all()
    residuals = [
        time_error(v)
        for v in results + validate_references()
        if v.counts_in(regime) and not v.used_for_fitting and v.engine == engine
    ]
    if regime == "decode":
        by_id = {v.id: v for v in results}
        for x in leave_one_out():
            if x.engine == engine and x.error is not None:
                v = by_id[x.id]
                residuals.append(time_error(replace(v, predicted=v.published * (1 + x.error))))
    values = [r for r in residuals if r is not None]
    if len(values) < 3:
        return f"n/a: {len(values)} out-of-sample {regime} record(s) for engine {engine} (3 needed)"
    return list(band_of(values))
