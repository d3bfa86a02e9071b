"""TP all-reduce start-up latency (issue 17): the measured one-shot custom all-reduce over NVLink
for the engines that run one, NCCL's measured small-message time elsewhere."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.estimate import ACTIVATION_BYTES
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.collectives import NCCL_LATENCY_S, ONE_SHOT_ALLREDUCE_S, one_shot_allreduce_s
from moeplan.perf.engines import ENGINES, resolve_engine
from moeplan.perf.latency import make_setup
from moeplan.perf.parallel import Layout
from moeplan.perf.phases import decode_step
from moeplan.perf.terms import allreduce_seconds


def test_one_shot_table_is_sglang_pr_2904_h100_16kb_column():
    # 4096 fp32 elements: 0.0039 / 0.0037 / 0.0057 ms on 2 / 4 / 8 GPUs
    assert ONE_SHOT_ALLREDUCE_S == ((2, 3.9e-6), (4, 3.7e-6), (8, 5.7e-6))
    assert NCCL_LATENCY_S == 20e-6
    assert one_shot_allreduce_s(2) == 3.9e-6
    assert one_shot_allreduce_s(4) == 3.7e-6
    assert one_shot_allreduce_s(6) == one_shot_allreduce_s(8) == 5.7e-6  # 6: next measured up
    # vLLM/SGLang's _SUPPORTED_WORLD_SIZES = [2, 4, 6, 8]: no custom all-reduce elsewhere
    for group in (1, 3, 5, 7, 16):
        assert one_shot_allreduce_s(group) is None


def test_allreduce_latency_by_engine_and_link():
    for engine in ("vllm", "vllm-v0", "sglang", "trtllm"):
        e = resolve_engine(engine)
        assert e.custom_allreduce and e.collective_latency_s == NCCL_LATENCY_S
        assert e.allreduce_latency_for("nvlink", 4) == 3.7e-6
        # no NVLink: vLLM/SGLang turn the custom all-reduce off on > 2 PCIe GPUs; NCCL runs
        assert e.allreduce_latency_for("pcie", 4) == NCCL_LATENCY_S
        assert e.allreduce_latency_for("infinity-fabric", 8) == NCCL_LATENCY_S
        # odd or oversized TP groups: the engines disable the custom kernel, NCCL runs
        assert e.allreduce_latency_for("nvlink", 3) == NCCL_LATENCY_S
        assert e.allreduce_latency_for("nvlink", 16) == NCCL_LATENCY_S
    llama = resolve_engine("llamacpp")  # layer split, no custom all-reduce
    assert llama.allreduce_latency_for("nvlink", 4) == NCCL_LATENCY_S
    assert ENGINES["ideal"].allreduce_latency_for("nvlink", 8) == 0.0


@pytest.mark.parametrize(("gpu", "per_call"), [("h20", 3.7e-6), ("l40s", NCCL_LATENCY_S)])
def test_batch1_decode_communication_is_two_allreduces_a_layer(gpu: str, per_call: float):
    """Qwen3-235B TP4 batch 1: 94 layers x 2 all-reduces of 4096 x 2 bytes, each the start-up
    latency for the link plus the ring's bytes over the link."""
    spec = load_model("qwen3-235b-a22b")
    g = resolve_gpu(gpu)
    engine = resolve_engine("sglang")
    setup = make_setup(spec, resolve_scheme("fp8-block", spec), g, Layout(tp=4), engine)
    step = decode_step(setup, 1, 1024)
    one = allreduce_seconds(
        spec.hidden_size * ACTIVATION_BYTES,
        4,
        g.interconnect.per_direction_bytes_per_s,
        per_call,
        engine.collective_efficiency,
    )
    assert step.communication_s == pytest.approx(2 * spec.num_layers * one)
    assert 2 * spec.num_layers * per_call <= step.communication_s


def test_reported_allreduce_latency_is_the_one_the_steps_price():
    """TP16 over 2 nodes of 8 H100s: the all-reduce spans nodes, so the network's latency is
    priced, and the JSON and the table note say so (not the NVLink kernel's 5.7 us)."""
    from moeplan.perf.network import INTER_NODE_LATENCY_S

    base = ["latency", "deepseek-v3", "--gpu", "h100", "--tp", "16", "--batch", "1"]
    r = CliRunner().invoke(app, [*base, "--nodes", "2", "--json"])
    assert r.exit_code == 0, r.output
    eff = json.loads(r.stdout)["efficiencies"]
    assert eff["allreduce_latency_s"] == INTER_NODE_LATENCY_S
    assert eff["collective_latency_s"] == NCCL_LATENCY_S
    r = CliRunner().invoke(app, [*base, "--tp", "8", "--json"])
    assert json.loads(r.stdout)["efficiencies"]["allreduce_latency_s"] == 5.7e-6
    r = CliRunner().invoke(app, [*base, "--nodes", "2"])
    assert f"TP all-reduce {INTER_NODE_LATENCY_S * 1e6:g} us" in r.stdout.replace("\n", " ")
