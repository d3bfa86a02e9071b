"""Latency terms with hand-checkable models, invariants, and the published-measurement check."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.model.hf_config import spec_from_config
from moeplan.perf.engines import resolve_engine
from moeplan.perf.latency import latency_point, make_setup
from moeplan.perf.parallel import Layout
from moeplan.perf.phases import Rates, decode_step
from moeplan.perf.terms import (
    allreduce_seconds,
    attention_core_flops,
    expected_experts_touched,
    expert_bytes_per_gpu,
    kv_read_bytes_per_gpu,
)


def test_expert_coverage():
    """E x (1 - (1 - k/E)^B): k at B = 1; Mixtral (8, top-2) at B = 8: 8 x (1 - 0.75^8) = 7.20."""
    assert expected_experts_touched(8, 2, 1) == pytest.approx(2)
    assert (
        expected_experts_touched(8, 2, 8)
        == pytest.approx(8 * (1 - 0.75**8))
        == pytest.approx(7.199, abs=1e-3)
    )
    assert expected_experts_touched(256, 8, 10_000) == pytest.approx(256)
    assert expected_experts_touched(8, 2, 0) == 0


@pytest.fixture
def tiny(tiny_config: dict):
    """Hidden 64, 2 layers, 4 experts (width 128) top-2, 4 heads / 2 KV heads of 16."""
    return spec_from_config(tiny_config, "tiny")


def _setup(spec, gpu="h100-sxm", layout=None, engine="ideal", quant="bf16"):
    return make_setup(
        spec,
        resolve_scheme(quant, spec),
        resolve_gpu(gpu),
        layout or Layout(),
        resolve_engine(engine),
    )


def test_decode_bytes_at_batch_1_by_hand(tiny):
    setup = _setup(tiny)
    expert_bytes = 3 * 64 * 128 * 2  # one expert, bf16
    # batch 1: 2 experts per MoE layer, 2 layers
    assert expert_bytes_per_gpu(setup.split, tiny, setup.layout, 1) == pytest.approx(
        2 * 2 * expert_bytes
    )
    # KV: 2 layers x 2 KV heads x (16 + 16) x 2 bytes x 10 tokens
    assert kv_read_bytes_per_gpu(tiny, setup.layout, 1, 10, "bf16") == 2 * 2 * 32 * 2 * 10
    # ideal engine: the step is exactly bytes / spec bandwidth (compute is far below)
    attn_bytes = 2 * (64 * 64 * 2 + 64 * 32 * 2) * 2
    dense = attn_bytes + 2 * 64 * 4 * 2 + 64 * 5 * 2  # + router + norms
    head = 100 * 64 * 2
    # a step at context 10 reads the 10 cached tokens and the new token's K/V: 11; the 2
    # expanded rows' activations (perf.moe_activations, BF16, h 64, i 128, gated):
    # 64 x (3 x 2 + 2 x 2) + 128 x (2 x 2 x 2 + 2 x 2) + 64 x 2 / 2 = 2,240 B a row, 2 layers
    moe_rows = 2 * 2 * 2240
    total = dense + head + 2 * 2 * expert_bytes + 2 * 2 * 32 * 2 * 11 + moe_rows
    step = decode_step(setup, 1, 10)
    assert step.memory_s == pytest.approx(total / 3350e9)
    assert step.communication_s == 0 and step.overhead_s == 0


def test_attention_flops_closed_form_matches_loop(tiny):
    """Causal attention: token i attends to min(i, window) tokens; 2 x H x (d + dv) per pair."""
    windowed = replace(tiny, layers=tuple(replace(layer, window=5) for layer in tiny.layers))
    for spec in (tiny, windowed):
        for start, new in [(0, 1), (0, 12), (3, 4), (7, 9), (20, 1)]:
            brute = sum(
                2 * 4 * 32 * min(start + i + 1, layer.window or 10**9)
                for layer in spec.layers
                for i in range(new)
            )
            assert attention_core_flops(spec, new, start) == pytest.approx(brute)


def test_allreduce_formula():
    assert allreduce_seconds(1e6, 1, 450e9, 1e-5, 1.0) == 0
    # ring: 2 (n-1)/n x message / link + latency = 2 x 7/8 x 1 MB / 450 GB/s + 10 us
    assert allreduce_seconds(1e6, 8, 450e9, 1e-5, 1.0) == pytest.approx(1e-5 + 1.75e6 / 450e9)


def test_tp1_ep1_adds_no_communication():
    spec = load_model("mixtral-8x7b")
    for batch in (1, 16):
        assert decode_step(_setup(spec, engine="vllm"), batch, 1000).communication_s == 0


def test_tp_and_ep_add_communication():
    spec = load_model("mixtral-8x7b")
    tp = decode_step(_setup(spec, layout=Layout(tp=4), engine="vllm"), 8, 1000)
    ep = decode_step(_setup(spec, layout=Layout(tp=1, ep=4, dp=4), engine="vllm"), 8, 1000)
    assert tp.communication_s > 0 and ep.communication_s > 0


def test_decode_is_memory_bound_at_batch_1_and_prefill_compute_bound():
    spec = load_model("mixtral-8x7b")
    p = latency_point(_setup(spec, engine="vllm", layout=Layout(tp=2)), 1, 4096, 64)
    assert p.decode.bound in ("memory", "overhead")
    assert p.prefill.bound == "compute"


def test_pipeline_adds_no_speed_at_batch_1():
    spec = load_model("mixtral-8x7b")
    one = decode_step(_setup(spec, layout=Layout(pp=1), gpu="h200"), 1, 100)
    two = decode_step(_setup(spec, layout=Layout(pp=2), gpu="h200"), 1, 100)
    assert two.total_s >= one.total_s


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(["mixtral-8x7b", "qwen3-30b-a3b", "gpt-oss-20b", "deepseek-v2-lite"]),
    st.floats(1.05, 4.0),
    st.integers(1, 256),
)
def test_more_bandwidth_never_slows(model, factor, batch):
    spec = load_model(model)
    setup = _setup(spec, engine="vllm", gpu="h200")
    faster_gpu = replace(setup.gpu, mem_bw_bytes_per_s=setup.gpu.mem_bw_bytes_per_s * factor)
    faster = replace(setup, gpu=faster_gpu, rates=Rates.from_engine(faster_gpu, setup.rates.engine))
    assert decode_step(faster, batch, 2048).total_s <= decode_step(setup, batch, 2048).total_s
    assert (
        latency_point(faster, batch, 512, 16, check_memory=False).ttft_ms
        <= latency_point(setup, batch, 512, 16, check_memory=False).ttft_ms
    )


@pytest.mark.parametrize("model", ["mixtral-8x7b", "qwen3-30b-a3b", "deepseek-v3", "gpt-oss-120b"])
def test_more_batch_never_lowers_throughput_before_compute_bound(model):
    spec = load_model(model)
    setup = _setup(
        spec,
        engine="vllm",
        gpu="h200",
        quant="int4",
        layout=Layout(tp=8) if model == "deepseek-v3" else Layout(),
    )
    previous = 0.0
    for batch in (1, 2, 4, 8, 16, 32, 64, 128):
        step = decode_step(setup, batch, 1024)
        if step.bound == "compute":
            break
        throughput = batch / step.total_s
        assert throughput >= previous
        previous = throughput


def test_moe_batch_1_reads_only_top_k():
    """Mixtral at batch 1 reads 2 of 8 experts: the step is far cheaper than at batch 64."""
    spec = load_model("mixtral-8x7b")
    setup = _setup(spec, gpu="h200")
    assert decode_step(setup, 1, 1).memory_s < 0.35 * decode_step(setup, 64, 1).memory_s


def test_validate_median_within_goal():
    """Issue goal: median absolute error <= 25% on the counted decode records, with defaults."""
    from moeplan.plan.validate import median_abs_error, validate_all

    results = validate_all()
    assert sum(r.counted for r in results) >= 6
    assert median_abs_error(results) <= 0.25
    far = [r for r in results if r.far_from_roofline]
    assert far and all(r.predicted is not None and not r.counted for r in far)
    assert all(r.skipped for r in results if r.predicted is None)


def test_speed_metric_counts_prompt_tokens():
    from moeplan.plan.validate import predict_metric

    spec = load_model("qwen3-30b-a3b")
    p = latency_point(_setup(spec, gpu="h20", engine="sglang"), 1, 6144, 2048)
    assert predict_metric("speed", p) == pytest.approx(
        8192 / (p.prefill.total_s + 2047 * p.decode.total_s)
    )
    assert math.isclose(predict_metric("decode_tokens_per_s", p), 1 / p.decode.total_s)


def test_pipeline_counts_the_lm_head_once(tiny):
    """Batch 1, ideal engine, pp=2 over the 2 layers of `tiny`: each stage holds one layer; the
    LM head (100 x 64 bf16) runs on the last stage only, so memory time is the pp=1 step's
    bytes / bandwidth (same bytes as test_decode_bytes_at_batch_1_by_hand) and the only extra
    is one hop."""
    expert_bytes = 3 * 64 * 128 * 2
    attn_bytes = 2 * (64 * 64 * 2 + 64 * 32 * 2) * 2
    dense = attn_bytes + 2 * 64 * 4 * 2 + 64 * 5 * 2
    head = 100 * 64 * 2
    moe_rows = 2 * 2 * 2240  # the expanded rows' activations, as in the test above
    total = dense + head + 2 * 2 * expert_bytes + 2 * 2 * 32 * 2 * 11 + moe_rows
    one = decode_step(_setup(tiny), 1, 10)
    two = decode_step(_setup(tiny, layout=Layout(pp=2)), 1, 10)
    assert one.memory_s == pytest.approx(total / 3350e9)
    assert two.memory_s == pytest.approx(total / 3350e9)  # was (total + head) / 3350e9
    assert two.total_s == pytest.approx(one.total_s + two.communication_s)


def test_attention_dp_busiest_group_holds_whole_sequences(tiny):
    """Attention DP 2 (ep=2), ideal engine: KV per cached token per sequence is 2 layers x 2 KV
    heads x (16 + 16) x 2 bytes = 256 bytes. 100 more tokens of context add 100 x 256 bytes to the
    busiest GPU's step at batch 1 (ceil(1/2) = 1 whole sequence; it was half of that) and
    2 x 100 x 256 at batch 3 (ceil(3/2) = 2 sequences)."""
    setup = _setup(tiny, layout=Layout(tp=1, ep=2, dp=2))

    def extra(batch: int) -> float:
        return decode_step(setup, batch, 110).memory_s - decode_step(setup, batch, 10).memory_s

    assert extra(1) == pytest.approx(100 * 256 / 3350e9)
    assert extra(3) == pytest.approx(2 * 100 * 256 / 3350e9)


def test_validate_separates_held_out_from_fitting_records():
    """Every record says whether an engine profile was set from it; the held-out median is taken
    over the others only (issue 17)."""
    import statistics

    from moeplan.perf.engines import ENGINES
    from moeplan.plan.validate import median_abs_error, validate_all

    results = validate_all()
    fitted = {rid for e in ENGINES.values() for rid in e.fitted_on}
    assert {r.id for r in results if r.used_for_fitting} == fitted & {r.id for r in results}
    held = [abs(r.error) for r in results if r.counted and not r.used_for_fitting and r.error]
    assert held and median_abs_error(results, False) == statistics.median(held)
    inside = [abs(r.error) for r in results if r.counted and r.used_for_fitting and r.error]
    assert median_abs_error(results, True) == statistics.median(inside)


def test_leave_one_out_refits_without_the_record():
    """sglang's two fitted records: leaving one out refits kernel_overhead_s (the constant the
    profile names in `fitted`) on the other alone, so the refitted value is whichever grid point
    best fits that other record."""
    from dataclasses import replace as dc_replace

    from moeplan.perf.engines import resolve_engine
    from moeplan.plan.validate import (
        FIT_GRIDS,
        leave_one_out,
        load_measurements,
        validate_record,
    )

    recs = {r["id"]: r for r in load_measurements()}
    sg = resolve_engine("sglang")
    assert sg.fitted == "kernel_overhead_s"
    a, b = sg.fitted_on
    loo = {x.id: x for x in leave_one_out()}
    best = min(
        FIT_GRIDS["kernel_overhead_s"],
        key=lambda k: abs(validate_record(recs[b], dc_replace(sg, kernel_overhead_s=k)).error),
    )
    assert loo[a].constant == "kernel_overhead_s" and loo[a].refitted == best
    assert loo[a].error == validate_record(recs[a], dc_replace(sg, kernel_overhead_s=best)).error


def test_fitted_constants_are_the_fit_on_the_named_records():
    """Every fitted constant shipped is what `refit` gives on the records the profile names, so
    the fit is reproducible and names its data; a profile that names records names the constant
    fitted, and a profile without records fitted nothing (issue 17)."""
    from moeplan.perf.engines import ENGINES
    from moeplan.plan.validate import load_measurements, refit

    recs = {r["id"]: r for r in load_measurements()}
    for e in ENGINES.values():
        assert e.source, e.id
        assert bool(e.fitted) == bool(e.fitted_on), e.id
        if e.fitted:
            assert len(e.fitted_on) >= 2, e.id  # never a constant tuned to one record
            assert getattr(e, e.fitted) == refit(e, [recs[i] for i in e.fitted_on]), e.id


def test_vllm_v0_step_overhead_is_taken_from_the_v060_blog():
    """vLLM v0.6.0 blog (Llama 3 8B, 1 x H100, v0.5.3): 29% scheduling, 38% GPU execution; V1
    blog: that GPU step is ~5 ms. 0.29 / 0.38 x 5 ms = 3.816 ms; the profile fits nothing."""
    from moeplan.perf.engines import resolve_engine, v0_step_overhead_s

    assert v0_step_overhead_s() == pytest.approx(0.29 / 0.38 * 5e-3)
    assert v0_step_overhead_s() == pytest.approx(3.816e-3, abs=1e-6)
    v0 = resolve_engine("vllm-v0")
    assert v0.step_overhead_s == v0_step_overhead_s() and not v0.fitted_on


def test_plan_ttft_is_the_batch_prefill_as_in_latency():
    """One TTFT definition (issue 17): 8 prompts of 512 tokens arriving together wait for the
    batch's prefill, so plan's TTFT for a candidate is latency's prefill at batch 8, which is
    longer than one prompt's prefill (a max_ttft_ms between the two now rejects in both)."""
    from moeplan.perf.phases import prefill
    from moeplan.plan.search import Targets, plan

    spec = load_model("qwen3-30b-a3b")
    scheme, gpu, engine = resolve_scheme("bf16", spec), resolve_gpu("h200"), resolve_engine("vllm")
    result = plan(spec, [scheme], [gpu], 1, 512, 64, 8, Targets(), engine)
    cand = next(c for c in result.accepted if c.layout.gpus == 1)
    setup = make_setup(spec, scheme, gpu, cand.layout, engine)
    assert cand.point.ttft_ms == pytest.approx(latency_point(setup, 8, 512, 64).ttft_ms)
    assert cand.point.ttft_ms > prefill(setup, 1, 512).total_s * 1e3


