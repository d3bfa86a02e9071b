"""`moeplan profile`: the CPU path of the same code, backends against each other, calibration
files, collectives over gloo on the loopback. GPU-only tests skip without CUDA."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import yaml

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from moeplan.cli import app  # noqa: E402
from moeplan.errors import CalibrationError  # noqa: E402
from moeplan.perf.calibration import (  # noqa: E402
    SCHEMA,
    SCHEMA_V1,
    interpolate_log2,
    load_calibration,
)
from moeplan.profile.moe import (  # noqa: E402
    MoEShape,
    experts_gather_bmm,
    experts_grouped_mm,
    experts_loop,
    grouped_mm_available,
    make_layer,
    plan_routing,
)

runner = CliRunner()
HAS_CUDA = torch.cuda.is_available()


@pytest.fixture(scope="module")
def cpu_calibration(tmp_path_factory):
    path = tmp_path_factory.mktemp("cal") / "cpu.yaml"
    r = runner.invoke(
        app,
        [
            "profile",
            "--device",
            "cpu",
            "--quick",
            "--repeats",
            "2",
            "--output",
            str(path),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    return path, json.loads(r.stdout)


def test_cpu_profile_writes_a_valid_calibration(cpu_calibration):
    path, out = cpu_calibration
    doc = yaml.safe_load(path.read_text())
    assert doc["schema"] == SCHEMA
    assert doc["device"]["identity_source"] == "cpu"
    assert doc["software"]["torch"]
    assert doc["measured"]["copy_bandwidth_bytes_per_s"] > 0
    curves = doc["moe"]["curves"]
    assert {"torch-loop", "torch-gather-bmm"} <= set(curves)
    for rows in curves.values():
        for row in rows:
            assert row["seconds"] > 0 and row["bytes"] > 0 and 0 < row["distinct_experts"] <= 16
    cal = load_calibration(str(path))
    assert cal.moe_curve and cal.copy_bw_bytes_per_s > 0
    # schema 2: curves per weight dtype (fp32 on CPU, int4) over two expert shapes, attention
    eff = doc["moe"]["efficiency"]
    assert {"fp32", "int4"} <= set(eff) and len(eff["fp32"]) == 2
    assert len(cal.moe_curves) >= 4 and cal.attention_decode and cal.attention_prefill
    assert out["calibration"] == str(path)


def test_profile_never_overwrites(cpu_calibration):
    path, _ = cpu_calibration
    before = path.read_text()
    r = runner.invoke(app, ["profile", "--device", "cpu", "--quick", "--output", str(path)])
    assert r.exit_code == 2 and "refusing to overwrite" in r.stderr
    assert path.read_text() == before


def test_compare_existing_calibration(cpu_calibration):
    path, _ = cpu_calibration
    r = runner.invoke(app, ["profile", "--compare", "--calibration", str(path), "--json"])
    assert r.exit_code == 0, r.output
    kernels = json.loads(r.stdout)["kernels"]
    moe = [k for k in kernels if k["kernel"].startswith("moe")]
    assert moe and all(k["calibrated_s"] > 0 for k in moe)
    assert any(k["leave_one_out_s"] is not None for k in moe)


@pytest.mark.skipif(HAS_CUDA, reason="checks the message shown when CUDA is absent")
def test_no_cuda_is_one_line_exit_2():
    r = runner.invoke(app, ["profile"])
    assert r.exit_code == 2
    assert "no CUDA GPU" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_no_torch_is_one_line_exit_2(tmp_path):
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from typer.testing import CliRunner\nfrom moeplan.cli import app\n"
        "r = CliRunner().invoke(app, ['profile', '--device', 'cpu'])\n"
        "print(r.exit_code, r.stderr.strip())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.startswith("2 moeplan: error: profile needs PyTorch")


def test_without_nvml_identity_comes_from_torch(monkeypatch):
    from moeplan.profile import device

    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert device._nvml(object()) is None


def test_catalog_matching_of_device_names():
    from moeplan.profile.device import match_catalog

    assert match_catalog("NVIDIA H100 80GB HBM3").id == "h100-sxm"
    assert match_catalog("NVIDIA H100 PCIe").id == "h100-pcie"
    assert match_catalog("NVIDIA H200").id == "h200"
    assert match_catalog("NVIDIA A100-SXM4-40GB").id == "a100-40gb"
    assert match_catalog("Some Future GPU") is None


@pytest.mark.parametrize("tokens, skewed", [(1, False), (7, True), (33, False)])
def test_backends_agree(tokens, skewed):
    shape = MoEShape(64, 96, 8, 2)
    layer = make_layer(shape, "cpu", torch.float32)
    ids, w = plan_routing(tokens, shape, skewed, "cpu")
    x = torch.randn(tokens, 64)
    ref = experts_loop(x, ids, w, layer)
    # a direct per-token reference: sum_k w_k * down(silu(gate x) * up x)
    direct = torch.zeros_like(ref)
    for t in range(tokens):
        for j in range(2):
            e = ids[t, j]
            h = layer.w13[e] @ x[t]
            direct[t] += w[t, j] * (layer.w2[e] @ (torch.nn.functional.silu(h[:96]) * h[96:]))
    assert torch.allclose(ref, direct, atol=1e-5)
    assert torch.allclose(experts_gather_bmm(x, ids, w, layer), ref, atol=1e-5)
    if grouped_mm_available("cpu", torch.float32) is None:
        assert torch.allclose(experts_grouped_mm(x, ids, w, layer), ref, atol=1e-5)


def test_triton_kernel_in_interpreter():
    """The Triton backend's arithmetic, on CPU through Triton's interpreter (needs triton)."""
    pytest.importorskip("triton")
    pytest.importorskip("numpy")
    code = (
        "import torch\n"
        "from moeplan.profile.moe import MoEShape, make_layer, plan_routing, experts_loop\n"
        "from moeplan.profile.triton_moe import experts_triton\n"
        "s = MoEShape(64, 96, 8, 2); L = make_layer(s, 'cpu', torch.float32)\n"
        "for T in (1, 5, 40):\n"
        "    ids, w = plan_routing(T, s, T == 5, 'cpu'); x = torch.randn(T, 64)\n"
        "    got, want = experts_triton(x, ids, w, L), experts_loop(x, ids, w, L)\n"
        "    assert torch.allclose(got, want, atol=1e-4)\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "TRITON_INTERPRET": "1"},
    )
    if "ok" not in out.stdout and "InterpreterError" in out.stderr:
        pytest.skip("this Triton's interpreter does not run here: " + out.stderr.splitlines()[-1])
    assert out.stdout.strip() == "ok", out.stderr


def test_routing_plans():
    shape = MoEShape(64, 64, 32, 4)
    ids, w = plan_routing(500, shape, False, "cpu")
    assert ids.shape == (500, 4) and torch.allclose(w.sum(-1), torch.ones(500))
    assert all(len(set(row.tolist())) == 4 for row in ids)
    skewed, _ = plan_routing(500, shape, True, "cpu")
    counts = torch.bincount(skewed.flatten(), minlength=32)
    assert counts[0] > 3 * counts[-1]  # power-law popularity


def test_tiny_moe_numel_matches_count():
    """STYLE habit 7: a tiny Mixtral built from a spec has exactly count_params' parameters."""
    from moeplan.model.hf_config import spec_from_config
    from moeplan.model.params import count_params

    cfg = {
        "model_type": "mixtral",
        "hidden_size": 32,
        "intermediate_size": 48,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "num_hidden_layers": 3,
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
        "vocab_size": 50,
    }
    spec = spec_from_config(cfg, "tiny")
    nn = torch.nn
    h, kv, d = 32, 2 * 8, 8

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v, self.o = (
                nn.Linear(h, 32, bias=False),
                nn.Linear(h, kv, bias=False),
                nn.Linear(h, kv, bias=False),
                nn.Linear(32, h, bias=False),
            )
            self.router = nn.Linear(h, 4, bias=False)
            self.experts = nn.ModuleList(
                nn.ModuleDict(
                    {
                        "w1": nn.Linear(h, 48, bias=False),
                        "w3": nn.Linear(h, 48, bias=False),
                        "w2": nn.Linear(48, h, bias=False),
                    }
                )
                for _ in range(4)
            )
            self.n1, self.n2 = nn.Parameter(torch.ones(h)), nn.Parameter(torch.ones(h))

    model = nn.ModuleDict(
        {
            "embed": nn.Embedding(50, h),
            "layers": nn.ModuleList(Layer() for _ in range(3)),
            "norm": nn.LayerNorm(h, bias=False),
            "head": nn.Linear(h, 50, bias=False),
        }
    )
    assert d * 4 == 32
    assert sum(p.numel() for p in model.parameters()) == count_params(spec).total


