"""MLA attention FLOPs of decode and MTP / speculative verify steps (the weight-absorbed kernel)
against prefill (the expanded form), by hand for DeepSeek-V3."""

from __future__ import annotations

import pytest

from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.engines import resolve_engine
from moeplan.perf.latency import make_setup
from moeplan.perf.parallel import Layout
from moeplan.perf.phases import decode_step
from moeplan.perf.serving import Speculation, Workload, mixed_step
from moeplan.perf.terms import attention_core_flops

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
    spec = load_model("deepseek-v3")
    setup = make_setup(
        spec,
        resolve_scheme("fp8", spec),
        resolve_gpu("h200"),
        Layout(tp=8),
        engine=resolve_engine("ideal"),
    )
    mtp, seqs = Speculation(2, 0.7), 64
    short = mixed_step(setup, Workload(2000, 2), seqs, 0.0, mtp)
    long = mixed_step(setup, Workload(3000, 2), seqs, 0.0, mtp)
    # 64 sequences x 3 query tokens x 1000 more cached tokens x 278,528 x 61, over TP8, at the
    # H200's dense BF16 peak; the MTP draft adds 2 / 61 of the step
    peak = setup.rates.flops("bf16")
    assert peak is not None
    flops = seqs * 3 * 1000 * ABSORBED_PAIR * LAYERS / 8
    assert long.compute_s - short.compute_s == pytest.approx(flops / peak * (1 + 2 / LAYERS))


def test_decode_step_at_batch_1_keeps_the_absorbed_form():
    spec = load_model("deepseek-v3")
    setup = make_setup(
        spec,
        resolve_scheme("fp8", spec),
        resolve_gpu("h200"),
        Layout(tp=8),
        engine=resolve_engine("ideal"),
    )
    peak = setup.rates.flops("bf16")
    assert peak is not None
    gained = decode_step(setup, 1, 3000).compute_s - decode_step(setup, 1, 2000).compute_s
    assert gained == pytest.approx(1000 * ABSORBED_PAIR * LAYERS / 8 / peak)
