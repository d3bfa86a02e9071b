"""Rows and JSON documents for `latency`, `plan` and `validate` (rendered by render.py)."""

from __future__ import annotations

import statistics
from typing import Any

from moeplan.cli.render import Table, gb, pct
from moeplan.model.specs import ModelSpec
from moeplan.perf.latency import LatencyReport, point_json
from moeplan.perf.speculation import speculation_json
from moeplan.plan.search import Candidate, PlanResult
from moeplan.plan.validate import LeaveOneOut, Validation, median_abs_error


def _split(seconds: dict[str, float]) -> str:
    total = sum(seconds.values()) or 1.0
    return ", ".join(f"{k} {v / total * 100:.0f}%" for k, v in seconds.items() if v > 0)


def latency_tables(r: LatencyReport) -> list[Table]:
    rows: list[list[Any]] = []
    for p in r.points:
        missing = r.missing_bytes(p)
        if missing:
            rows.append(
                [p.batch, "does not fit", "-", "-", "-", "-", "-",
                 f"{gb(missing)} per GPU missing", gb(p.memory.total_bytes)]
            )  # fmt: skip
            continue
        rows.append(
            [
                p.batch,
                f"{p.ttft_ms:,.1f}",
                p.prefill.bound,
                f"{p.tpot_ms:,.2f}",
                p.decode.bound,
                f"{p.tokens_per_s_per_seq:,.1f}",
                f"{p.tokens_per_s_total:,.1f}",
                _split(p.decode.split),
                gb(p.memory.total_bytes),
            ]
        )
    t = Table(
        f"{r.spec.display_name or r.spec.name} {r.scheme.id} on {r.layout.gpus} x {r.gpu.id} "
        f"({r.layout.describe()}), input {r.points[0].input_len}, output {r.points[0].output_len}",
        [
            "batch",
            "TTFT ms",
            "prefill bound",
            "TPOT ms",
            "decode bound",
            "tok/s/seq",
            "tok/s total",
            "decode time split",
            "memory per GPU",
        ],
        rows,
    )
    e = r.rates.engine
    allreduce = r.tp_allreduce_latency_s
    t.notes.append(
        f"efficiencies: {r.rates.source}: stream {r.rates.stream_bw_bytes_per_s / 1e9:,.0f} "
        f"GB/s, compute x{e.compute_efficiency}, {e.kernel_overhead_s * 1e6:g} us/kernel, "
        f"{e.step_overhead_s * 1e3:g} ms/step, collective latency "
        f"{e.collective_latency_s * 1e6:g} us"
        + (f", TP all-reduce {allreduce * 1e6:g} us" if allreduce is not None else "")
    )
    t.notes.append("TPOT at the mean context (input + output/2); TTFT = prefill of the whole batch")
    t.notes.extend(r.notes)
    return [t]


def _cand_row(c: Candidate) -> list[Any]:
    p = c.point
    return [
        c.layout.gpus,
        c.gpu.id,
        c.layout.describe(),
        c.scheme.id,
        f"{p.ttft_ms:,.1f}" if p else "-",
        f"{p.tpot_ms:,.2f}" if p else "-",
        f"{p.tokens_per_s_total:,.0f}" if p else "-",
        gb(p.memory.total_bytes) if p else "-",
        "; ".join(c.failures) or "ok",
    ]


HEADERS = [
    "GPUs",
    "GPU",
    "layout",
    "quant",
    "TTFT ms",
    "TPOT ms",
    "tok/s total",
    "memory/GPU",
    "verdict",
]


def plan_tables(r: PlanResult, top: int) -> list[Table]:
    best = Table(
        f"accepted ({len(r.accepted)} of {r.evaluated} candidates), fewest GPUs first",
        HEADERS,
        [_cand_row(c) for c in r.accepted[:top]],
    )
    if not r.accepted:
        best.notes.append("no candidate fits and meets every target")
    cheapest = min((c.layout.gpus for c in r.accepted), default=None)
    rejected = [c for c in r.rejected if cheapest is None or c.layout.gpus <= cheapest]
    why = Table(
        "best rejected (fewer or as many GPUs), with the constraint that failed",
        HEADERS,
        [_cand_row(c) for c in rejected[:top]],
    )
    return [best, why]


def _cand_json(c: Candidate) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "gpu": c.gpu.id,
        "gpus": c.layout.gpus,
        "layout": c.layout.describe(),
        "tp": c.layout.tp,
        "ep": c.layout.ep,
        "pp": c.layout.pp,
        "dp": c.layout.dp,
        "quant": c.scheme.id,
        "failures": list(c.failures),
    }
    if c.point is not None:
        doc.update(point_json(c.point))
    return doc


def plan_json(spec: ModelSpec, r: PlanResult, top: int) -> dict[str, Any]:
    return {
        "model": spec.name,
        "evaluated": r.evaluated,
        "speculation": speculation_json(r.speculation),
        "best": _cand_json(r.accepted[0]) if r.accepted else None,
        "accepted": [_cand_json(c) for c in r.accepted[:top]],
        "rejected": [_cand_json(c) for c in r.rejected[:top]],
    }


def _median_text(m: float | None) -> str:
    return f"{m * 100:.1f}%" if m is not None else "n/a"


def _counted(results: list[Validation], fitting: bool) -> int:
    return sum(1 for v in results if v.counted and v.used_for_fitting == fitting)