def test_chunked_attention_is_not_a_sliding_window(tiny):
    """Llama 4 chunked attention, chunk 4, on the 2 layers of `tiny` (2 KV heads of 16 + 16,
    bf16: 2 x 32 x 2 = 128 bytes per token per layer; 4 heads x (16 + 16) x 2 = 256 FLOPs per
    attended pair per layer)."""
    from moeplan.model.specs import WindowKind

    chunked = replace(
        tiny,
        layers=tuple(
            replace(layer, window_kind=WindowKind.CHUNKED, window=4) for layer in tiny.layers
        ),
    )
    sliding = replace(tiny, layers=tuple(replace(layer, window=4) for layer in tiny.layers))
    # decode at 11 tokens: a sliding window reads 4 tokens, a chunk the mean span (4 + 1) / 2
    assert kv_read_bytes_per_gpu(sliding, Layout(), 1, 11, "bf16") == 2 * 128 * 4
    assert kv_read_bytes_per_gpu(chunked, Layout(), 1, 11, "bf16") == 2 * 128 * 2.5
    # inside the first chunk both read every token: 3 tokens
    assert kv_read_bytes_per_gpu(chunked, Layout(), 1, 3, "bf16") == 2 * 128 * 3
    # prefill of 10 tokens: spans 1,2,3,4, 1,2,3,4, 1,2 = 23 (sliding: 1,2,3,4,4,4,4,4,4,4 = 34)
    assert attention_core_flops(chunked, 10, 0) == 2 * 256 * 23
    assert attention_core_flops(sliding, 10, 0) == 2 * 256 * 34
    # closed form against the loop, prompts appended after a cached prefix
    for start, new in [(0, 4), (3, 6), (5, 9), (8, 8), (2, 13)]:
        brute = sum(2 * 256 * ((start + i) % 4 + 1) for i in range(new))
        assert attention_core_flops(chunked, new, start) == pytest.approx(brute)


