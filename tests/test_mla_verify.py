"""MLA attention of decode and MTP / speculative verify steps (the weight-absorbed kernel)
against prefill (the expanded form), and FlashMLA's overlap of its reads and math, by hand for
DeepSeek-V3."""

from __future__ import annotations

from dataclasses import replace

import pytest

from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.engines import resolve_engine
from moeplan.perf.latency import make_setup
from moeplan.perf.parallel import Layout
from moeplan.perf.phases import decode_step, stage_pass
from moeplan.perf.serving import Workload, mixed_step
from moeplan.perf.speculation import Speculation
from moeplan.perf.terms import attention_core_flops, is_dense_mla

# DeepSeek-V3: 61 MLA layers, 128 heads, kv_lora_rank 512, qk_rope_head_dim 64,
# qk_nope_head_dim 128 (head_dim 192), v_head_dim 128.
# Absorbed, per query token, head and cached token: QK over 512 + 64 = 576 (2 x 576 FLOPs),
# PV over 512 (2 x 512): 2 x 128 x (576 + 512) = 278,528 FLOPs per layer.
ABSORBED_PAIR = 2 * 128 * (512 + 64 + 512)
# Expanded (prefill), per pair: QK over 192, PV over 128: 2 x 128 x 320 = 81,920 (3.4x less).
EXPANDED_PAIR = 2 * 128 * (192 + 128)
LAYERS = 61


def test_verify_step_by_hand():
    spec = load_model("deepseek-v3")
    assert ABSORBED_PAIR == 278_528 and EXPANDED_PAIR == 81_920
    # 2000 cached tokens, 2 MTP draft tokens: the verify step scores 3 query tokens at positions
    # 2001..2003, each over the cache and the tokens before it: 2001 + 2002 + 2003 = 6006 pairs
    # a layer and head; 278,528 x 6006 x 61 = 102,043,189,248 FLOPs a sequence
    got = attention_core_flops(spec, 3, 2000, decode=True)
    assert got == 278_528 * 6006 * LAYERS == 102_043_189_248
    # the expanded form would price the same step 3.4x lower (what new_tokens > 1 used to take)
    assert attention_core_flops(spec, 3, 2000) == EXPANDED_PAIR * 6006 * LAYERS
    # decode at batch 1 (one token at 2001): unchanged, 278,528 x 2001 x 61
    assert attention_core_flops(spec, 1, 2000, decode=True) == 278_528 * 2001 * LAYERS
    # prefill of 1000 tokens: unchanged, expanded, (1 + 1000) x 1000 / 2 = 500,500 pairs
    assert attention_core_flops(spec, 1000, 0) == 81_920 * 500_500 * LAYERS


def test_mtp_step_prices_every_verify_token():
    """A serving step with 2 draft tokens: the attention compute grows with context at 3 query
    tokens a sequence (it counted 1 before). Context moves only the attention terms, so the
    difference of two steps' compute is the attention FLOPs over the extra context alone."""
    setup = _v3_on("h200", "ideal", Layout(tp=8))
    mtp, seqs = Speculation(2, 0.7), 64
    short = mixed_step(setup, Workload(2000, 2), seqs, 0.0, mtp)
    long = mixed_step(setup, Workload(3000, 2), seqs, 0.0, mtp)
    # 64 sequences x 3 query tokens x 1000 more cached tokens x 278,528 x 61, over TP8, at the
    # H200's dense BF16 peak; the MTP drafts add 2 x (one layer's share + the LM head's):
    # h = 926,679,040 / 36,625,618,432 of the active parameters, 2 x ((1 - h) / 61 + h)
    peak = setup.rates.flops("bf16")
    assert peak is not None
    flops = seqs * 3 * 1000 * ABSORBED_PAIR * LAYERS / 8
    head = 926_679_040 / 36_625_618_432
    draft = 2 * ((1 - head) / LAYERS + head)
    assert mtp.draft_cost_fraction(setup.spec) == pytest.approx(draft)
    assert long.compute_s - short.compute_s == pytest.approx(flops / peak * (1 + draft))


def test_decode_step_at_batch_1_keeps_the_absorbed_form():
    setup = _v3_on("h200", "ideal", Layout(tp=8))
    peak = setup.rates.flops("bf16")
    assert peak is not None
    gained = decode_step(setup, 1, 3000).compute_s - decode_step(setup, 1, 2000).compute_s
    assert gained == pytest.approx(1000 * ABSORBED_PAIR * LAYERS / 8 / peak)


def _v3_on(gpu: str, engine: str, layout: Layout | None = None):
    """DeepSeek-V3 in FP8 on `gpu` under `engine` (one GPU unless `layout`)."""
    spec = load_model("deepseek-v3")
    return make_setup(
        spec,
        resolve_scheme("fp8", spec),
        resolve_gpu(gpu),
        layout or Layout(),
        engine=resolve_engine(engine),
    )


def test_flashmla_decode_is_priced_at_the_larger_term():
    """FlashMLA overlaps its KV reads with its math (engines.FLASHMLA_DECODE_GPUS): a decode
    step's MLA attention takes max(memory, compute), not the sum. DeepSeek-V3, SGLang, H100,
    256 sequences at 2000 cached tokens (the LMSYS large-scale EP blog's decode point), a layer:
    KV 256 x 2001 x (512 + 64) x 2 B = 590,118,912 B at 0.85 x 3.35 TB/s = 207.2 us;
    FLOPs 256 x 2001 x 278,528 = 142,677,639,168 at 0.6 x 989 TFLOPS = 240.4 us.
    The sum was 447.7 us, the larger term is 240.4 us (the blog measures 285 us)."""
    setup = _v3_on("h100-sxm", "sglang")
    additive = replace(
        setup,
        rates=replace(setup.rates, engine=replace(setup.rates.engine, overlapped_mla_decode=False)),
    )
    kv = 256 * 2001 * 1152
    flops = 256 * 2001 * ABSORBED_PAIR
    assert kv == 590_118_912 and flops == 142_677_639_168
    mem, comp = kv / setup.rates.stream_bw_bytes_per_s, flops / setup.rates.flops("bf16")
    assert mem == pytest.approx(207.2e-6, rel=1e-3) and comp == pytest.approx(240.4e-6, rel=1e-3)
    over = stage_pass(setup, 256, 256, 1, 2000, 256, decode=True)
    added = stage_pass(additive, 256, 256, 1, 2000, 256, decode=True)
    per_layer = (added.memory_s + added.compute_s - over.memory_s - over.compute_s) / LAYERS
    assert per_layer == pytest.approx(min(mem, comp))
    # prefill keeps the sum (the expanded kernel, no overlap claimed)
    p_over = stage_pass(setup, 2000, 1, 2000, 0, 1)
    p_added = stage_pass(additive, 2000, 1, 2000, 0, 1)
    assert p_over.memory_s + p_over.compute_s == p_added.memory_s + p_added.compute_s


def test_overlap_only_where_flashmla_runs():
    # A100 (no SM90 FlashMLA), llama.cpp, and GQA models keep the additive pricing
    for gpu, engine in (("a100-80gb", "sglang"), ("h100-sxm", "llamacpp")):
        setup = _v3_on(gpu, engine)
        assert not setup.rates.engine.overlaps_mla_decode(setup.gpu.id)
    assert resolve_engine("vllm").overlaps_mla_decode("h200")
    assert not is_dense_mla(load_model("qwen3-235b-a22b"))
    assert is_dense_mla(load_model("deepseek-v3"))
