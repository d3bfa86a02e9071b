"""Bad input found by the 2026-12-06 fuzz sweep (/work/notes/fuzz_2026-12-06.py): each case is
one line on stderr and exit 2 (never 3, never 0 with nonsense, never a replaced input file)."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.plan.budget import LimitResult
from tests.test_hardening import BUDGET

runner = CliRunner()
LONG = "a" * 300  # above NAME_MAX (255): the file system refuses the path


def refused(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 2, (r.exit_code, r.stdout[-300:], r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    return r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("size", "mixtral-8x7b", "--gpu", LONG),
        ("size", "mixtral-8x7b", "--host", LONG),
        ("size", f"org/{LONG}"),
        ("latency", "mixtral-8x7b", "--gpu", LONG),
    ],
)
def test_too_long_a_name_is_bad_input(args):
    err = refused(*args)
    assert "internal error" not in err


@pytest.mark.parametrize(
    "args",
    [
        ("throughput", "mixtral-8x7b", "--gpu", "h100", "--gpus", "4", "--input", "1000",
         "--output", "200", "--gpu-hour-usd", "1e308"),
        ("plan", "gpt-oss-120b", "--gpu", "rtx-4080", "--host", "ryzen-9-9950x",
         "--gpu-reserved-gb", "1e308"),
    ],
)  # fmt: skip
def test_float_options_have_a_ceiling(args):
    assert "in [0, 1e+09]" in refused(*args)


def _calibration(tmp_path, **measured):
    doc = {
        "schema": "moeplan-calibration/1",
        "device": {"name": "x", "catalog_id": "h100-sxm"},
        "measured": {"copy_bandwidth_bytes_per_s": 2e12, "gemm_flops": {"bf16": 6e14}, **measured},
    }
    path = tmp_path / "cal.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


@pytest.mark.parametrize(
    "measured",
    [{"copy_bandwidth_bytes_per_s": 1e-300}, {"gemm_flops": {"bf16": 1e-300}}],
)
def test_calibration_rates_below_a_megabyte_per_second_are_refused(tmp_path, measured):
    cal = _calibration(tmp_path, **measured)
    err = refused("latency", "mixtral-8x7b", "--gpu", "h100-sxm", "--gpus", "2",
                  "--calibration", cal, "--json")  # fmt: skip
    assert "unit error" in err


def test_a_good_calibration_still_reads(tmp_path):
    r = runner.invoke(app, ["latency", "mixtral-8x7b", "--gpu", "h100-sxm", "--gpus", "2",
                            "--calibration", _calibration(tmp_path), "--json"])  # fmt: skip
    assert r.exit_code == 0, r.stderr


def test_a_non_finite_budget_value_is_a_defect_not_a_verdict():
    with pytest.raises(ValueError, match="computed as nan"):
        LimitResult("b", "f", "min_decode_tokens_per_s", 20.0, math.nan, upper=False)
    tiny = LimitResult("b", "f", "min_decode_tokens_per_s", 1e-308, 5.0, upper=False)
    assert tiny.passed and tiny.headroom is None  # no infinite fraction


def test_render_refuses_non_finite_numbers():
    from moeplan.cli.render import Table, emit

    with pytest.raises(ValueError, match="non-finite"):
        emit([Table("t", ("a", "b"), [("x", "nan")])], "markdown")
    with pytest.raises(ValueError):
        emit([], "json", {"x": math.inf})


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"name": ""}, "'name' must not be empty"),
        ({"batch": 4, "concurrency": 64}, "give one"),
        ({"limits": {"max_gpus": 1.5}}, "whole number"),
    ],
)
def test_budget_contradictions_are_refused(tmp_path, change, expected):
    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump({"budgets": [{**BUDGET, **change}]}))
    assert expected in refused("check", str(path))


def test_price_file_names_a_known_gpu(tmp_path):
    path = tmp_path / "p.json"
    rec = {"gpu": "nonsense", "usd_per_gpu_hour": 2.5, "provider": "me", "source": "me"}
    path.write_text(json.dumps({"prices": [rec]}))
    args = ("throughput", "mixtral-8x7b", "--gpu", "h100", "--gpus", "4", "--input", "1000",
            "--output", "200", "--price-file", str(path))  # fmt: skip
    assert "unknown GPU 'nonsense'" in refused(*args)
    path.write_text(json.dumps({"prices": [{**rec, "gpu": "H100"}]}))  # an alias: its id
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["price"]["usd_per_gpu_hour"] == 2.5


def test_plot_never_replaces_an_input_or_an_existing_file(tmp_path):
    gpu = tmp_path / "gpu48.svg"  # a GPU file with a plot's suffix
    gpu.write_text("name: g48\nmemory_mib: 49140\nmem_bw_gbps: 1000\nbf16_tflops: 165\n")
    before = gpu.read_text()
    refused("throughput", "mixtral-8x7b", "--gpu", str(gpu), "--gpus", "2", "--input", "100",
            "--output", "100", "--plot", str(gpu), "--force")  # fmt: skip
    refused("plan", "mixtral-8x7b", "--gpu", str(gpu), "--users", "20", "--plot", str(gpu),
            "--force")  # fmt: skip
    assert gpu.read_text() == before
    kept = tmp_path / "plan.svg"
    kept.write_text("KEEP")
    assert "use --force" in refused(
        "plan", "mixtral-8x7b", "--gpu", "h100", "--users", "20", "--plot", str(kept)
    )
    assert kept.read_text() == "KEEP"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("size", "mixtral-8x7b", "--quant", "int4,experts=int4,experts=fp8"), "given twice"),
        (("plan", "mixtral-8x7b", "--gpu", "h100", "--rank", "nonsense"), "--rank"),
        (("size", "mixtral-8x7b", "--json", "--format", "markdown"), "two formats"),
    ],
)
def test_contradictions_on_the_command_line(args, expected):
    assert expected in refused(*args)


@pytest.mark.parametrize(
    "host_option",
    [
        ["--host", "epyc-9355"],
        ["--host-mem-gbps", "400"],
        ["--host-ram-gb", "512"],
        ["--host-cores", "32"],
        ["--gpu-reserved-gb", "1"],
    ],
)
def test_plan_with_a_demand_refuses_host_options_it_would_ignore(host_option: list[str]):
    """A demand plans GPU deployments only: a host option (a catalog host or a custom one) is
    refused in one line, not silently dropped."""
    msg = refused("plan", "mixtral-8x7b", "--gpu", "h100", "--users", "20", *host_option)
    assert "plan one batch" in msg
