"""DeepSeek-V4 and GLM-5.3 (glm5_next) read from transformers 5.23.0's default configs
(tests/data/configs-tf/deepseek_glm, written by tools/transformers_survey.py --dump): the total
equals the meta-device model's numel recorded in counts.json; active parameters and KV bytes are
recomputed here from the raw config fields with the shapes of the modeling code, independently
of moeplan.model.params and moeplan.memory.cache. Needs neither torch nor transformers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moeplan.memory.cache import kv_bytes_per_sequence, kv_bytes_per_token_all_layers
from moeplan.model.hf_config import spec_from_config
from moeplan.model.params import count_params

DATA = Path(__file__).parent / "data" / "configs-tf" / "deepseek_glm"
COUNTS = json.loads((DATA / "counts.json").read_text())


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_total_equals_transformers_numel(name):
    counts = count_params(spec_from_config(load(name), name))
    assert counts.total == COUNTS[name]["text"]
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
