"""`latency --offload sweep`: the K values a sweep shows, what each row prices, and the inputs it
refuses."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.perf.offload_sweep import sweep_ks

runner = CliRunner()
SIZE = ["size", "gpt-oss-120b", "--gpu", "rtx-4090", "--host", "ryzen-9-9950x"]
LATENCY = ["latency", "gpt-oss-120b", "--gpu", "rtx-4090", "--host", "ryzen-9-9950x"]


@pytest.mark.parametrize(
    ("layers", "auto", "ks"),
    [
        (36, 24, [22, 23, 24, 26, 28, 30, 32, 34, 36]),
        (94, 0, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 94]),
        (36, 1, [0, 1, 5, 9, 13, 17, 21, 25, 29, 33, 36]),
        (36, 36, [34, 35, 36]),  # even every layer in RAM: the GPU part does not fit
    ],
)
def test_sweep_ks(layers, auto, ks):
    assert sweep_ks(layers, auto) == ks


def test_sweep_ks_refuses_an_auto_k_outside_the_layers():
    with pytest.raises(ValueError, match="outside"):
        sweep_ks(36, 37)


def test_sweep_rows_price_each_k_as_latency_would():
    r = runner.invoke(app, [*LATENCY, "--offload", "sweep", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    rows = doc["rows"]
    ks = [row["n_cpu_moe"] for row in rows]
    assert ks == sorted(ks) and ks[-1] == 36 and doc["auto_n_cpu_moe"] in ks
    auto = next(row for row in rows if row["n_cpu_moe"] == doc["auto_n_cpu_moe"])
    assert auto["fits_gpu"]
    below = [row for row in rows if row["n_cpu_moe"] < doc["auto_n_cpu_moe"]]
    assert below and all(row["decode_tok_s"] is None for row in below if not row["fits_gpu"])
    # more experts in RAM: less on the GPU, more host reads a token, never faster
    fitting = [row for row in rows if row["fits_gpu"]]
    gpu = [row["gpu_bytes"] for row in fitting]
    speed = [row["decode_tok_s"] for row in fitting]
    assert gpu == sorted(gpu, reverse=True)
    assert speed == sorted(speed, reverse=True)
    one = runner.invoke(app, [*LATENCY, "--n-cpu-moe", str(ks[-2]), "--json"])
    single = json.loads(one.output)
    assert rows[-2]["decode_tok_s"] == pytest.approx(single["decode_tok_s"], rel=1e-3)
    assert rows[-2]["gpu_bytes"] == single["placement"]["gpu_bytes"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([*LATENCY, "--offload", "sweep", "--n-cpu-moe", "30"], "chooses K itself"),
        ([*SIZE, "--offload", "sweep"], "a table of `moeplan latency`"),
        ([*LATENCY, "--offload", "sweeps"], "none, experts, auto or sweep"),
    ],
)
def test_sweep_refusals(args, needle):
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert needle in r.output and len(r.output.strip().splitlines()) == 1, r.output
