"""`moeplan latency ... --calibrate-host TOK_S`: the host read rate one measured decode run implies
(plan/host_calibration.py), the host file it writes read back through --host FILE, its refusals,
and validate's same-box figure (plan/validate_offload_samebox.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.errors import MoeplanError
from moeplan.plan.host_calibration import MIN_READ_BYTES_PER_S, calibrate_read
from moeplan.plan.validate_offload_samebox import same_box_results

runner = CliRunner()

RUN = [
    "latency",
    "qwen3-30b-a3b",
    "--quant",
    "q4_k_m",
    "--gpu",
    "rtx-3060",
    "--host",
    "ryzen-7-5700x",
    "--host-ram-gb",
    "64",
    "--n-cpu-moe",
    "40",
]


def _toy(gpu_s: float, host_bytes: float) -> object:
    """decode tok/s of a step: a GPU part plus host bytes over the read rate."""
    return lambda read: 1.0 / (gpu_s + host_bytes / read)


def test_bisection_recovers_the_read_that_made_the_speed() -> None:
    decode = _toy(0.005, 2e9)
    observed = decode(41.3e9)
    cal = calibrate_read(decode, observed, 30e9, 60e9, lambda _: "host memory bandwidth")
    assert cal.read_bytes_per_s == pytest.approx(41.3e9, rel=1e-6)
    assert cal.estimated_tok_s == pytest.approx(decode(30e9))
    assert cal.read_vs_host == pytest.approx(41.3 / 30, rel=1e-6)


def test_the_engine_share_lets_the_read_pass_the_theoretical_rate() -> None:
    """The engine reaching its share of the read: at share 0.5 the search goes to 2x theoretical
    (the experts then stream at the whole theoretical rate), and no further."""
    decode = _toy(0.005, 2e9)
    cal = calibrate_read(decode, decode(90e9), 30e9, 60e9, lambda _: "x", engine_share=0.5)
    assert cal.read_bytes_per_s == pytest.approx(90e9, rel=1e-6)
    with pytest.raises(MoeplanError, match="faster than moeplan's decode estimate"):
        calibrate_read(decode, decode(130e9), 30e9, 60e9, lambda _: "x", engine_share=0.5)


@pytest.mark.parametrize("observed", [0.0, -3.0, math.nan, math.inf])
def test_nonsense_speeds_are_refused(observed: float) -> None:
    with pytest.raises(MoeplanError, match="positive tok/s"):
        calibrate_read(_toy(0.005, 2e9), observed, 30e9, 60e9, lambda _: "x")


def test_a_run_slower_than_any_dram_is_refused() -> None:
    decode = _toy(0.005, 2e9)
    with pytest.raises(MoeplanError, match="not bound by DRAM reads"):
        calibrate_read(decode, decode(MIN_READ_BYTES_PER_S) * 0.5, 30e9, 60e9, lambda _: "x")


def test_a_run_faster_than_the_gpu_side_allows_names_the_bound() -> None:
    decode = _toy(0.050, 2e9)  # 20 tok/s at most, whatever the read
    with pytest.raises(MoeplanError, match="bound by GPU memory bandwidth"):
        calibrate_read(decode, 25.0, 30e9, None, lambda _: "GPU memory bandwidth")


def _decode(args: list[str]) -> float:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return float(json.loads(result.output)["decode_tok_s"])


def test_the_host_file_reproduces_the_run_and_prices_other_placements(tmp_path: Path) -> None:
    before = _decode(RUN)
    observed = round(before * 0.8, 2)  # a box slower than the catalog's estimate
    out = tmp_path / "box.yaml"
    result = runner.invoke(app, [*RUN, "--calibrate-host", str(observed), "--write-host", str(out)])
    assert result.exit_code == 0, result.output
    assert "calibrated host read" in result.output
    host = yaml.safe_load(out.read_text())["host"]
    assert host["segment"] == "user" and "calibrated by moeplan latency" in host["sources"][0]
    assert "ram_gb" not in host or host["ram_gb"] != 0  # not the catalog's reference size
    again = [*RUN[:6], "--host", str(out), "--host-ram-gb", "64", *RUN[10:]]
    assert _decode(again) == pytest.approx(observed, rel=0.005)
    # another placement on the same box: slower than the catalog's estimate there too
    other = [a if a != "40" else "24" for a in again]
    catalog_other = [a if a != "40" else "24" for a in RUN]
    assert _decode(other) < _decode(catalog_other)


def test_json_and_overwrite_refusal(tmp_path: Path) -> None:
    out = tmp_path / "box.yaml"
    observed = round(_decode(RUN) * 1.1, 2)
    args = [*RUN, "--calibrate-host", str(observed), "--write-host", str(out), "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    doc = json.loads(first.output)
    assert doc["calibrated_decode_tok_s"] == pytest.approx(observed, rel=1e-6)
    assert doc["calibrated_read_bytes_per_s"] > doc["host_read_bytes_per_s"]
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "use --force" in again.output
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--calibrate-host", "1e6"], "no host read explains it"),
        (["--calibrate-host", "0"], "positive tok/s"),
        (["--offload", "sweep", "--calibrate-host", "10"], "not sweep"),
    ],
)
def test_cli_refusals_are_one_line(tmp_path: Path, extra: list[str], message: str) -> None:
    out = tmp_path / "box.yaml"
    result = runner.invoke(app, [*RUN, *extra, "--write-host", str(out)])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_calibration_needs_an_offload_run(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["latency", "qwen3-30b-a3b", "--gpu", "h100", "--calibrate-host", "30"]
    )
    assert result.exit_code == 2 and "add --offload or --n-cpu-moe" in result.output
    result = runner.invoke(app, [*RUN, "--write-host", str(tmp_path / "x.yaml")])
    assert result.exit_code == 2 and "--calibrate-host TOK_S" in result.output


def test_same_box_rows_come_from_boxes_with_a_calibrating_sibling() -> None:
    rows = same_box_results()
    boxes: dict[str, int] = {}
    for r in rows:
        boxes[r.box] = boxes.get(r.box, 0) + 1
    assert rows and all(boxes[r.box] >= 2 for r in rows)
    assert all((r.error is None) == (r.calibrations == 0) for r in rows)
    assert all(r.calibrations < boxes[r.box] for r in rows)  # never the run itself


def test_the_readme_quotes_validates_same_box_figures() -> None:
    """The README's same-box sentence is what `moeplan validate` prints today."""
    import re

    from moeplan.cli.views.offload_validate import offload_validate_json
    from moeplan.plan.validate_offload import validate_offload_all

    text = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    quoted = re.search(
        r"median \|error\| of ([\d.]+)% over (\d+) runs on (\d+) boxes, where the same runs are "
        r"at ([\d.]+)%",
        text,
    )
    assert quoted is not None
    same = offload_validate_json(validate_offload_all())["same_box_calibrated"]
    assert float(quoted[1]) == round(same["median_abs_error"] * 100, 1)
    assert (int(quoted[2]), int(quoted[3])) == (same["runs"], same["boxes"])
    assert float(quoted[4]) == round(same["median_abs_error_uncalibrated"] * 100, 1)
    assert same["median_abs_error"] < same["median_abs_error_uncalibrated"]
