"""The latency references (moeplan/data/latency_references.yaml): used to set nothing, reported
by `validate` apart, decode and prefill medians separate, and the prefill error band."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.hardware.gpus import resolve_gpu
from moeplan.perf.engines import ENGINES
from moeplan.plan.validate import (
    error_band_pct,
    load_measurements,
    load_references,
    median_abs_error,
    predict_metric,
    time_error,
    validate_references,
)

REQUIRED = ("id", "model", "hardware", "engine", "batch_size", "metric", "value", "unit", "source")
HOW = ("model", "quant", "gpu", "engine", "metric", "batch", "input_len", "output_len", "tp", "pp")


def test_references_set_nothing_and_are_new():
    refs = load_references()
    ids = [r["id"] for r in refs]
    assert len(ids) == len(set(ids))
    fitted = {rid for e in ENGINES.values() for rid in e.fitted_on}
    assert not fitted & set(ids)
    assert not {r["id"] for r in load_measurements()} & set(ids)  # not already in the repo


def test_every_reference_is_cited_and_fully_stated():
    for rec in load_references():
        for key in REQUIRED:
            assert rec.get(key) not in (None, ""), (rec["id"], key)
        assert rec["value"] > 0
        how = rec["moeplan"]
        for key in HOW:
            assert key in how, (rec["id"], key)
        if "skip" not in how:
            resolve_gpu(how["gpu"])  # a GPU moeplan knows, or the record says why it is skipped


def test_references_report_decode_and_prefill_apart():
    results = validate_references()
    decode = [v for v in results if v.counts_in("decode")]
    prefill = [v for v in results if v.counts_in("prefill")]
    assert len(decode) >= 8 and len(prefill) >= 3
    assert not any(v.used_for_fitting for v in results)
    assert all(v.skipped for v in results if v.predicted is None)
    for regime, group in (("decode", decode), ("prefill", prefill)):
        errors = sorted(abs(v.error) for v in group if v.error is not None)
        m = median_abs_error(results, False, regime)
        assert m is not None and math.isfinite(m)
        n = len(errors)  # median by hand: the middle one, or the mean of the middle two
        assert m == pytest.approx(
            errors[n // 2] if n % 2 else (errors[n // 2 - 1] + errors[n // 2]) / 2
        )


def test_the_combined_median_takes_each_reference_in_its_own_regime():
    """regime None: the decode and the prefill records in one median (the issue's done-when
    figure), each record counted once."""
    results = validate_references()
    errors = sorted(abs(v.error) for v in results if v.counts_in(v.regime) and v.error is not None)
    n = len(errors)
    assert n == sum(1 for v in results if v.counts_in("decode") or v.counts_in("prefill"))
    middle = errors[n // 2] if n % 2 else (errors[n // 2 - 1] + errors[n // 2]) / 2
    assert median_abs_error(results, False, None) == pytest.approx(middle)


def test_prefill_band_comes_from_the_held_out_prefill_records():
    """llama.cpp has at least 3 counted prefill references, so its prefill band is their
    [lowest, highest] time residual; speed errors read as time: a record 10% fast in tokens/s
    is 1 / 1.10 - 1 = -9.1% in time."""
    results = [v for v in validate_references() if v.counts_in("prefill")]
    times = [time_error(v) for v in results if v.engine == "llamacpp"]
    values = [t for t in times if t is not None]
    assert len(values) >= 3
    assert error_band_pct("llamacpp", "prefill") == [
        round(min(values) * 100, 1),
        round(max(values) * 100, 1),
    ]
    assert str(error_band_pct("vllm", "prefill")).startswith("n/a: 0 out-of-sample prefill")


def test_ttft_metric_is_the_prefill_time():
    class P:  # a LatencyPoint stand-in with only what predict_metric reads
        ttft_ms = 127.0

    assert predict_metric("ttft_ms", P()) == 127.0  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["json", "markdown", "table"])
def test_validate_reports_the_references_in_every_format(fmt):
    r = CliRunner().invoke(app, ["validate", "--format", fmt])
    assert r.exit_code == 0
    if fmt == "json":
        doc = json.loads(r.stdout)
        refs = doc["latency_references"]
        assert refs["counted_decode"] >= 8 and refs["counted_prefill"] >= 3
        assert refs["median_abs_error_decode"] > 0 and refs["median_abs_error_prefill"] > 0
        assert refs["counted"] == refs["counted_decode"] + refs["counted_prefill"]
        medians = (refs["median_abs_error_decode"], refs["median_abs_error_prefill"])
        assert min(medians) <= refs["median_abs_error"] <= max(medians)  # union's median
        assert {x["regime"] for x in refs["records"]} == {"decode", "prefill"}
        assert "NaN" not in r.stdout and "Infinity" not in r.stdout
    else:
        assert "latency_references.yaml" in r.stdout
        assert "decode: median absolute error over" in r.stdout
        assert "prefill: median absolute error over" in r.stdout
        assert "decode and prefill together: median absolute error over" in r.stdout


def test_a_shared_table_names_a_fitted_record():
    """Records from the table of a fitted record say so, and the note/JSON report the median
    without them too."""
    fitted = {rid for e in ENGINES.values() for rid in e.fitted_on}
    results = validate_references()
    shared = [v for v in results if v.same_table_as_fitted]
    assert shared and all(v.same_table_as_fitted in fitted for v in shared)
    apart = [v for v in results if not v.same_table_as_fitted]
    doc = json.loads(CliRunner().invoke(app, ["validate", "--json"]).stdout)["latency_references"]
    assert doc["median_abs_error_decode_other_tables"] == median_abs_error(apart, False, "decode")
    assert doc["counted_decode_other_tables"] == sum(1 for v in apart if v.counts_in("decode"))
