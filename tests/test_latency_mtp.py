"""`latency --mtp K --mtp-acceptance A`: a decode step verifies 1 + K tokens a sequence (their
experts, not one token's), the drafts add their MTP layer and LM head, and TPOT is the step over
the tokens it gains; by hand for DeepSeek-V3, and the refusals."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.engines import resolve_engine
from moeplan.perf.latency import latency_point, make_setup
from moeplan.perf.parallel import Layout
from moeplan.perf.phases import decode_step
from moeplan.perf.speculation import Speculation, speculative_decode_step

runner = CliRunner()


def _v3(layout: Layout | None = None):
    layout = layout or Layout(tp=8)
    spec = load_model("deepseek-v3")
    return make_setup(
        spec, resolve_scheme("fp8", spec), resolve_gpu("h200"), layout, resolve_engine("ideal")
    )


def test_verify_step_reads_the_experts_of_every_verified_token():
    """Batch 1, 2 tokens to verify: 256 x (1 - (1 - 8/256)^2) = 15.75 distinct experts a layer
    instead of 8, so the routed experts' read grows by 7.75 experts x 58 MoE layers."""
    setup = _v3(Layout())
    one, two = decode_step(setup, 1, 2000), decode_step(setup, 1, 2000, verify=2)
    touched = 256 * (1 - (1 - 8 / 256) ** 2)
    assert touched == pytest.approx(15.75, abs=0.01)
    extra = (touched - 8) * setup.split.expert_bytes * 58 / setup.rates.stream_bw_bytes_per_s
    # the rest of the step (attention, dense, head weights) is read once either way; the second
    # token adds only its activations and its KV write, under 1% of the difference
    assert two.memory_s - one.memory_s == pytest.approx(extra, rel=0.01)


def test_tpot_is_the_drafting_step_over_the_tokens_it_gains():
    setup = _v3()
    spec = setup.spec
    mtp = Speculation(1, 0.87)
    assert mtp.tokens_per_step == pytest.approx(1.87)
    head = 926_679_040 / 36_625_618_432  # LM head's share of the active parameters
    draft = (1 - head) / 61 + head  # one draft: one MTP layer's share and the head
    step = speculative_decode_step(setup, 1, 1152, mtp)
    assert step.total_s == pytest.approx(decode_step(setup, 1, 1152, 2).total_s * (1 + draft))
    point = latency_point(setup, 1, 1024, 256, check_memory=False, speculation=mtp)
    assert point.tpot_s == pytest.approx(step.total_s / 1.87)
    assert point.tokens_per_s_per_seq == pytest.approx(1.87 / step.total_s)
    plain = latency_point(setup, 1, 1024, 256, check_memory=False)
    assert plain.tpot_s == decode_step(setup, 1, 1152).total_s  # no drafting: unchanged
    # drafting loads the MTP layer: its weights and KV are on every GPU's share
    assert point.memory.total_bytes > plain.memory.total_bytes
    assert spec.mtp_layers == 1


def test_zero_drafts_is_plain_decode():
    setup = _v3()
    assert speculative_decode_step(setup, 8, 3000, Speculation()).total_s == pytest.approx(
        decode_step(setup, 8, 3000).total_s
    )


def _latency(*extra: str):
    args = ["latency", "deepseek-v3", "--gpu", "h200", "--gpus", "8", "-q", "fp8", *extra]
    return runner.invoke(app, args)


def test_latency_mtp_json_and_notes():
    base = json.loads(_latency("--json").output)
    r = _latency("--mtp", "2", "--mtp-acceptance", "0.8", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    spec = doc["decode"]["speculation"]
    assert spec["draft_tokens"] == 2 and spec["tokens_per_step"] == pytest.approx(2.44)
    assert doc["decode"]["tpot_ms"] == pytest.approx(spec["step_ms"] / 2.44, rel=1e-3)
    assert "speculation" not in base["decode"]
    assert doc["decode"]["tokens_per_s_per_seq"] > base["decode"]["tokens_per_s_per_seq"]
    assert any("2.44 tokens a step" in n for n in doc["notes"])
    assert any("MTP layer(s)" in n for n in doc["notes"])


def test_a_model_without_mtp_layers_says_what_is_not_counted():
    args = ["latency", "qwen3-30b-a3b", "--gpu", "h100", "--mtp", "1", "--mtp-acceptance", "0.7"]
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    assert any("no MTP layers" in n for n in json.loads(r.output)["notes"])


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--mtp", "2"], "--mtp-acceptance"),
        (["--mtp-acceptance", "0.8"], "needs --mtp"),
        (["--mtp", "1", "--mtp-acceptance", "1.5"], "--mtp-acceptance"),
        (["--mtp", "17", "--mtp-acceptance", "0.5"], "--mtp"),
        (["--mtp", "-1", "--mtp-acceptance", "0.5"], "--mtp"),
    ],
)
def test_bad_mtp_input_is_one_line(extra, message):
    r = _latency(*extra)
    assert r.exit_code == 2, r.output
    assert message in r.stderr and "Traceback" not in r.output


def test_mtp_with_offload_is_refused():
    args = ["latency", "gpt-oss-120b", "--gpu", "rtx-4090", "--host", "ryzen-9-9950x"]
    r = runner.invoke(app, [*args, "--n-cpu-moe", "20", "--mtp", "1", "--mtp-acceptance", "0.7"])
    assert r.exit_code == 2 and "does not draft" in r.stderr


def _acceptance_for(drafts: int, accepted: float) -> float:
    """The per-token acceptance a whose 1 + a + ... + a^k is a published mean accepted length."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(mid**i for i in range(drafts + 1)) < accepted else (lo, mid)
    return lo


# NVIDIA/TensorRT-LLM docs/source/blogs/tech_blog/blog1_Pushing_Latency_Boundaries_Optimizing_
# DeepSeek-R1_Performance_on_NVIDIA_B200_GPUs.md, "Autoregressive MTP Layers": DeepSeek-R1 on
# 8 x B200, MoE in NVFP4, attention BF16, one request, ISL 1k / OSL 2k; the column it heads
# "Acceptance Rate" is the mean accepted tokens a step. (k, accepted, speedup over no MTP)
TRTLLM_B200_MTP = [
    (1, 1.92, 1.78),
    (2, 2.58, 2.25),
    (3, 2.82, 2.28),
    (4, 2.99, 2.21),
    (5, 3.01, 2.15),
]


@pytest.mark.parametrize("drafts, accepted, published", TRTLLM_B200_MTP)
def test_speedup_matches_tensorrt_llm_b200_blog(drafts, accepted, published):
    """The speedup at each k (1.78x .. 2.28x, falling past k = 3 as drafts cost more than they
    gain) within 6%: the verify step's extra experts and the drafts' MTP layer + LM head."""
    spec = load_model("deepseek-r1")
    setup = make_setup(
        spec,
        resolve_scheme("bf16,experts=nvfp4", spec),
        resolve_gpu("b200"),
        Layout(tp=8),
        resolve_engine("trtllm"),
    )
    mtp = Speculation(drafts, _acceptance_for(drafts, accepted))
    assert mtp.tokens_per_step == pytest.approx(accepted, abs=1e-6)
    base = latency_point(setup, 1, 1024, 2048, check_memory=False)
    drafting = latency_point(setup, 1, 1024, 2048, check_memory=False, speculation=mtp)
    assert base.tpot_s / drafting.tpot_s == pytest.approx(published, rel=0.06)
