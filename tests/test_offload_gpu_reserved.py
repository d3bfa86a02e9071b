"""--gpu-reserved-gb: VRAM other processes hold comes off the GPU's capacity in every offload path
(placement, --offload auto, latency/size/plan, check budgets); bad values exit 2 in one line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import resolve_gpu
from moeplan.hardware.hosts import resolve_host
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.offload import estimate_offload
from moeplan.perf.offload_engines import OFFLOAD_ENGINES
from moeplan.perf.offload_placement import auto_n_cpu_moe, place

runner = CliRunner()
LLAMACPP = OFFLOAD_ENGINES["llamacpp"]
SIZE = ["size", "gpt-oss-120b", "--gpu", "rtx-5090", "--host", "ryzen-9-9950x"]


def _parts():
    spec = load_model("gpt-oss-120b")
    return spec, resolve_scheme("native", spec), resolve_gpu("rtx-5090")


def test_reserve_comes_off_capacity_only():
    spec, scheme, gpu = _parts()
    host = resolve_host("ryzen-9-9950x")
    free = place(spec, scheme, gpu, host, LLAMACPP, 20, 8192)
    held = place(spec, scheme, gpu, host, LLAMACPP, 20, 8192, gpu_reserved_bytes=1_500_000_000)
    assert free.gpu_capacity_bytes - held.gpu_capacity_bytes == 1_500_000_000
    assert held.gpu_bytes == free.gpu_bytes  # what the engine allocates does not change
    assert held.host_bytes == free.host_bytes


def test_auto_moves_more_experts_to_ram_with_a_desktop_on_the_card():
    spec, scheme, gpu = _parts()
    host = resolve_host("ryzen-9-9950x")
    headless = auto_n_cpu_moe(spec, scheme, gpu, host, LLAMACPP, 32768)
    # a reserve of one layer's experts and more must cost at least one more layer in RAM
    one_layer = place(spec, scheme, gpu, host, LLAMACPP, 1, 32768)
    none = place(spec, scheme, gpu, host, LLAMACPP, 0, 32768)
    reserve = (none.gpu_bytes - one_layer.gpu_bytes) + 1
    desktop = auto_n_cpu_moe(spec, scheme, gpu, host, LLAMACPP, 32768, gpu_reserved_bytes=reserve)
    assert desktop.n_cpu_moe > headless.n_cpu_moe
    assert desktop.fits_gpu
    r = estimate_offload(
        spec, scheme, gpu, host, LLAMACPP, "auto", input_len=32000, gpu_reserved_bytes=reserve
    )
    assert r.placement.gpu_reserved_bytes == reserve


@pytest.mark.parametrize("reserved", [-1, 34_190_000_000_000])
def test_reserve_outside_the_card_is_refused(reserved):
    spec, scheme, gpu = _parts()
    with pytest.raises(MoeplanError, match="held by other processes"):
        host = resolve_host("ryzen-9-9950x")
        place(spec, scheme, gpu, host, LLAMACPP, 20, 8192, gpu_reserved_bytes=reserved)


def test_cli_shows_and_reports_the_reserve():
    base = json.loads(runner.invoke(app, [*SIZE, "--offload", "auto", "--json"]).stdout)
    r = runner.invoke(app, [*SIZE, "--offload", "auto", "--gpu-reserved-gb", "2", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["placement"]["gpu_reserved_bytes"] == 2_000_000_000
    assert (
        base["placement"]["gpu_capacity_bytes"] - doc["placement"]["gpu_capacity_bytes"]
        == 2_000_000_000
    )
    assert doc["placement"]["n_cpu_moe"] >= base["placement"]["n_cpu_moe"]
    table = runner.invoke(app, [*SIZE, "--n-cpu-moe", "20", "--gpu-reserved-gb", "2"])
    assert table.exit_code == 0 and "held by other processes" in table.stdout
    lat_args = ["latency", "gpt-oss-120b", "--gpu", "rtx-5090", "--host", "ryzen-9-9950x"]
    lat = runner.invoke(app, [*lat_args, "--n-cpu-moe", "20", "--gpu-reserved-gb", "1.5", "--json"])
    assert json.loads(lat.stdout)["placement"]["gpu_reserved_bytes"] == 1_500_000_000


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([*SIZE, "--offload", "auto", "--gpu-reserved-gb", "nan"], "--gpu-reserved-gb"),
        ([*SIZE, "--offload", "auto", "--gpu-reserved-gb", "-1"], "--gpu-reserved-gb"),
        ([*SIZE, "--offload", "auto", "--gpu-reserved-gb", "40"], "held by other processes"),
        (["size", "gpt-oss-120b", "--gpu", "rtx-5090", "--gpu-reserved-gb", "1"], "--offload"),
        (["latency", "gpt-oss-120b", "--gpu", "rtx-5090", "--gpu-reserved-gb", "1"], "--offload"),
        (["plan", "gpt-oss-120b", "--gpu", "rtx-5090", "--gpu-reserved-gb", "1"], "--host"),
    ],
)
def test_cli_bad_reserve_exits_2_in_one_line(args, needle):
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output


def test_plan_offload_candidates_take_the_reserve():
    args = ["plan", "gpt-oss-120b", "--gpu", "rtx-5090", "--host", "ryzen-9-9950x", "--json"]
    r = runner.invoke(app, [*args, "--gpu-reserved-gb", "1.5"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    found = json.dumps(doc)
    assert '"gpu_reserved_bytes": 1500000000' in found


def test_budget_field(tmp_path):
    budgets = tmp_path / "b.yaml"
    row = (
        "  - {{name: desk, model: gpt-oss-120b, gpu: rtx-5090, host: ryzen-9-9950x,\n"
        "     offload: auto, context: 8192, gpu_reserved_gb: {v},\n"
        "     limits: {{min_decode_tokens_per_s: 1}}}}\n"
    )
    budgets.write_text("budgets:\n" + row.format(v=1.5))
    assert runner.invoke(app, ["check", str(budgets)]).exit_code == 0
    for bad, needle in (("40", "field 'gpu_reserved_gb'"), (".nan", "non-finite")):
        budgets.write_text("budgets:\n" + row.format(v=bad))
        r = runner.invoke(app, ["check", str(budgets)])
        assert r.exit_code == 2 and needle in r.output and "Traceback" not in r.output
