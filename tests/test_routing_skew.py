"""The busiest expert-parallel rank under skewed routing (perf.terms.busiest_rank_load_factor)
and the --routing-skew option."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.engines import resolve_engine
from moeplan.perf.latency import make_setup
from moeplan.perf.moe_activations import moe_activation_bytes_per_gpu
from moeplan.perf.parallel import Layout
from moeplan.perf.phases import decode_step
from moeplan.perf.terms import (
    ROUTING_SKEW_DEFAULT,
    busiest_rank_load_factor,
    expected_max_normal,
    max_routing_skew,
    rank_load_factor,
    routing_skew_for,
)


def test_expected_max_normal_by_hand():
    """E[max of 2] = 1 / sqrt(pi); of 1, the mean 0; tabulated 1.4236 at 8 and 2.0697 at 32."""
    assert expected_max_normal(1) == 0.0
    assert expected_max_normal(2) == pytest.approx(1 / math.sqrt(math.pi), abs=1e-6)
    assert expected_max_normal(8) == pytest.approx(1.4236, abs=1e-4)
    assert expected_max_normal(32) == pytest.approx(2.0697, abs=1e-4)


def test_source_layout_gives_the_measured_busiest_rank():
    """TensorRT-LLM blog 4, Table 1: DeepSeek-R1 (256 experts, top-8) on EP32 at 1024 picks a
    rank (4096 tokens) has its busiest rank at 1 + 1.564 of the mean; the default skew is the
    table's per-expert std / mean 164.1 / 128 less the counting noise 1 / 128."""
    skew = math.sqrt((164.1 / 128) ** 2 - 1 / 128)
    assert skew == pytest.approx(1.279, abs=1e-3)
    assert skew == ROUTING_SKEW_DEFAULT
    assert busiest_rank_load_factor(256, 8, 4096, 32) == pytest.approx(2.564, abs=1e-9)


def test_uniform_routing_is_the_counting_noise_only():
    """Skew 0: 1 + E[max of 8] x sqrt(1 / picks a rank). Qwen3-235B (128 experts, top-8) on
    EP8 at 343 tokens a rank (2744 in all): 16 experts x 171.5 picks, 1 + 1.4236 / sqrt(2744)
    = 1.0272, the ~2.5% uniform excess of issue 14."""
    got = busiest_rank_load_factor(128, 8, 2744, 8, 0.0)
    assert got == pytest.approx(1 + expected_max_normal(8) / math.sqrt(2744), rel=1e-9)
    assert got == pytest.approx(1.0272, abs=1e-4)


def test_small_batches_are_noisier_and_large_ones_reach_the_popularity_skew():
    factors = [busiest_rank_load_factor(128, 8, t, 8) for t in (64, 512, 4096, 10**9)]
    assert factors == sorted(factors, reverse=True)
    assert factors[-1] - factors[-2] < 0.01  # the popularity part alone, beyond a few k tokens
    assert busiest_rank_load_factor(128, 8, 2744, 1) == 1.0  # one rank holds every pick
    # top-1 over 4 ranks: the busiest rank cannot take more than every pick, 4 x the mean
    assert busiest_rank_load_factor(16, 1, 1, 4) <= 4.0
    assert busiest_rank_load_factor(16, 1, 0.01, 4) == 4.0


def test_skew_scales_the_ep_ranks_expert_compute_only():
    """Prefill-sized decode batch on Qwen3-235B EP8: the default skew adds compute time and
    the busiest rank's extra expanded rows' activations (perf.moe_activations), and leaves the
    weight and KV bytes alone; a TP layout (every GPU a slice of each expert) does not see it."""
    spec = load_model("qwen3-235b-a22b")
    scheme, gpu, engine = resolve_scheme("fp8", spec), resolve_gpu("h200"), resolve_engine("ideal")
    ep = Layout(tp=1, ep=8, dp=8)
    skewed = decode_step(make_setup(spec, scheme, gpu, ep, engine), 2744, 1500)
    uniform = decode_step(make_setup(spec, scheme, gpu, ep, engine, routing_skew=0.0), 2744, 1500)
    load = rank_load_factor(spec, ep, 2744, ROUTING_SKEW_DEFAULT)
    uniform_load = rank_load_factor(spec, ep, 2744, 0.0)
    rows = moe_activation_bytes_per_gpu(spec, ep, "fp8", 2744, 8)
    extra_s = (
        (load - uniform_load)
        * rows
        / make_setup(spec, scheme, gpu, ep, engine).rates.stream_bw_bytes_per_s
    )
    assert skewed.memory_s - uniform.memory_s == pytest.approx(extra_s, rel=1e-6)
    assert skewed.compute_s > 1.3 * uniform.compute_s
    tp = Layout(tp=8)
    assert decode_step(make_setup(spec, scheme, gpu, tp, engine), 64, 1500).total_s == (
        pytest.approx(
            decode_step(
                make_setup(spec, scheme, gpu, tp, engine, routing_skew=0.0), 64, 1500
            ).total_s
        )
    )