def test_interpolation_rule():
    pts = ((1.0, 0.5), (4.0, 0.7), (16.0, 0.9))
    assert interpolate_log2(pts, 4) == 0.7  # exact at a measured point
    assert interpolate_log2(pts, 2) == pytest.approx(0.6)  # halfway in log2
    assert interpolate_log2(pts, 0.5) == 0.5 and interpolate_log2(pts, 1000) == 0.9  # held outside


def _synthetic(tmp_path, **over):
    """A schema 1 file (one MoE curve by layer tokens), as `profile` wrote before schema 2."""
    doc = {
        "schema": SCHEMA_V1,
        "device": {"name": "NVIDIA H100 80GB HBM3", "catalog_id": "h100-sxm"},
        "spec": {"mem_bw_bytes_per_s": 3.35e12},
        "measured": {"copy_bandwidth_bytes_per_s": 3.0e12, "gemm_flops": {"bf16": 6.5e14}},
        "moe": {
            "curves": {
                "x": [
                    {"tokens": 1, "fraction_of_spec_bw": 0.6},
                    {"tokens": 32, "fraction_of_spec_bw": 0.9},
                ]
            }
        },
    }
    doc.update(over)
    path = tmp_path / "h100.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_latency_uses_a_calibration(tmp_path):
    path = _synthetic(tmp_path)
    base = ["latency", "mixtral-8x7b", "--gpu", "h100-sxm", "--quant", "int4", "--json"]
    cal = json.loads(runner.invoke(app, [*base, "--calibration", path]).stdout)
    default = json.loads(runner.invoke(app, base).stdout)
    assert "calibration" in cal["efficiencies"]["source"]
    assert cal["decode"]["tpot_ms"] != default["decode"]["tpot_ms"]
    assert (
        runner.invoke(
            app, ["size", "mixtral-8x7b", "--gpu", "h100-sxm", "--calibration", path]
        ).exit_code
        == 0
    )


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"schema": "other/9"}, "expected 'moeplan-calibration/2' (or 'moeplan-calibration/1')"),
        ({"measured": {"copy_bandwidth_bytes_per_s": -1.0}}, "must not be negative"),
        ({"measured": {}}, "missing field 'measured.copy_bandwidth_bytes_per_s'"),
    ],
)
def test_invalid_calibrations_exit_2(tmp_path, change, needle):
    path = _synthetic(tmp_path, **change)
    r = runner.invoke(app, ["latency", "mixtral-8x7b", "--gpu", "h100-sxm", "--calibration", path])
    assert r.exit_code == 2 and needle in r.stderr