def test_expert_parallel_waits_for_the_busiest_rank():
    """8 experts top-2 over EP 4 (2 experts a rank), one token: p = 1 - (1 - 2/8) = 0.25 that an
    expert is touched; a rank's count ~ Binomial(2, 0.25): P(0) = 0.5625, P(<= 1) = 0.9375;
    E[max over 4 ranks] = (1 - 0.5625^4) + (1 - 0.9375^4) = 0.8998871 + 0.2275238 = 1.1274109
    (exact for this case, both picks on one rank with probability 1/7: 8/7 = 1.1429), against
    the mean rank's 2 x 0.25 = 0.5."""
    from moeplan.perf.terms import busiest_rank_experts

    assert busiest_rank_experts(8, 2, 1, 4) == pytest.approx(1.1274109, abs=1e-6)
    assert busiest_rank_experts(8, 2, 1, 1) == pytest.approx(8 * 0.25)  # one rank: the mean
    # Mixtral (8 experts, top-2) at EP 8, batch 1: one expert a rank, the busiest rank reads
    # 1 - 0.75^8 of an expert's bytes per layer against the mean rank's 2/8
    spec = load_model("mixtral-8x7b")
    setup = _setup(spec, layout=Layout(tp=1, ep=8, dp=8), gpu="h200")
    mean = expected_experts_touched(8, 2, 1) / 8
    busiest = busiest_rank_experts(8, 2, 1, 8)  # 1 - 0.75^8 = 0.8999
    assert busiest == pytest.approx(1 - 0.75**8)
    assert expert_bytes_per_gpu(setup.split, spec, setup.layout, 1) == pytest.approx(
        expert_bytes_per_gpu(setup.split, spec, Layout(tp=8), 1) * busiest / mean
    )


def test_error_band_is_out_of_sample_or_says_why_not():
    """sglang: the held-out Qwen record plus the two leave-one-out predictions are 3 residuals,
    so a band; vllm has none held out, so n/a with the count. Speed errors are read as time:
    a +x speed error on the held-out record is 1 / (1 + x) - 1 of time, inside the band."""
    from moeplan.plan.validate import error_band_pct, time_error, validate_all

    held = next(v for v in validate_all() if v.id == "qwen3-30b-a3b_h20_sglang_bf16_in6144")
    as_time = time_error(held)
    assert as_time is not None and not held.used_for_fitting
    band = error_band_pct("sglang", "decode")
    assert isinstance(band, list) and band[0] <= round(as_time * 100, 1) <= band[1]
    assert error_band_pct("vllm", "decode") == (
        "n/a: 0 out-of-sample decode record(s) for engine vllm (3 needed)"
    )
    assert str(error_band_pct("sglang", "prefill")).startswith("n/a")
