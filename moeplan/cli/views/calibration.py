"""Rows and JSON for `validate --calibration`: published records of the calibration's GPU,
predicted with the engine defaults and with the calibration."""

from __future__ import annotations

from typing import Any

from moeplan.cli.render import Table, pct
from moeplan.plan.validate_calibration import CalibratedValidation, median_abs_errors

HEADERS = [
    "id",
    "model",
    "metric",
    "published",
    "default",
    "error",
    "calibrated",
    "error",
    "counted",
]


def _median(x: float | None) -> str:
    return "n/a (no counted record)" if x is None else f"{x * 100:.1f}%"


def calibrated_table(rows: list[CalibratedValidation], path: str, gpu: str | None) -> Table:
    body = [
        [
            r.id,
            r.model,
            r.metric,
            f"{r.published:,.4g}",
            f"{r.default:,.4g}",
            pct(r.default_error),
            f"{r.calibrated:,.4g}",
            pct(r.calibrated_error),
            "yes" if r.counted else "no",
        ]
        for r in rows
    ]
    t = Table(
        f"validate with calibration {path} ({gpu or 'no catalog GPU'})",
        HEADERS,
        body,
    )
    before, after = median_abs_errors(rows)
    if not rows:
        t.notes.append(f"no published record on {gpu or 'this device'}: nothing to compare")
    t.notes.append(
        f"median |error| over counted records: defaults {_median(before)}, "
        f"calibrated {_median(after)}"
    )
    return t


def calibrated_json(rows: list[CalibratedValidation], path: str, gpu: str | None) -> dict[str, Any]:
    before, after = median_abs_errors(rows)
    return {
        "file": path,
        "gpu": gpu,
        "median_abs_error_default": before,
        "median_abs_error_calibrated": after,
        "records": [
            {
                "id": r.id,
                "model": r.model,
                "metric": r.metric,
                "published": r.published,
                "predicted_default": r.default,
                "predicted_calibrated": r.calibrated,
                "error_default": r.default_error,
                "error_calibrated": r.calibrated_error,
                "counted": r.counted,
            }
            for r in rows
        ],
    }