def test_calibration_of_another_device_is_rejected(tmp_path):
    path = _synthetic(tmp_path)
    r = runner.invoke(app, ["latency", "mixtral-8x7b", "--gpu", "h200", "--calibration", path])
    assert r.exit_code == 2 and "calibration is for device 'h100-sxm', not 'h200'" in r.stderr
    with pytest.raises(CalibrationError):
        load_calibration(str(tmp_path / "none.yaml"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _collective_worker(rank: int, world: int, port: int, queue) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    from moeplan.profile.collectives import model_collectives, time_collectives

    shapes = model_collectives(MoEShape(64, 32, 4, 2), "cpu")[:3]  # TP all-reduce, EP a2a x2
    rows = time_collectives("cpu", [4096, 65536], repeats=2, model_shapes=shapes)
    if rank == 0:
        queue.put(rows)
    import torch.distributed as dist

    dist.destroy_process_group()


def test_collectives_two_gloo_processes_on_loopback():
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_collective_worker, args=(r, 2, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    rows = queue.get(timeout=120)
    for p in procs:
        p.join(timeout=60)
    assert {r["kernel"] for r in rows} == {"all_reduce", "all_to_all"}
    assert all(r["world_size"] == 2 and r["seconds"] > 0 and r["bus_bytes_per_s"] > 0 for r in rows)
    # model shapes at 1 token: TP all-reduce of 1 x 64 fp32, EP dispatch/combine of 1 x 2 x 64
    model = {r["purpose"]: r["bytes"] for r in rows if r["purpose"] != "sweep"}
    assert model == {"tp all-reduce": 64 * 4, "ep dispatch": 128 * 4, "ep combine": 128 * 4}
    assert all(r["iterations"] == 3 and r["timer"] == "perf_counter" for r in rows)
    # the rows are schema 2's `collectives`: the estimator reads them per kernel and world size
    from moeplan.perf.calibration_schema import collective_curves

    curves = collective_curves({"collectives": rows}, "gloo rows")
    assert set(curves) == {("all_reduce", 2), ("all_to_all", 2)}
    assert all(list(pts) == sorted(pts) for pts in curves.values())


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
def test_cuda_profile_quick(tmp_path):
    path = tmp_path / "gpu.yaml"
    r = runner.invoke(app, ["profile", "--quick", "--output", str(path), "--compare"])
    assert r.exit_code == 0, r.output
    cal = load_calibration(str(path))  # schema 2: bf16 curves over two expert sizes (--quick)
    assert cal.schema_version == 2 and cal.attention_decode and cal.attention_prefill
    assert len([c for c in cal.moe_curves if c.dtype == "bf16"]) == 2
    if torch.cuda.get_device_capability() >= (9, 0):  # torch._scaled_grouped_mm: fp8 curves
        assert any(c.dtype == "fp8" for c in cal.moe_curves)
    doc = yaml.safe_load(path.read_text())
    assert doc["measured"]["copy_bandwidth_bytes_per_s"] > 1e11
