"""DeepSeek-V4 and GLM-5.3 (glm5_next) read from transformers 5.23.0's default configs
(tests/data/configs-tf/deepseek_glm, written by tools/transformers_survey.py --dump): the total
equals the meta-device model's numel recorded in counts.json; active parameters and KV bytes are
recomputed here from the raw config fields with the shapes of the modeling code, independently
of moeplan.model.params and moeplan.memory.cache. Needs neither torch nor transformers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moeplan.memory.cache import (
    kv_bytes_per_sequence,
    kv_bytes_per_token_all_layers,
    state_bytes_per_sequence,
)
from moeplan.model.hf_config import spec_from_config
from moeplan.model.params import count_params

DATA = Path(__file__).parent / "data" / "configs-tf" / "deepseek_glm"
COUNTS = json.loads((DATA / "counts.json").read_text())


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


# glm5_next has no AutoModelForCausalLM entry: the survey builds Glm5NextModel, without the
# untied lm_head [vocab, hidden] of Glm5NextForConditionalGeneration (checked on the meta
# device: 312,692,428,286 parameters + 12,096 correction-bias buffers + 634,388,480 head)
NO_HEAD_IN_COUNT = {"glm5_next"}


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_total_equals_transformers_numel(name):
    cfg = load(name)
    counts = count_params(spec_from_config(cfg, name))
    text = cfg.get("text_config", cfg)
    head = text["vocab_size"] * text["hidden_size"] if name in NO_HEAD_IN_COUNT else 0
    assert counts.total == COUNTS[name]["text"] + head
    assert counts.towers_total == COUNTS[name]["towers"]


# -- DeepSeek-V4 (modeling_deepseek_v4.py) ---------------------------------------------------
def v4_layer_kinds(c):
    return c["layer_types"], [k == "hash_moe" for k in c["mlp_layer_types"]]


def v4_attention(c, kind):
    """DeepseekV4Attention: q_a + q_a_norm + q_b, kv_proj (one K=V head) + kv_norm, o_a
    (grouped, [g*r, H*d/g]) + o_b [g*r, h], sinks [H]; compressors: kv/gate [h, s*d],
    position_bias [rate, s*d], kv_norm [d]; the CSA indexer the same at index_head_dim plus
    q_b [q_lora, heads*di] and weights_proj [h, heads]."""
    h, H, d, ql = c["hidden_size"], c["num_attention_heads"], c["head_dim"], c["q_lora_rank"]
    g, r = c["o_groups"], c["o_lora_rank"]
    n = h * ql + ql + ql * H * d + h * d + d + g * r * (H * d // g) + g * r * h + H
    if kind == "heavily_compressed_attention":
        rate = c["compress_rates"][kind]
        n += 2 * h * d + rate * d + d
    elif kind == "compressed_sparse_attention":
        rate = c["compress_rates"][kind]
        di, ih = c["index_head_dim"], c["index_n_heads"]
        n += 2 * h * 2 * d + rate * 2 * d + d
        n += 2 * h * 2 * di + rate * 2 * di + di + ql * ih * di + h * ih
    return n


def test_deepseek_v4_active_and_kv_by_hand():
    c = load("deepseek_v4")
    h, V, E, k, w = (
        c["hidden_size"],
        c["vocab_size"],
        c["n_routed_experts"],
        c["num_experts_per_tok"],
        c["moe_intermediate_size"],
    )
    types, hashed = v4_layer_kinds(c)
    assert types.count("compressed_sparse_attention") == 20
    assert types.count("heavily_compressed_attention") == 23 and sum(hashed) == 3
    n_hc = c["hc_mult"]
    mixes = (2 + n_hc) * n_hc
    per_layer_hc = 2 * (mixes * n_hc * h + mixes + 3)
    attention = sum(v4_attention(c, t) for t in types)
    router = sum(E * h + (0 if hs else E) for hs in hashed)  # top-k routers: + correction bias
    shared = 3 * h * w  # one DeepseekV4MLP of moe_intermediate_size
    norms = (2 * len(types) + 1) * h + len(types) * per_layer_hc + n_hc * n_hc * h + n_hc + 1
    active = V * h + attention + len(types) * (k * 3 * h * w + shared) + router + norms
    counts = count_params(spec_from_config(c, "deepseek_v4"))
    assert counts.active == active
    # the total by hand too: embedding + head + all experts
    total = active + V * h + len(types) * (E - k) * 3 * h * w
    assert counts.total == total == 284_325_879_255  # DeepSeek-V4-Flash: "284B total"
    assert round(counts.active / 1e9) == 13  # and "13B activated"

    # KV per token (bf16): every layer one K=V head of head_dim in its window; CSA adds
    # (head_dim + index_head_dim) per compress rate, HCA head_dim per its rate
    spec = spec_from_config(c, "deepseek_v4")
    d, di = c["head_dim"], c["index_head_dim"]
    csa = c["compress_rates"]["compressed_sparse_attention"]
    hca = c["compress_rates"]["heavily_compressed_attention"]
    per_token = 2 * (43 * d + 20 * (d + di) / csa + 23 * d / hca)
    assert kv_bytes_per_token_all_layers(spec) == per_token == 50_616
    # one sequence of 1000 tokens: window 128, closed windows, open-window buffers (kv and
    # gate), CSA's overlap slice of the last closed window (DeepseekV4CSACache)
    win = c["sliding_window"]
    hca_layer = (1000 // hca) * d + 2 * (1000 % hca) * d
    csa_layer = (1000 // csa) * (d + di) + 2 * (1000 % csa) * 2 * (d + di) + 2 * csa * (d + di)
    by_hand = 2 * (43 * win * d + 23 * hca_layer + 20 * csa_layer)
    assert kv_bytes_per_sequence(spec, 1000) == by_hand


# -- GLM-5.3-Flash (modeling_glm5_next.py) ---------------------------------------------------
def test_glm5_next_active_kv_and_state_by_hand():
    cfg = load("glm5_next")
    c = cfg["text_config"]
    h, V, L = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"]
    E, k, w = c["n_routed_experts"], c["num_experts_per_tok"], c["moe_intermediate_size"]
    types, mlps = c["layer_types"], c["mlp_layer_types"]
    assert types.count("indexed_attention") == 11 and mlps.count("dense") == 3
    assert set(c["indexer_types"]) == {"full"}
    # Glm5NextTextAttention: MLA without RoPE (q_a + norm + q_b, kv_a + norm, kv_b, o)
    H, ql, kl = c["num_attention_heads"], c["q_lora_rank"], c["kv_lora_rank"]
    nope, v = c["qk_nope_head_dim"], c["v_head_dim"]
    assert c["qk_rope_head_dim"] == 0
    mla = h * ql + ql + ql * H * nope + h * kl + kl + kl * H * (nope + v) + H * v * h
    # Glm5NextTextIndexer: wq_b, wk, k_norm LayerNorm, weights_proj, k-pool ape and gate
    ih, idim, pool = c["index_n_heads"], c["index_head_dim"], c["index_kpool"]
    indexer = ql * ih * idim + h * idim + 2 * idim + h * ih + pool * idim + idim * h
    # Glm5NextTextLinearAttention (KDA): q/k/v/o, depthwise conv over q|k|v, forget gate
    # f_a/f_b + dt_bias + A_log, b_proj, output gate g_a/g_b, gated RMSNorm
    lh, ld, kern = c["linear_num_heads"], c["linear_head_dim"], c["linear_conv_kernel_dim"]
    D = lh * ld
    kda = 4 * h * D + 3 * D * kern + 2 * ld * (h + D) + D + lh + h * lh + ld
    n_attn, n_kda = 11, L - 11
    n_moe, n_dense = L - 3, 3
    n_hc = c["hc_mult"]
    mixes = (2 + n_hc) * n_hc
    hc = L * 2 * (mixes * n_hc * h + mixes + 3)  # no weights in the mean HyperHead
    norms = (2 * L + 1) * h + hc
    moe_active = k * 3 * h * w + 3 * h * w * c["n_shared_experts"] + E * h + E
    active = (
        V * h
        + n_attn * (mla + indexer)
        + n_kda * kda
        + n_dense * 3 * h * c["intermediate_size"]
        + n_moe * moe_active
        + norms
    )
    spec = spec_from_config(cfg, "glm5_next")
    counts = count_params(spec)
    assert counts.active == active
    assert counts.total == active + V * h + n_moe * (E - k) * 3 * h * w
    # KV per token (bf16): the MLA latent (kv_lora, no rope key) and the indexer's packed
    # [key, k-pool gate logits, valid flag] (DynamicIndexedLayer.indexer_keys: 2 x 128 + 1)
    assert kv_bytes_per_token_all_layers(spec) == n_attn * 2 * (kl + 2 * idim + 1) == 16_918
    # state per sequence: conv window over q|k|v (kernel - 1, bf16) + H x d x d (fp32)
    state = n_kda * (3 * D * (kern - 1) * 2 + lh * ld * ld * 4)
    assert state_bytes_per_sequence(spec) == state == 147_619_840


def test_glm5_next_mtp_layer_by_hand():
    """GLM-5.3-Flash's MTP block (num_nextn_predict_layers 1 in the released text_config). The
    modeling code builds none (Glm5NextPreTrainedModel drops layers.45. and shared_head. on
    load); the released checkpoint holds model.language_model.layers.45: one single-stream
    decoder layer (Glm5NextTextAttention with a full Glm5NextTextIndexer, input and
    post-attention RMSNorms, Glm5NextTextMoE), enorm + hnorm + shared_head.norm [hidden],
    eh_proj [hidden, 2 hidden]; no hc_* weights, no embed_tokens / shared_head.head of its own.
    Counted in mtp (total_with_mtp), not in total or active."""
    cfg = load("glm5_next")
    base = count_params(spec_from_config(cfg, "glm5_next"))
    assert base.breakdown["mtp"] == 0
    cfg["text_config"]["num_nextn_predict_layers"] = 1
    c = cfg["text_config"]
    h, H, ql, kl = c["hidden_size"], c["num_attention_heads"], c["q_lora_rank"], c["kv_lora_rank"]
    nope, v = c["qk_nope_head_dim"], c["v_head_dim"]
    # q_a_proj + q_a_layernorm + q_b_proj, kv_a_proj_with_mqa + kv_a_layernorm, kv_b_proj, o_proj
    mla = h * ql + ql + ql * H * nope + h * kl + kl + kl * H * (nope + v) + H * v * h
    # indexer: wq_b, wk, k_norm (weight + bias), weights_proj, index_kpool_compress_ape / _gate
    ih, idim, pool = c["index_n_heads"], c["index_head_dim"], c["index_kpool"]
    indexer = ql * ih * idim + h * idim + 2 * idim + h * ih + pool * idim + idim * h
    # experts gate/up/down, shared_experts (1 x moe_intermediate_size), gate.weight + bias
    E, w = c["n_routed_experts"], c["moe_intermediate_size"]
    moe = E * 3 * h * w + c["n_shared_experts"] * 3 * h * w + E * h + E
    mtp = mla + indexer + 2 * h + moe + 2 * h * h + 3 * h
    spec = spec_from_config(cfg, "glm5_next")
    counts = count_params(spec)
    assert spec.mtp_layers == 1
    assert counts.breakdown["mtp"] == mtp == 7_432_593_952
    assert (counts.total, counts.active) == (base.total, base.active)
    # with the untied lm_head: 320.76 B, llama.cpp's glm5-next type for 45 layers "320B_A18B"
    assert counts.total_with_mtp == base.total + mtp == 320_759_422_814