def _row(v: Validation, status: str) -> list[Any]:
    return [
        v.id,
        v.metric,
        f"{v.published:,.3f} {v.unit}",
        f"{v.predicted:,.3f}" if v.predicted is not None else "-",
        pct(v.error) if v.error is not None else "-",
        v.engine or "-",
        status,
    ]


_HEADERS = ["record", "metric", "published", "predicted", "error", "engine", "status"]


def _status(v: Validation) -> str:
    """Why a record is not scored ("skipped: ...", "not counted: ..."), or "" when it is."""
    if v.skipped:
        return "skipped: " + v.skipped
    if v.far_from_roofline:
        return "not counted: " + v.far_from_roofline
    return ""


def validate_table(results: list[Validation], loo: list[LeaveOneOut] | None = None) -> Table:
    rows = [
        _row(
            v,
            _status(v)
            or (
                ("counted, used for fitting" if v.used_for_fitting else "counted, held out")
                if v.counted
                else "not a decode record"
            ),
        )
        for v in results
    ]
    t = Table(
        "validate: predicted vs published (shared/reference/measurements.yaml)", _HEADERS, rows
    )
    t.notes.append(
        f"median absolute error, held out (records used to set nothing), over "
        f"{_counted(results, False)} counted decode records: "
        + _median_text(median_abs_error(results, False))
    )
    t.notes.append(
        f"median absolute error, in sample (records an engine profile was set from), over "
        f"{_counted(results, True)}: " + _median_text(median_abs_error(results, True))
    )
    if loo:
        errs = [abs(x.error) for x in loo if x.error is not None]
        t.notes.append(
            "leave-one-out (the profile's fitted constant refitted without the record): "
            + ", ".join(f"{x.id} {pct(x.error) if x.error is not None else 'n/a'}" for x in loo)
            + (f"; median |error| {_median_text(statistics.median(errs))}" if errs else "")
        )
    return t


REGIMES = ("decode", "prefill")


def _counted_in(results: list[Validation], regime: str) -> int:
    return sum(1 for v in results if v.counts_in(regime))


def _counted_all(results: list[Validation]) -> int:
    return sum(1 for v in results if v.counts_in(v.regime))


def references_table(results: list[Validation]) -> Table:
    """The latency references (moeplan/data/latency_references.yaml): all held out, with the
    decode and prefill medians apart."""
    rows = [
        _row(
            v,
            _status(v)
            or f"counted ({v.regime}), held out"
            + (f"; same table as {v.same_table_as_fitted}" if v.same_table_as_fitted else ""),
        )
        for v in results
    ]
    t = Table(
        "validate: latency references used to set nothing (moeplan/data/latency_references.yaml)",
        _HEADERS,
        rows,
    )
    apart = _apart(results)
    for regime in REGIMES:
        t.notes.append(
            f"{regime}: median absolute error over {_counted_in(results, regime)} counted "
            f"records: {_median_text(median_abs_error(results, False, regime))}; over the "
            f"{_counted_in(apart, regime)} not from a fitted record's table: "
            + _median_text(median_abs_error(apart, False, regime))
        )
    t.notes.append(
        f"decode and prefill together: median absolute error over {_counted_all(results)} "
        f"counted records: {_median_text(median_abs_error(results, False, None))}"
    )
    return t


def _apart(results: list[Validation]) -> list[Validation]:
    """The references that share no table with a record an engine constant was set from."""
    return [v for v in results if not v.same_table_as_fitted]


def references_json(results: list[Validation]) -> dict[str, Any]:
    return {
        "source": "moeplan/data/latency_references.yaml",
        **{
            f"median_abs_error_{regime}": median_abs_error(results, False, regime)
            for regime in REGIMES
        },
        **{f"counted_{regime}": _counted_in(results, regime) for regime in REGIMES},
        "median_abs_error": median_abs_error(results, False, None),
        "counted": _counted_all(results),
        **{
            f"median_abs_error_{regime}_other_tables": median_abs_error(
                _apart(results), False, regime
            )
            for regime in REGIMES
        },
        **{
            f"counted_{regime}_other_tables": _counted_in(_apart(results), regime)
            for regime in REGIMES
        },
        "records": [
            {
                **_record_json(v),
                "regime": v.regime,
                "counted": v.counts_in(v.regime),
                "same_table_as_fitted": v.same_table_as_fitted or None,
            }
            for v in results
        ],
    }


def _record_json(v: Validation) -> dict[str, Any]:
    return {
        "id": v.id,
        "model": v.model,
        "metric": v.metric,
        "unit": v.unit,
        "published": v.published,
        "predicted": v.predicted,
        "error": v.error,
        "engine": v.engine,
        "counted": v.counted,
        "used_for_fitting": v.used_for_fitting,
        "skipped": v.skipped or None,
        "far_from_roofline": v.far_from_roofline or None,
        "reading": v.reading,
    }


def validate_json(
    results: list[Validation], loo: list[LeaveOneOut] | None = None
) -> dict[str, Any]:
    median = median_abs_error(results)
    return {
        "median_abs_error": median,
        "median_abs_error_held_out": median_abs_error(results, False),
        "median_abs_error_in_sample": median_abs_error(results, True),
        "counted": sum(1 for v in results if v.counted),
        "counted_held_out": _counted(results, False),
        "counted_in_sample": _counted(results, True),
        "leave_one_out": [
            {
                "id": x.id,
                "engine": x.engine,
                "constant": x.constant,
                "refitted": x.refitted,
                "error": x.error,
            }
            for x in loo or []
        ],
        "records": [_record_json(v) for v in results],
    }
