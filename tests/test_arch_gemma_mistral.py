"""Gemma 4, Mistral Small 4 and Mistral Large 4 read from the configs transformers 5.23 writes
(tests/data/configs-tf/gemma_mistral, tools/transformers_survey.py --dump; variants with the
fields in counts.json). Totals are checked against transformers' numel recorded there; active
parameters and KV bytes against hand counts written here from the modeling code's shapes,
independently of moeplan.model.params. Needs neither transformers nor torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moeplan.memory.cache import kv_bytes_per_sequence, kv_bytes_per_token_all_layers
from moeplan.model.hf_config import spec_from_config
from moeplan.model.official import within_rounding
from moeplan.model.params import count_params

DATA = Path(__file__).parent / "data" / "configs-tf" / "gemma_mistral"
COUNTS = json.loads((DATA / "counts.json").read_text())
# transformers has no MistralLarge4TextForCausalLM: a bare mistral_large4_text config builds
# MistralLarge4TextModel, without the LM head the wrapper (ForConditionalGeneration) has
HEADLESS = {"mistral_large4_text", "mistral_large4_text-shared"}


def spec_of(name: str):
    return spec_from_config(json.loads((DATA / f"{name}.json").read_text()), name)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_total_is_transformers_numel(name):
    counts = count_params(spec_of(name))
    head = counts.breakdown["lm_head"] if name in HEADLESS else 0
    assert counts.total - head == COUNTS[name]["text"]
    assert counts.towers_total == COUNTS[name]["towers"]


# -- Mistral Small 4 (Mistral4Model = DeepseekV3Model) --------------------------------------
def mla(h, heads, q_lora, kv_lora, nope, rope, v, own_kv=True):
    """q_a + q_a_layernorm + q_b (or q_proj), kv_a_proj_with_mqa + kv_a_layernorm (none on a
    KV-shared layer), kv_b_proj [kv_lora, H*(nope + v)], o_proj [H*v, h]."""
    q_out = heads * (nope + rope)
    q = h * q_lora + q_lora + q_lora * q_out if q_lora else h * q_out
    kv_a = h * (kv_lora + rope) + kv_lora if own_kv else 0
    return q + kv_a + kv_lora * heads * (nope + v) + heads * v * h


def test_mistral4_active_and_kv():
    h, n, vocab = 4096, 36, 131072
    attn = mla(h, 32, 1024, 256, 64, 64, 128)
    expert = 3 * h * 2048  # Mistral4Experts gate_up + down; the shared expert is as wide
    layer = attn + 4 * expert + expert + h * 128  # top-4 + shared + router (no bias)
    active = n * layer + (2 * n + 1) * h + vocab * h  # norms, untied LM head
    spec = spec_of("mistral4")
    assert count_params(spec).active == active
    # Mistral4Attention caches the normed latent and the rope key: (256 + 64) bf16 per layer
    assert kv_bytes_per_token_all_layers(spec, "bf16") == n * (256 + 64) * 2
    # Mistral-Small-4-119B-2603: the default config is that model
    assert within_rounding(count_params(spec).total, 119e9)


# -- Mistral Large 4 (MistralLarge4TextModel) ------------------------------------------------
H_L4, INDEX_KEY = 6144, 128 + 4  # DSA indexer key: fp8 head_dim + fp32 scale (cache.py)


def large4_attention(rope: bool, own_kv: bool, indexer: bool) -> int:
    """No q-LoRA; NoPE layers move the rope slice into the nope part (kv_b wider, kv_a
    narrower); MistralLarge4TextSoftmaxScaling 2 x 64; MistralLarge4TextIndexer wq_b from the
    hidden state, wk, k_norm LayerNorm(128), weights_proj, q_input_norm LayerNorm(hidden),
    softmax scaling 2 x 32."""
    h = H_L4
    nope, r = (64, 64) if rope else (128, 0)
    q = h * 64 * 128
    kv_a = h * (512 + r) + 512 if own_kv else 0
    n = q + kv_a + 512 * 64 * (nope + 128) + 64 * 128 * h + 2 * 64
    if indexer:
        n += h * 32 * 128 + h * 128 + 2 * 128 + h * 32 + 2 * h + 2 * 32
    return n


def test_mistral_large4_active_kv_and_name():
    h, n, vocab = H_L4, 72, 204800
    nope_layers = [i for i in range(n) if (i + 1) % 4 == 0]  # no_rope_layer_interval 4
    attn = sum(large4_attention(i not in nope_layers, True, True) for i in range(n))
    dense = 3 * h * 24576  # layer 0 (first_k_dense_replace 1)
    moe = 5 * 3 * h * 6144 + h * 128  # top-4 + shared expert + router
    active = attn + dense + (n - 1) * moe + (2 * n + 1) * h + vocab * h
    spec = spec_of("mistral_large4")
    counts = count_params(spec)
    assert counts.active == active
    kv = (n - len(nope_layers)) * (512 + 64) * 2 + len(nope_layers) * 512 * 2 + n * INDEX_KEY
    assert kv_bytes_per_token_all_layers(spec, "bf16") == kv
    # mistralai/Mistral-Large-4-1T-A52B: the default config is that model
    assert within_rounding(counts.total + counts.towers_total, 1e12)
    assert within_rounding(counts.active, 52e9)
    # the Pixtral tower and its projector (PixtralVisionModel, MistralLarge4MultiModalProjector)
    vh, vi = 2048, 6144
    tower = 3 * 14 * 14 * vh + vh + 30 * (4 * vh * vh + 3 * vh * vi + 2 * vh)
    tower += vh + 4 * vh * vh + vh * h + h * h
    assert counts.towers == {"vision": tower}


def test_mistral_large4_kv_sharing():
    """9 layers, kv_source_layers [0,0,2,2,2,5,6,6,6], index_topk_freq 2: layers 0, 2, 5 and 6
    cache a latent (all RoPE layers); indexers run on 0, 1, 3, 5, 7 and cache their keys
    (layer 1 and 3 keep indexer keys while reusing the latent); 3 and 7 are NoPE."""
    spec = spec_of("mistral_large4_text-shared")
    own, full_ix, nope = {0, 2, 5, 6}, {0, 1, 3, 5, 7}, {3, 7}
    attn = sum(large4_attention(i not in nope, i in own, i in full_ix) for i in range(9))
    assert count_params(spec).breakdown["attention"] == attn
    assert kv_bytes_per_token_all_layers(spec, "bf16") == 4 * 576 * 2 + 5 * INDEX_KEY


# -- Gemma 4 (Gemma4TextModel) ---------------------------------------------------------------
def gemma4_attention(h, heads, kv, d, shared=False, k_eq_v=False, bias=False):
    """q_proj + q_norm [d], o_proj; unless KV-shared k_proj, k_norm [d], v_proj (none with
    attention_k_eq_v), v_norm without weight."""
    n = h * heads * d + heads * d * h + d + (heads * d + h if bias else 0)
    if not shared:
        n += h * kv * d + d + (kv * d if bias else 0)
        n += 0 if k_eq_v else h * kv * d + (kv * d if bias else 0)
    return n


def test_gemma4_moe_active_and_kv():
    """A 26B-A4B-shaped config: 30 layers, full attention every 6th with 512-wide heads, 2 KV
    heads and k_eq_v; a gated MLP and a 128-expert top-8 MoE in every layer."""
    h, n, vocab = 2816, 30, 262144
    full = {5, 11, 17, 23, 29}
    attn = sum(
        gemma4_attention(h, 16, 2, 512, k_eq_v=True)
        if i in full
        else gemma4_attention(h, 16, 8, 256)
        for i in range(n)
    )
    layer_ffn = 3 * h * 2112 + 8 * 3 * h * 704 + h * 128 + h + 128  # MLP, top-8, router
    active = attn + n * layer_ffn + (7 * n + 1) * h + vocab * h  # tied head
    spec = spec_of("gemma4_text-moe")
    assert count_params(spec).active == active
    per_token = 25 * 8 * 256 * 2 * 2 + 5 * 2 * 512 * 2 * 2
    assert kv_bytes_per_token_all_layers(spec, "bf16") == per_token
    # sliding layers hold at most the 1024-token window
    ctx = 8192
    assert kv_bytes_per_sequence(spec, ctx, "bf16") == 25 * 8192 * 1024 + 5 * 4096 * ctx


def test_gemma4_kv_shared_layers():
    """12 layers, the last 5 reuse the cache of layer 4 (sliding) or 5 (full): no k/v
    projections of their own, a double-wide MLP, and no cache."""
    spec = spec_of("gemma4_text-shared")
    h, full = 2304, {5, 11}
    attn = sum(
        gemma4_attention(
            h,
            8,
            1 if i in full else 4,
            512 if i in full else 256,
            shared=i >= 7,
            k_eq_v=i in full,
            bias=True,
        )
        for i in range(12)
    )
    counts = count_params(spec)
    assert counts.breakdown["attention"] == attn
    ple = 3 * 12 * h * 256  # per_layer_model_projection + per-layer gate and projection
    assert counts.breakdown["dense_ffn"] == 7 * 3 * h * 9216 + 5 * 3 * h * 2 * 9216 + ple
    assert counts.breakdown["embedding"] == 262144 * h + 262144 * 12 * 256
    assert kv_bytes_per_token_all_layers(spec, "bf16") == 6 * 4 * 256 * 4 + 512 * 4


def test_gemma4_default_dense():
    """The default (E2B-like) config: dense, PLE, no KV sharing; the PLE table is not active."""
    counts = count_params(spec_of("gemma4"))
    assert counts.breakdown["routed_experts"] == 0
    assert counts.active == counts.total - counts.breakdown["embedding"] + 262144 * 2304
