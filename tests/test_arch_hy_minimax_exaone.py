"""Hy3 / Hy4, MiniMax-M3, K-EXAONE, Command A Plus (cohere2_moe) and Laguna, read from the
default configs of transformers 5.23.0 (and a variant each where the default leaves a feature
off) in tests/data/configs-tf/hy_minimax_exaone. The totals are transformers' own numel on the
meta device (counts.json, written by tools/transformers_survey.py --dump); active parameters
and KV bytes are recomputed here from the raw fields with the shapes of the modeling code,
independently of moeplan.model.params and moeplan.memory.cache. Needs neither torch nor
transformers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moeplan.memory.cache import kv_bytes_per_sequence, kv_bytes_per_token_all_layers
from moeplan.model.hf_config import spec_from_config
from moeplan.model.params import count_params

DATA = Path(__file__).parent / "data" / "configs-tf" / "hy_minimax_exaone"
COUNTS = json.loads((DATA / "counts.json").read_text())
CONTEXT = 100_000  # beyond every sliding window here


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def swiglu(h: int, w: int) -> int:
    return 3 * h * w


def gqa(h, heads, kv, d, qk_norm=True, bias=False, gate=0):
    """q [h, H*d], k/v [h, KV*d], o [H*d, h] (+ q/k/v/o biases), q/k RMSNorm(d), gate width."""
    n = h * heads * d + 2 * h * kv * d + heads * d * h + h * gate
    n += (heads * d + 2 * kv * d + h) if bias else 0
    return n + (2 * d if qk_norm else 0)


def moe_layer(h, experts, k, width, shared_width, score_bias=True):
    """(all weights, active weights) of one MoE block: experts + shared MLP + router."""
    router = experts * h + (experts if score_bias else 0)
    fixed = swiglu(h, shared_width) + router
    return fixed + experts * swiglu(h, width), fixed + k * swiglu(h, width)


# -- per family: (total, active, KV bytes per token bf16, KV bytes of CONTEXT tokens) --------
def hy_v3(c):
    """HYV3ForCausalLM: GQA + per-head q/k norm (ApertusAttention), q/k/v/o biased with
    attention_bias; HYV3MoE shared MLP of moe_intermediate_size x num_shared_experts."""
    h, d = c["hidden_size"], c["head_dim"]
    attn = gqa(h, c["num_attention_heads"], c["num_key_value_heads"], d, bias=c["attention_bias"])
    w = c["moe_intermediate_size"]
    moe = moe_layer(h, c["num_experts"], c["num_experts_per_tok"], w, w * c["num_shared_experts"])
    total = active = 0
    for kind in c["mlp_layer_types"]:
        ffn = (swiglu(h, c["intermediate_size"]),) * 2 if kind == "dense" else moe
        total += attn + 2 * h + ffn[0]
        active += attn + 2 * h + ffn[1]
    head = c["vocab_size"] * h
    kv = len(c["mlp_layer_types"]) * c["num_key_value_heads"] * 2 * d * 2
    return total + 2 * head + h, active + head + h, kv, kv * CONTEXT


def hy_v4(c):
    """HYV4ForCausalLM: MLA (q_lora) + gate_proj [h, H*v] + sinks [H]; DSA indexer on "full"
    layers (wq_b [q_lora, n*d], wk [h, d], LayerNorm(d), weights_proj [h, n]); hyper-connections:
    per layer attn_hc + ffn_hc, fn [2m, m*h] + base [2m] + scale [2]; hc_head fn [m, m*h] +
    base [m] + scale [1]. KV: the 512 + 64 latent per layer; index keys in moeplan's DSA
    format (fp8 + an fp32 scale per 128: 132 bytes; transformers' cache keeps them in bf16)."""
    h, heads, ql, kvl = (
        c["hidden_size"],
        c["num_attention_heads"],
        c["q_lora_rank"],
        c["kv_lora_rank"],
    )
    nope, rope, v = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
    mla = h * ql + ql + ql * heads * (nope + rope) + h * (kvl + rope) + kvl
    mla += kvl * heads * (nope + v) + heads * v * h + h * heads * v + heads
    n_ix, d_ix = c["index_n_heads"], c["index_head_dim"]
    indexer = ql * n_ix * d_ix + h * d_ix + 2 * d_ix + h * n_ix
    m = c["hc_mult"]
    hc = 2 * (2 * m * m * h + 2 * m + 2)
    w = c["moe_intermediate_size"]
    moe = moe_layer(
        h, c["n_routed_experts"], c["num_experts_per_tok"], w, w * c["n_shared_experts"]
    )
    total = active = 0
    for kind, ix in zip(c["mlp_layer_types"], c["indexer_types"], strict=True):
        ffn = (swiglu(h, c["intermediate_size"]),) * 2 if kind == "dense" else moe
        layer = mla + (indexer if ix == "full" else 0) + 2 * h + hc
        total += layer + ffn[0]
        active += layer + ffn[1]
    head = c["vocab_size"] * h
    tail = h + m * m * h + m + 1
    full = c["indexer_types"].count("full")
    kv = len(c["indexer_types"]) * (kvl + rope) * 2 + full * (d_ix + 4)
    return total + 2 * head + tail, active + head + tail, kv, kv * CONTEXT


def minimax_m3_text(c):
    """MiniMaxM3VLForCausalLM: GQA + per-head q/k norm; minimax_m3_sparse layers add
    MiniMaxM3VLIndexer (q_proj [h, n*d], k_proj [h, d], q/k RMSNorm(d)) and keep one bf16 index
    key per token; MoE: experts of intermediate_size, shared MLP of shared_intermediate_size,
    sigmoid router with correction bias; dense layers of dense_intermediate_size."""
    h, d, kvh = c["hidden_size"], c["head_dim"], c["num_key_value_heads"]
    attn = gqa(h, c["num_attention_heads"], kvh, d)
    n_ix, d_ix = c["index_n_heads"], c["index_head_dim"]
    indexer = h * n_ix * d_ix + h * d_ix + 2 * d_ix
    moe = moe_layer(
        h,
        c["num_local_experts"],
        c["num_experts_per_tok"],
        c["intermediate_size"],
        c["shared_intermediate_size"],
    )
    total = active = kv = 0
    for kind, mixer in zip(c["mlp_layer_types"], c["layer_types"], strict=True):
        ffn = (swiglu(h, c["dense_intermediate_size"]),) * 2 if kind == "dense" else moe
        sparse = mixer == "minimax_m3_sparse"
        layer = attn + (indexer if sparse else 0) + 2 * h
        total += layer + ffn[0]
        active += layer + ffn[1]
        kv += kvh * 2 * d * 2 + (d_ix * 2 if sparse else 0)
    head = c["vocab_size"] * h
    return total + 2 * head + h, active + head + h, kv, kv * CONTEXT


def minimax_m3_tower(c):
    """MiniMaxM3VLVisionModel (Conv3d without bias, pre LayerNorm, CLIP blocks with biases) and
    MiniMaxM3VLMultiModalProjector (four biased linears)."""
    v, text = c["vision_config"], c["text_config"]["hidden_size"]
    h, inner, p = v["hidden_size"], v["intermediate_size"], c["projector_hidden_size"]
    conv = v["num_channels"] * v["temporal_patch_size"] * v["patch_size"] ** 2 * h
    block = 4 * h + 4 * (h * h + h) + 2 * h * inner + inner + h
    merged = text * v["spatial_merge_size"] ** 2
    proj = (h + 1) * p + (p + 1) * text + (merged + 1) * p + (p + 1) * text
    return conv + 2 * h + v["num_hidden_layers"] * block + proj


def exaone_moe(c):
    """ExaoneMoeForCausalLM: Exaone4Attention (per-head q/k norm, d = hidden / heads), sliding
    layers hold sliding_window tokens; DeepSeek-V3 router with correction bias."""
    h, heads, kvh = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    d = h // heads
    attn = gqa(h, heads, kvh, d)
    w = c["moe_intermediate_size"]
    moe = moe_layer(h, c["num_experts"], c["num_experts_per_tok"], w, w * c["num_shared_experts"])
    total = active = 0
    for kind in c["mlp_layer_types"]:
        ffn = (swiglu(h, c["intermediate_size"]),) * 2 if kind == "dense" else moe
        total += attn + 2 * h + ffn[0]
        active += attn + 2 * h + ffn[1]
    per_layer = kvh * 2 * d * 2
    kv = per_layer * len(c["layer_types"])
    held = sum(
        min(CONTEXT, c["sliding_window"]) if t == "sliding_attention" else CONTEXT
        for t in c["layer_types"]
    )
    head = c["vocab_size"] * h
    return total + 2 * head + h, active + head + h, kv, per_layer * held


def cohere2_moe(c):
    """Cohere2MoeForCausalLM: one norm per layer (parallel block), q/k/v/o biased with
    attention_bias, no q/k norm; MixtralExperts of intermediate_size, softmax router without
    bias, shared MLP of intermediate_size x num_shared_experts; dense prefix of
    prefix_dense_intermediate_size; embeddings tied by default."""
    h, d, kvh = c["hidden_size"], c["head_dim"], c["num_key_value_heads"]
    attn = gqa(h, c["num_attention_heads"], kvh, d, qk_norm=False, bias=c["attention_bias"])
    w = c["intermediate_size"]
    moe = moe_layer(
        h, c["num_experts"], c["num_experts_per_tok"], w, w * c["num_shared_experts"], False
    )
    dense = swiglu(h, c["prefix_dense_intermediate_size"] or w)
    total = active = 0
    for kind in c["mlp_layer_types"]:
        ffn = (dense, dense) if kind == "dense" else moe
        total += attn + h + ffn[0]
        active += attn + h + ffn[1]
    per_layer = kvh * 2 * d * 2
    held = sum(
        min(CONTEXT, c["sliding_window"]) if t == "sliding_attention" else CONTEXT
        for t in c["layer_types"]
    )
    head = c["vocab_size"] * h
    tables = head if c["tie_word_embeddings"] else 2 * head
    return (
        total + tables + h,
        active + head + h,
        per_layer * len(c["layer_types"]),
        per_layer * held,
    )


def laguna(c):
    """LagunaForCausalLM: per-layer query heads, per-head q/k norm, softplus gate g_proj
    [h, H] (per-head) or [h, H*d] (per-element), q/k/v/o biased with attention_bias; sigmoid
    router with correction bias, shared MLP of shared_expert_intermediate_size."""
    h, d, kvh = c["hidden_size"], c["head_dim"], c["num_key_value_heads"]
    per_head = c["gating"] is True or c["gating"] == "per-head"
    moe = moe_layer(
        h,
        c["num_experts"],
        c["num_experts_per_tok"],
        c["moe_intermediate_size"],
        c["shared_expert_intermediate_size"],
    )
    total = active = 0
    for kind, heads in zip(c["mlp_layer_types"], c["num_attention_heads_per_layer"], strict=True):
        gate = heads if per_head else heads * d
        attn = gqa(h, heads, kvh, d, bias=c["attention_bias"], gate=gate)
        ffn = (swiglu(h, c["intermediate_size"]),) * 2 if kind == "dense" else moe
        total += attn + 2 * h + ffn[0]
        active += attn + 2 * h + ffn[1]
    per_layer = kvh * 2 * d * 2
    held = sum(
        min(CONTEXT, c["sliding_window"]) if t == "sliding_attention" else CONTEXT
        for t in c["layer_types"]
    )
    head = c["vocab_size"] * h
    return (
        total + 2 * head + h,
        active + head + h,
        per_layer * len(c["layer_types"]),
        per_layer * held,
    )


CASES = {
    "hy_v3": hy_v3,
    "hy_v3-variant": hy_v3,
    "hy_v4": hy_v4,
    "hy_v4-variant": hy_v4,
    "minimax_m3_vl_text": minimax_m3_text,
    "minimax_m3_vl_text-sparse": minimax_m3_text,
    "exaone_moe": exaone_moe,
    "cohere2_moe": cohere2_moe,
    "cohere2_moe-variant": cohere2_moe,
    "laguna": laguna,
    "laguna-variant": laguna,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_counts_match_transformers_and_the_hand_count(name):
    c = load(name)
    spec = spec_from_config(c, name)
    counts = count_params(spec)
    total, active, kv, kv_seq = CASES[name](c)
    assert counts.total == COUNTS[name]["text"]  # transformers' numel, to the parameter
    assert counts.total == total
    assert counts.active == active
    assert counts.towers_total == COUNTS[name]["towers"] == 0
    assert kv_bytes_per_token_all_layers(spec) == kv
    assert kv_bytes_per_sequence(spec, CONTEXT) == kv_seq
    assert not spec.recurrent_layers  # none of these keeps a recurrent state


def test_minimax_m3_wrapper_reads_the_text_config_and_counts_the_tower():
    c = load("minimax_m3_vl")
    spec = spec_from_config(c, "minimax_m3_vl")
    counts = count_params(spec)
    total, active, kv, _ = minimax_m3_text(c["text_config"])
    assert counts.total == COUNTS["minimax_m3_vl"]["text"] == total
    assert counts.active == active
    assert kv_bytes_per_token_all_layers(spec) == kv
    assert counts.towers_total == COUNTS["minimax_m3_vl"]["towers"] == minimax_m3_tower(c)


def test_minimax_m3_legacy_sparse_attention_config():
    """A checkpoint's sparse_attention_config / moe_layer_freq (MiniMaxM3VLTextConfig
    __post_init__ maps them) read as layer_types / mlp_layer_types."""
    c = load("minimax_m3_vl_text-sparse")
    legacy = {k: v for k, v in c.items() if k not in ("layer_types", "mlp_layer_types")}
    legacy["moe_layer_freq"] = [t == "sparse" for t in c["mlp_layer_types"]]
    legacy["sparse_attention_config"] = {
        "sparse_attention_freq": [int(t == "minimax_m3_sparse") for t in c["layer_types"]],
        "sparse_num_index_heads": legacy.pop("index_n_heads"),
        "sparse_index_dim": legacy.pop("index_head_dim"),
    }
    assert (
        count_params(spec_from_config(legacy, "legacy")).total
        == COUNTS["minimax_m3_vl_text-sparse"]["text"]
    )


def test_sparse_layers_carry_the_indexer_top_k():
    c = load("minimax_m3_vl_text-sparse")
    spec = spec_from_config(c, "m3")
    picked = c["index_topk_blocks"] * c["index_block_size"]
    tops = [spec.layer_attention(x).indexer for x in spec.layers]
    assert [ix.top_k if ix else None for ix in tops] == [None, picked, picked, None]


def test_hy_v4_shared_indexer_layers_keep_no_index_keys():
    spec = spec_from_config(load("hy_v4"), "hy_v4")
    shared = [spec.layer_attention(x).indexer.shared for x in spec.layers]
    assert shared == [t == "shared" for t in load("hy_v4")["indexer_types"]]


def test_unknown_laguna_gating_is_refused():
    from moeplan.errors import SpecError

    with pytest.raises(SpecError, match="gating"):
        spec_from_config({**load("laguna"), "gating": "per-token"}, "laguna")
