"""Rows and JSON of `moeplan validate`'s expert-offload table: each published run beside its
prediction, the out-of-sample medians and the fit verdicts."""

from __future__ import annotations

import statistics
from typing import Any

from moeplan.cli.render import Table, pct
from moeplan.plan.validate_offload import (
    OffloadValidation,
    median_abs_error,
    median_out_of_sample_error,
    prefill_errors,
    verdicts,
)
from moeplan.plan.validate_offload_samebox import (
    SameBoxResult,
    same_box_median_abs_error,
    same_box_results,
)


def _same_box(results: list[OffloadValidation]) -> tuple[list[SameBoxResult], float | None]:
    """The runs a sibling of their box calibrates, and the same runs' out-of-sample median."""
    calibrated = [r for r in same_box_results() if r.error is not None]
    by_id = {v.id: v.out_of_sample_error for v in results}
    plain = [abs(e) for r in calibrated if (e := by_id.get(r.id)) is not None]
    return calibrated, statistics.median(plain) if plain else None


def _status(v: OffloadValidation) -> str:
    if v.skipped:
        return "skipped: " + v.skipped
    if v.metric == "fit":
        return "verdict right" if v.verdict_right else "verdict WRONG"
    if v.metric == "prefill_tok_s":
        return "prompt speed: reported, not in the median"
    if v.predicted is None:
        return "not predicted: the GPU part does not fit"
    over = (
        f"; moeplan sizes it {v.gpu_over_bytes / 1e9:.2f} GB over its GPU, though it ran"
        if v.gpu_over_bytes
        else ""
    )
    if v.used_for_fitting:
        out = "-" if v.publication_out_error is None else pct(v.publication_out_error)
        return f"sets the constant; out of sample: {out}{over}"
    return "held out" + over


def _shown(x: float | bool | None) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "fits" if x else "does not fit"
    return f"{x:,.2f}"


def offload_validate_table(results: list[OffloadValidation]) -> Table:
    rows = [
        [
            v.id,
            v.metric,
            _shown(v.published),
            _shown(v.predicted),
            pct(v.error) if v.error is not None else "-",
            v.engine or "-",
            "-" if v.n_cpu_moe is None else v.n_cpu_moe,
            _status(v),
        ]
        for v in results
    ]
    t = Table(
        "validate, expert offload: predicted vs published (moeplan/data/offload_measurements.yaml, "
        "offload_runs_*.yaml)",
        ["record", "metric", "published", "predicted", "error", "engine", "K", "status"],
        rows,
    )
    held, fit = median_abs_error(results, False), median_abs_error(results, True)
    out = median_out_of_sample_error(results)
    decode = [v for v in results if v.error is not None and v.metric == "decode_tok_s"]
    n_held = sum(1 for v in decode if not v.used_for_fitting)
    n_fit = len(decode) - n_held
    right, total = verdicts(results)
    if out is not None:
        t.notes.append(
            f"decode, out of sample: median |error| {out * 100:.1f}% over {len(decode)} (a record "
            "that sets its engine's constant predicted with the constant refit without every run "
            "of its publication, leave-publication-out; the others set nothing)"
        )
    if fit is not None:
        t.notes.append(
            f"decode records that set a constant, in sample: median |error| {fit * 100:.1f}% "
            f"over {n_fit}"
        )
    t.notes.append(
        f"decode records that set nothing: median |error| {held * 100:.1f}% over {n_held}"
        if held is not None
        else "no decode records outside the fitting pools"
    )
    prompt = prefill_errors(results)
    if prompt:
        every = [e for errors in prompt.values() for e in errors]
        parts = ", ".join(
            f"{family} {statistics.median(e) * 100:.1f}% over {len(e)}"
            for family, e in sorted(prompt.items())
        )
        t.notes.append(
            f"prompt speed (reported; no constant is fitted to it): median |error| "
            f"{statistics.median(every) * 100:.1f}% over {len(every)} ({parts})"
        )
    calibrated, plain = _same_box(results)
    if calibrated and plain is not None:
        same = same_box_median_abs_error(calibrated) or 0.0
        t.notes.append(
            f"decode, each run predicted from the host read a sibling run of its box implies "
            f"(latency --calibrate-host): median |error| {same * 100:.1f}% over {len(calibrated)} "
            f"runs on {len({r.box for r in calibrated})} boxes (the same runs out of sample: "
            f"{plain * 100:.1f}%)"
        )
    t.notes.append(f"fit/no-fit verdicts right: {right} of {total}")
    over = [v.id for v in results if v.gpu_over_bytes]
    if over:
        t.notes.append(
            f"speed runs moeplan sizes over their GPU though they ran (speed priced anyway): "
            f"{len(over)} ({', '.join(over)})"
        )
    return t


def offload_validate_json(results: list[OffloadValidation]) -> dict[str, Any]:
    right, total = verdicts(results)
    calibrated, plain = _same_box(results)
    return {
        "same_box_calibrated": {
            "median_abs_error": same_box_median_abs_error(calibrated),
            "median_abs_error_uncalibrated": plain,
            "runs": len(calibrated),
            "boxes": len({r.box for r in calibrated}),
            "records": [
                {"id": r.id, "box": r.box, "error": r.error, "calibrations": r.calibrations}
                for r in calibrated
            ],
        },
        "median_abs_error_out_of_sample": median_out_of_sample_error(results),
        "median_abs_error_held_out": median_abs_error(results, False),
        "median_abs_error_fitting": median_abs_error(results, True),
        "verdicts_right": right,
        "verdicts": total,
        "speed_runs_over_gpu": sum(1 for v in results if v.gpu_over_bytes),
        "median_abs_error_prefill": {
            family: statistics.median(errors) for family, errors in prefill_errors(results).items()
        },
        "records": [
            {
                "id": v.id,
                "metric": v.metric,
                "published": v.published,
                "predicted": v.predicted,
                "error": v.error,
                "used_for_fitting": v.used_for_fitting,
                "leave_publication_out_error": v.publication_out_error,
                "gpu_over_bytes": v.gpu_over_bytes,
                "engine": v.engine or None,
                "n_cpu_moe": v.n_cpu_moe,
                "verdict_right": v.verdict_right,
                "skipped": v.skipped or None,
                "reading": v.reading,
            }
            for v in results
        ],
    }