def test_routing_skew_option():
    args = ["latency", "qwen3-235b-a22b", "--gpu", "h200", "--tp", "1", "--dp", "8"]
    args += ["--quant", "fp8", "--batch", "2744", "--json"]

    def tok_s(*extra: str) -> float:
        r = CliRunner().invoke(app, args + list(extra))
        assert r.exit_code == 0, r.output
        return float(json.loads(r.stdout)["decode"]["tokens_per_s_total"])

    assert tok_s("--routing-skew", "0") > tok_s() > tok_s("--routing-skew", "2.5")
    r = CliRunner().invoke(app, [*args, "--routing-skew", "-1"])
    assert r.exit_code == 2


def test_the_normal_part_predicts_the_tables_per_rank_spread():
    """An independent check of the shrink by the experts a rank sums (the tail factor is set
    from the table's busiest rank, not from its std): blog 4 Table 1 gives per-rank std / mean
    491.6 / 1024 = 0.480; skew^2 (E - n) / (n (E - 1)) + 1 / (n x 128) with E = 256, n = 8 and
    the per-expert skew 1.279 gives 1.636 x 248 / 2040 + 1 / 1024 = 0.1999, sqrt 0.447."""
    predicted = math.sqrt(ROUTING_SKEW_DEFAULT**2 * 248 / (8 * 255) + 1 / 1024)
    assert predicted == pytest.approx(0.447, abs=1e-3)
    assert predicted == pytest.approx(491.6 / 1024, rel=0.1)


def test_no_router_spreads_experts_beyond_every_token_picking_the_same_ones():
    """k of E experts get all B tokens, the rest none: mean B k / E, variance B^2 k / E - mean^2,
    so std / mean = sqrt(E / k - 1)."""
    assert max_routing_skew(128, 8) == pytest.approx(math.sqrt(15))
    assert max_routing_skew(8, 2) == pytest.approx(math.sqrt(3))
    assert max_routing_skew(4, 4) == 0.0  # every expert active: no spread possible
    qwen = load_model("qwen3-235b-a22b")
    assert routing_skew_for(qwen, None) == ROUTING_SKEW_DEFAULT
    assert routing_skew_for(qwen, 3.8) == 3.8
    with pytest.raises(MoeplanError, match=r"above 3\.87"):
        routing_skew_for(qwen, 1e9)
    # a model where the measured 1.28 cannot occur (4 experts, top-2: at most 1) is capped
    assert qwen.moe is not None
    few = replace(qwen, moe=replace(qwen.moe, num_experts=4, top_k=2))
    assert routing_skew_for(few, None) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1e9", "--routing-skew 1e+09 is above 3.87"),
        ("-1", "--routing-skew must be in [0, 1e+09], got -1"),
        ("inf", "--routing-skew must be a finite number"),
    ],
)
def test_routing_skew_nonsense_is_one_line_exit_2(value: str, message: str):
    args = ["latency", "qwen3-235b-a22b", "--gpu", "h200", "--tp", "1", "--dp", "8"]
    r = CliRunner().invoke(app, [*args, "--quant", "fp8", f"--routing-skew={value}"])
    assert r.exit_code == 2
    assert message in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
    serve = ["throughput", "mixtral-8x7b", "--gpu", "h100", "--gpus", "2", "--input", "100"]
    r = CliRunner().invoke(app, [*serve, "--output", "100", "--routing-skew", "2"])
    assert r.exit_code == 2 and "above 1.73" in r.output
