"""Qwen4-Exp, Step-3.5/3.7-Flash and Muse Spark (transformers 5.23.0): totals against the numel
transformers builds (tests/data/configs-tf/qwen_step_muse/counts.json, written by
tools/transformers_survey.py), active parameters and KV bytes per token against hand counts
from the modeling code's shapes. No transformers or torch needed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from moeplan.errors import SpecError
from moeplan.memory.cache import kv_bytes_per_token_all_layers, ple_state_bytes
from moeplan.memory.estimate import weights_bytes_by_component
from moeplan.memory.quant import resolve_scheme
from moeplan.model.hf_config import spec_from_config
from moeplan.model.params import count_params
from moeplan.model.readers2026.qwen4_ple import is_prime, ngram_table_rows, nth_prime_after

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
    # PLE only on linear_attention layers, one-indexed (Qwen4ExpTextConfig.validate_architecture)
    with pytest.raises(SpecError, match="linear_attention"):
        spec_from_config({**raw, "ple_layer_ids": [4]}, "q")
    with pytest.raises(SpecError, match="one-indexed"):
        spec_from_config({**raw, "ple_layer_ids": [0]}, "q")
    with pytest.raises(SpecError, match="split over 16"):
        spec_from_config({**raw, "ple_layer_ids": [1], "ple_embed_dim": 2050}, "q")
    with pytest.raises(SpecError, match="ple_embedding_dtype"):
        spec_from_config({**raw, "ple_layer_ids": [1], "ple_embedding_dtype": "int3"}, "q")


# Per-Layer Embeddings. qwen3_8_flash_next.json: Qwen/Qwen3.8-Flash-Next (renamed Qwen4-Exp)
# config.json as shipped, from two public copies (a Python test fixture "shaped exactly like
# Qwen/Qwen3.8-Flash-Next's shipped config.json", and a Rust test pinned to
# RadixArk/Qwen3.8-Flash-Next-NVFP4's config.json for the vision_config); qwen4_exp_text_ple
# (PLE on layers 1 and 4, 4-grams, 9 heads, base 1000) and qwen4_exp_text_ple_default (five PLE
# layers, default n-gram fields) widen the survey's configs. counts.json: sum(numel) of the
# model transformers 5.23 builds on the meta device ("ple": the PLE modules' share).
PLE_CONFIGS = ["qwen4_exp_text_ple", "qwen4_exp_text_ple_default", "qwen3_8_flash_next"]
# the prime head sizes after 20,000,000 - 1 that the modeling code finds for PLE layer index 0
# (the same 16 values in public ports' golden tests)
FLASH_PRIMES = (20000003, 20000023, 20000033, 20000047, 20000059, 20000063, 20000069, 20000077)
FLASH_PRIMES += (20000081, 20000093, 20000107, 20000147, 20000153, 20000159, 20000161, 20000171)


@pytest.mark.parametrize("name", PLE_CONFIGS)
def test_qwen4_exp_ple_total(name: str) -> None:
    c = _counts(name)
    assert c.total == COUNTS[name]["text"]
    assert c.lookup_tables == COUNTS[name]["ngram_tables"]


def test_qwen4_exp_ple_primes() -> None:
    assert [nth_prime_after(19_999_999, k) for k in range(1, 17)] == list(FLASH_PRIMES)
    trial = [n for n in range(2000) if n > 1 and all(n % d for d in range(2, math.isqrt(n) + 1))]
    assert [n for n in range(2000) if is_prime(n)] == trial
    assert is_prime(2**61 - 1) and not is_prime(3215031751)  # a strong pseudoprime to 2,3,5,7
    # qwen4_exp_text_ple: 9 heads; PLE index 0 takes the 9 primes after 999, index 1 the next 9
    first = (1009, 1013, 1019, 1021, 1031, 1033, 1039, 1049, 1051)
    second = (1061, 1063, 1069, 1087, 1091, 1093, 1097, 1103, 1109)
    assert ngram_table_rows(1000, 9, 0, 64) == math.ceil(sum(first) / 64) * 64 == 9280
    assert ngram_table_rows(1000, 9, 1, 64) == math.ceil(sum(second) / 64) * 64 == 9792
    assert COUNTS["qwen4_exp_text_ple"]["ngram_tables"] == (9280 + 9792) * (1152 // 9)


def test_qwen4_exp_ple_released() -> None:
    spec = spec_from_config(_load("qwen3_8_flash_next"), "flash")
    c = count_params(spec)
    h, hc, vocab = 2560, 4, 248320
    rows = math.ceil(sum(FLASH_PRIMES) / 128) * 128
    assert rows == 320001536
    table = rows * (2560 // 16)  # 16 heads of 160 values
    assert c.lookup_tables == table == 51_200_245_760
    # key_proj [2560, 4 x 2560], value_proj [2560, 2560], depthwise conv [10240, 1, 4]
    dense = h * (hc * h + h) + hc * h * 4
    assert c.breakdown["dense_ffn"] == dense
    assert COUNTS["qwen3_8_flash_next"]["ple"] == table + dense + 3 * hc * h  # + 3 norms
    assert c.breakdown["embedding"] == vocab * h + table
    assert c.active_breakdown["dense_ffn"] == dense  # the table is a lookup, not active
    assert c.active_with_embedding == c.active + vocab * h
    # Qwen: "125B parameters in total (including an additional 51B N-gram embedding table),
    # activating about 6B per token" (ms-swift Qwen3.8-Flash-Next best practice); the
    # checkpoint's 177B are 125.7B beside the 51.2B table; unsloth: BF16 355 GB
    assert round((c.total - table) / 1e9) == 126 and round(table / 1e9) == 51
    assert round(c.total / 1e9) == 177
    assert round(c.active_without_embeddings / 1e9) == 6
    # PLE state per sequence: dilated conv window 10240 x 3 x 3 (bf16) + 2 token ids (int64)
    assert ple_state_bytes(spec) == hc * h * 9 * 2 + 2 * 8


def test_qwen4_exp_ple_table_format() -> None:
    raw = _load("qwen3_8_flash_next")
    fp8 = {"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [128, 128]}
    raw = {**raw, "quantization_config": fp8}
    plain = spec_from_config(raw, "f")
    text = {**raw["text_config"], "ple_embedding_dtype": "float8_e4m3fn"}
    spec = spec_from_config({**raw, "text_config": text}, "f")
    assert spec.ngram_ple is not None and spec.ngram_ple.table_format == "fp8"
    native = resolve_scheme("native", spec)
    table = count_params(spec).lookup_tables
    main = 248320 * 2560
    assert weights_bytes_by_component(spec, native)["embedding"] == 2 * main + table
    before = weights_bytes_by_component(plain, resolve_scheme("native", plain))
    assert before["embedding"] == 2 * (main + table)  # an FP8 checkpoint keeps it BF16
    # any other scheme stores the table as it stores the embedding
    assert weights_bytes_by_component(spec, resolve_scheme("bf16"))["embedding"] == 2 * (
        main + table
    )


# MTP: the released config also carries mtp_num_hidden_layers 1, mtp_use_dedicated_embeddings
# false and an "mtp" sub-dict (public copies of Qwen/Qwen3.8-Flash-Next's config.json, e.g. a
# C++ loader test quoting it field for field); transformers drops the mtp.* weights on load.
RELEASED_MTP = {
    "mtp": {
        "hybrid": True,
        "layer_types": ["full_attention"],
        "mtp_use_hidden_state_from_layer": None,
        "num_hidden_layers": 1,
        "rope_theta": 10000000,
    },
    "mtp_num_hidden_layers": 1,
    "mtp_use_dedicated_embeddings": False,
}


def _flash_with_mtp(**text: object) -> dict:
    raw = _load("qwen3_8_flash_next")
    return {**raw, "text_config": {**raw["text_config"], **RELEASED_MTP, **text}}


def _flash_mtp_by_hand(layers: int) -> int:
    """The head's tensors (vLLM Qwen4ExpMultiTokenPredictor; the released checkpoint's 31
    mtp.* tensors: a public census of its safetensors headers)."""
    h, hc, r, heads, kv, d, e, w = 2560, 4, 320, 24, 2, 256, 512, 640
    wide = hc * h
    mixer = wide + 2 * wide * r  # hc_norm, input_mix_weight_down / up
    glue = 2 * h * h + h + wide + mixer  # fc_embedding, fc_hidden, pre_fc_norm_*, mixer
    # gated q_proj, k, v, o, q/k norm; indexer index_qk_proj [(4 + 1) x 128, hidden] + 2 norms
    attn = 2 * h * heads * d + 2 * h * kv * d + heads * d * h + 2 * d + h * 5 * 128 + 2 * 128
    moe = e * 3 * h * w + h * e + 3 * h * w + h  # experts, router, shared expert + its gate
    hyper = 2 * (mixer + wide * hc)  # attn / mlp hyper-connections with block_inject_weight
    return glue + layers * (attn + moe + hyper)


def test_qwen4_exp_mtp_released() -> None:
    plain = count_params(spec_from_config(_load("qwen3_8_flash_next"), "f"))
    spec = spec_from_config(_flash_with_mtp(), "f")
    c = count_params(spec)
    assert spec.mtp_layers == 1 and not spec.mtp_embedding
    # the census: "MTP (dense 0.091 B + experts 2.517 B) 2.61 B"; 31 tensors whose numel
    # the head assembled from transformers' own Qwen4ExpText modules (meta device) also gives
    assert c.breakdown["mtp"] == _flash_mtp_by_hand(1) == 2_607_150_848
    assert c.breakdown["mtp"] - 512 * 3 * 2560 * 640 == 90_568_448
    assert c.total == plain.total == COUNTS["qwen3_8_flash_next"]["text"]
    assert c.active == plain.active
    assert c.total_with_mtp == c.total + 2_607_150_848


def test_qwen4_exp_mtp_variants() -> None:
    two = {"mtp_num_hidden_layers": 2, "mtp": {"num_hidden_layers": 2}}
    c = count_params(spec_from_config(_flash_with_mtp(**two), "f"))
    assert c.breakdown["mtp"] == _flash_mtp_by_hand(2)  # the fc pair, norms and mixer once
    own = count_params(spec_from_config(_flash_with_mtp(mtp_use_dedicated_embeddings=True), "f"))
    assert own.breakdown["mtp"] == _flash_mtp_by_hand(1) + 248320 * 2560  # mtp.embed_tokens
    bare = _load("qwen3_8_flash_next")
    bare = {**bare, "text_config": {**bare["text_config"], "mtp_num_hidden_layers": 1}}
    assert count_params(spec_from_config(bare, "f")).breakdown["mtp"] == _flash_mtp_by_hand(1)
    gdn = {"mtp": {"num_hidden_layers": 1, "layer_types": ["linear_attention"]}}
    with pytest.raises(SpecError, match="other than full_attention"):
        spec_from_config(_flash_with_mtp(**gdn), "f")
    with pytest.raises(SpecError, match="disagrees"):
        spec_from_config(_flash_with_mtp(mtp_num_hidden_layers=2), "f")


def test_qwen4_exp_vision_tower() -> None:
    # the test config's vision_config (from the NVFP4 copy) omits model_type and
    # num_position_embeddings: Qwen4ExpVisionConfig's defaults fill them (pos_embed [2304, 1152])
    c = _counts("qwen3_8_flash_next")
    assert c.towers == {"vision": COUNTS["qwen3_8_flash_next"]["towers"]} == {"vision": 448_931_056}
    # the released vision_config states them (public copies: model_type "qwen4_exp",
    # num_position_embeddings 2304, deepstack_visual_indexes [], hidden_act, in_channels)
    raw = _load("qwen3_8_flash_next")
    stated = {
        **raw["vision_config"],
        "model_type": "qwen4_exp",
        "num_position_embeddings": 2304,
        "deepstack_visual_indexes": [],
        "in_channels": 3,
    }
    assert _towers({**raw, "vision_config": stated}) == 448_931_056
    # Qwen4ExpVisionModel builds no deepstack merger whatever the field says
    assert _towers({**raw, "vision_config": {**stated, "deepstack_visual_indexes": [8]}}) == (
        448_931_056
    )
    pos = 2304 * 1152
    fewer = {**stated, "num_position_embeddings": 1024}
    assert _towers({**raw, "vision_config": fewer}) == 448_931_056 - pos + 1024 * 1152
    # the whole checkpoint: 359,999,963,128 bytes in 131 shards (a public census of the
    # safetensors headers; "vision" 897,862,112 bytes): text + MTP + vision in BF16 and the PLE
    # hash constants (3 + 16 + 16 int64)
    mtp = count_params(spec_from_config(_flash_with_mtp(), "f"))
    assert 2 * (mtp.total_with_mtp + 448_931_056) + 35 * 8 == 359_999_963_128


def _towers(raw: dict) -> int:
    return count_params(spec_from_config(raw, "f")).towers["vision"]
