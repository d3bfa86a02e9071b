"""Qwen4-Exp, Step-3.5/3.7-Flash and Muse Spark (transformers 5.23.0): totals against the numel
transformers builds (tests/data/configs-tf/qwen_step_muse/counts.json, written by
tools/transformers_survey.py), active parameters and KV bytes per token against hand counts
from the modeling code's shapes. No transformers or torch needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moeplan.errors import SpecError
from moeplan.memory.cache import kv_bytes_per_token_all_layers
from moeplan.model.hf_config import spec_from_config
from moeplan.model.params import count_params

DATA = Path(__file__).parent / "data" / "configs-tf" / "qwen_step_muse"
COUNTS = json.loads((DATA / "counts.json").read_text())


def _load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def _counts(name: str):
    return count_params(spec_from_config(_load(name), name))


def test_step3p7_total_active_kv() -> None:
    c = _counts("step3p7")
    h, n, heads, kv, d, vocab = 4096, 45, 64, 8, 128, 128815
    e, k, w, shared_w, dense_w = 288, 8, 1280, 1280, 11264
    # the survey builds Step3p7Model (AutoModel): no lm_head [vocab, hidden], and its
    # multi_modal_projector [6144, 4096] sits with the text weights
    assert c.total == COUNTS["step3p7"]["text"] + vocab * h - 6144 * 4096
    # Step3p7Attention: q, k, v, o, q/k RMSNorm(head_dim), g_proj [hidden, heads]
    attn = h * heads * d + 2 * h * kv * d + heads * d * h + 2 * d + h * heads
    dense = 3 * 3 * h * dense_w  # layers 0-2 dense (moe_layers_enum default)
    moe = 42 * (k * 3 * h * w + 3 * h * shared_w + h * e + e)  # router + e_score_correction_bias
    norms = (2 * n + 1) * h
    assert c.active == vocab * h + n * attn + dense + moe + norms
    assert (
        kv_bytes_per_token_all_layers(spec_from_config(_load("step3p7"), "s")) == n * 2 * kv * d * 2
    )
    # Step-3.5-Flash: 196B total, 11B active (with embeddings)
    assert round(c.total / 1e9) == 196
    assert round(c.active_with_embedding / 1e9) == 11


def test_step3p5_sliding_heads() -> None:
    raw = _load("step3p7")["text_config"]
    raw = {
        **raw,
        "model_type": "step3p5",
        "num_hidden_layers": 2,
        "layer_types": ["sliding_attention", "full_attention"],
        "mlp_layer_types": ["dense", "sparse"],
        "sliding_window": 512,
        "num_sliding_attention_heads": 96,
    }
    spec = spec_from_config(raw, "s")
    assert spec.layer_attention(spec.layers[0]).num_heads == 96
    assert spec.layers[0].window == 512


def test_muse_spark_total_active_kv() -> None:
    c = _counts("muse_spark_text")
    h, n, heads, kv, d, vocab = 8192, 62, 128, 16, 64, 202048
    e, k, w, m = 256, 8, 4096, 4096
    # the survey builds MuseSparkTextModel (AutoModel): no lm_head
    assert c.total == COUNTS["muse_spark_text"]["text"] + vocab * h
    # q, k, v, o and gate_proj [hidden, heads x head_dim]; weightless q/k and o norms
    attn = 2 * h * heads * d + 2 * h * kv * d + heads * d * h
    # router + bias, pre_expert_proj + norm, experts on moe_hidden_size, post norm + proj
    moe = h * e + e + 2 * h * m + 2 * m + k * 3 * m * w
    norms = n * 5 * h + h  # 3 norms + 2 residual gates per layer, final norm
    assert c.active == vocab * h + n * (attn + moe) + norms
    assert kv_bytes_per_token_all_layers(spec_from_config(_load("muse_spark_text"), "m")) == (
        n * 2 * kv * d * 2
    )
    # Muse-Spark-Open-816B-A42B: counts without embeddings and LM head, truncated
    assert int((c.total - 2 * vocab * h) / 1e9) == 816
    assert int(c.active_without_embeddings / 1e9) == 42
    assert _counts("muse_spark").total == c.total


@pytest.mark.parametrize("name", ["qwen4_exp_text", "qwen4_exp_text_small"])
def test_qwen4_exp_total(name: str) -> None:
    assert _counts(name).total == COUNTS[name]["text"]


def test_qwen4_exp_active_kv() -> None:
    c = _counts("qwen4_exp_text")
    h, n, heads, kv, d, vocab = 2048, 40, 16, 2, 256, 248320
    e, k, w, hc, r = 512, 10, 512, 4, 320
    ix_heads, ix_d = 8, 256
    # gated q_proj (2x), k, v, o, q/k norm; QSA index_qk_proj [hidden, 9 x 256] + 2 norms
    attn = 2 * h * heads * d + 2 * h * kv * d + heads * d * h + 2 * d
    attn += h * (ix_heads + 1) * ix_d + 2 * ix_d
    key_dim, value_dim, v_heads = 16 * 128, 32 * 128, 32
    conv = 2 * key_dim + value_dim
    gdn = h * conv + h * value_dim + 2 * h * v_heads + conv * 4 + 2 * v_heads + 128
    gdn += value_dim * h
    moe = h * e + k * 3 * h * w + 3 * h * w + h  # router, experts, shared expert + its gate
    wide = hc * h
    mixer = wide + 2 * wide * r
    hyper = n * 2 * (mixer + wide * hc) + mixer
    assert c.active == vocab * h + 10 * attn + 30 * gdn + n * moe + hyper
    spec = spec_from_config(_load("qwen4_exp_text"), "q")
    assert kv_bytes_per_token_all_layers(spec) == 10 * (2 * kv * d * 2 + ix_d * 2)


def test_qwen4_exp_refusals() -> None:
    raw = _load("qwen4_exp_text")
    no_indexer = {k: v for k, v in raw.items() if k != "indexer_n_heads"}
    with pytest.raises(SpecError, match="QSA"):
        spec_from_config(no_indexer, "q")
    with pytest.raises(SpecError, match="ple_layer_ids"):
        spec_from_config({**raw, "ple_layer_ids": [1]}, "q")
