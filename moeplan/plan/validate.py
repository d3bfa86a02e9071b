"""`moeplan validate`: predict the published measurements shipped in
``moeplan/data/measurements.yaml`` under their stated conditions and report the errors."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from moeplan.data import data_path
from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.engines import resolve_engine
from moeplan.perf.latency import LatencyPoint, latency_point, make_setup
from moeplan.perf.parallel import Layout
from moeplan.yamlio import load_packaged_yaml

DECODE_METRICS = ("speed", "decode_tokens_per_s", "tpot_ms", "end_to_end_s")


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

    @property
    def error(self) -> float | None:
        """predicted / published - 1 (for times too: +10% means predicted 10% slower)."""
        if self.predicted is None:
            return None
        return self.predicted / self.published - 1

    @property
    def counted(self) -> bool:
        """In the decode median: predicted, a decode metric, not marked far from the roofline."""
        return (
            self.predicted is not None
            and not self.far_from_roofline
            and self.metric in DECODE_METRICS
        )


def load_measurements() -> list[dict[str, Any]]:
    path = data_path("measurements.yaml")
    records: list[dict[str, Any]] = load_packaged_yaml(path, "moeplan/data/measurements.yaml")[
        "measurements"
    ]
    return records


def predict_metric(metric: str, p: LatencyPoint) -> float:
    """The published metric, computed from a latency point by its definition."""
    if metric == "speed":  # Qwen: (prompt + generated) / wall time
        return (p.input_len + p.output_len) / p.end_to_end_s
    if metric == "decode_tokens_per_s":
        return p.tokens_per_s_per_seq
    if metric == "prefill_tokens_per_s":
        return p.input_len * p.batch / p.prefill.total_s
    if metric == "tpot_ms":
        return p.tpot_ms
    if metric == "end_to_end_s":
        return p.end_to_end_s
    raise ValueError(f"unknown metric {metric}")


def validate_record(rec: dict[str, Any]) -> Validation:
    how = rec["moeplan"]
    base = dict(
        id=rec["id"],
        model=str(rec["model"]),
        unit=str(rec["unit"]),
        published=float(rec["value"]),
        reading=how.get("reading", ""),
    )
    if "skip" in how:
        return Validation(
            metric=how.get("metric", str(rec["metric"])),
            predicted=None,
            skipped=how["skip"],
            **base,
        )
    spec = load_model(how["model"])
    setup = make_setup(
        spec,
        resolve_scheme(how["quant"], spec),
        resolve_gpu(how["gpu"]),
        Layout(tp=how["tp"], pp=how["pp"]),
        resolve_engine(how["engine"]),
    )
    # the published runs fitted, so memory is not re-checked here
    point = latency_point(
        setup, how["batch"], how["input_len"], how["output_len"], check_memory=False
    )
    return Validation(
        metric=how["metric"],
        predicted=predict_metric(how["metric"], point),
        far_from_roofline=how.get("far_from_roofline", ""),
        engine=how["engine"],
        **base,
    )


def validate_all() -> list[Validation]:
    return [validate_record(rec) for rec in load_measurements()]


def median_abs_error(results: list[Validation]) -> float | None:
    errors = [abs(r.error) for r in results if r.counted and r.error is not None]
    return statistics.median(errors) if errors else None
