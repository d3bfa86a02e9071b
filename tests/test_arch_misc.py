"""dots.llm1 / dots3, ERNIE-4.5-VL, Hunyuan-A13B, FlexOlmo, Aria, JetMoE, MiniMax-M1: read from
configs transformers 5.23 writes (tests/data/configs-tf/misc, written by
tools/transformers_survey.py --dump or with the fields named in each test). Totals are checked
against the numel of the meta-device model recorded in counts.json; active parameters and KV
bytes per token against a hand count from the modeling code's shapes, independent of
moeplan.model.params. Runs without transformers or torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moeplan.errors import SpecError
from moeplan.memory.cache import kv_bytes_per_token_all_layers
from moeplan.model.hf_config import spec_from_config
from moeplan.model.params import count_params

DATA = Path(__file__).parent / "data" / "configs-tf" / "misc"
COUNTS = json.loads((DATA / "counts.json").read_text())


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def counts_of(name: str):
    return count_params(spec_from_config(load(name), name))


def swiglu(h: int, w: int) -> int:
    return 3 * h * w


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_total_is_the_transformers_numel(name):
    c = counts_of(name)
    assert c.total == COUNTS[name]["text"]
    assert c.towers_total == COUNTS[name]["towers"]


# -- dots.llm1 (rednote-hilab/dots.llm1.base config; the default Dots1Config does not build) --
def test_dots1():
    """Dots1: Qwen3Attention (MHA 32 x 128, per-head q/k norm), layer 0 dense MLP, 61
    DeepseekV3MoE layers: 128 experts top-6 of width 1408, 2 shared (one MLP of 2 x 1408)."""
    c = load("dots1")
    h, L, v = 4096, 62, 152064
    attn = 4 * h * 32 * 128 + 2 * 128
    moe_active = 6 * swiglu(h, 1408) + swiglu(h, 2 * 1408) + h * 128 + 128  # + score bias
    active = L * (attn + 2 * h) + swiglu(h, 10944) + 61 * moe_active + h + h * v
    counts = counts_of("dots1")
    assert counts.active == active
    spec = spec_from_config(c, "dots1")
    assert kv_bytes_per_token_all_layers(spec) == L * 2 * 32 * 128 * 2
    # the name's figures: 142B total (a truncation of 142.77B), 14B active (with the embedding)
    assert int(counts.total / 1e9) == 142
    assert round(counts.active_with_embedding / 1e9) == 14


def mla(h, heads, q_lora, kv_lora, nope, rope, v):
    """DeepseekV3Attention: q_a + norm + q_b, kv_a (+ rope key) + norm, kv_b, o."""
    q = h * q_lora + q_lora + q_lora * heads * (nope + rope)
    return q + h * (kv_lora + rope) + kv_lora + kv_lora * heads * (nope + v) + heads * v * h


# -- dots3-note (Dots3NoteTextConfig defaults: dots-studio/dots3-note-prev) ------------------
def test_dots3_note_text():
    """46 layers: indexed_attention at i < 2 or i % 4 == 1 (13), sliding (window 512) else
    (33, per_layer_config: 64 heads, kv_lora 1024, nope 192); each MLA with g_proj [h, heads]
    and an RMSNorm on the 64-wide rope key; GlmMoeDsaIndexer (64 x 128) on indexed layers;
    layer 0 dense (13824), 45 MoE layers: 256 x 1536 top-8 + one shared 1536."""
    h, v = 5120, 152064
    indexer = 1024 * 64 * 128 + h * 128 + 2 * 128 + h * 64
    full = mla(h, 128, 1024, 512, 128, 64, 128) + h * 128 + 64 + indexer
    swa = mla(h, 64, 1024, 1024, 192, 64, 128) + h * 64 + 64
    moe = 8 * swiglu(h, 1536) + swiglu(h, 1536) + h * 256 + 256
    norms = 46 * 2 * h + h
    active = 13 * full + 33 * swa + swiglu(h, 13824) + 45 * moe + norms + h * v
    spec = spec_from_config(load("dots3_note_text"), "dots3_note_text")
    assert count_params(spec).active == active
    assert sum(x.window == 512 for x in spec.layers) == 33
    # bf16 latent + rope key per layer; the indexer key (fp8 + fp32 scale) on indexed layers
    kv = 13 * (512 + 64) * 2 + 33 * (1024 + 64) * 2 + 13 * (128 + 4)
    assert kv_bytes_per_token_all_layers(spec) == kv


def test_dots3_note_mtp():
    """The released checkpoint's MTP module (model.layers.46 + model.mtp.embed_tokens; vLLM
    Dot3NoteMTP), counted where num_nextn_predict_layers names it: enorm + hnorm, eh_proj
    [2h, h], one layer of the sliding MLA shape (g_proj, rope-key norm, no indexer) with a dense
    MLP of 13824 and its two norms, the shared head's norm, and its own embedding [v, h]. The
    model card: "MTP 1 shared layer, 1.13B". The total is unchanged; config.json names none."""
    h, v = 5120, 152064
    swa = mla(h, 64, 1024, 1024, 192, 64, 128) + h * 64 + 64
    mtp = swa + swiglu(h, 13824) + 2 * h + 2 * h * h + 3 * h + v * h
    plain = counts_of("dots3_note_text")
    assert plain.breakdown["mtp"] == 0
    for steps in (1, 3):  # one layer, reused by every speculative step
        cfg = {**load("dots3_note_text"), "num_nextn_predict_layers": steps}
        spec = spec_from_config(cfg, "dots3_note_text")
        counts = count_params(spec)
        assert spec.mtp_layers == 1
        assert counts.breakdown["mtp"] == mtp == 1_134_193_728
        assert counts.total == plain.total and counts.active == plain.active
        assert kv_bytes_per_token_all_layers(spec) == kv_bytes_per_token_all_layers(
            spec_from_config(load("dots3_note_text"), "dots3_note_text")
        )
    assert round(mtp / 1e9, 2) == 1.13


# -- ERNIE-4.5-VL (Ernie4_5_VLMoeConfig defaults: baidu/ERNIE-4.5-VL-28B-A3B-PT) -------------
def test_ernie4_5_vl_moe():
    """28 layers, GQA 20 x 128 with 4 KV heads; layer 0 dense (12288); 27 layers of text_moe
    (64 x 1536, top-6) + vision_moe (64 x 512, its own router; image tokens only) + one shared
    MLP of 2 x 1536; tied embeddings; towers: ViT (32 x 1280) and the resampler."""
    h, v = 2560, 103424
    attn = h * 20 * 128 * 2 + h * 4 * 128 * 2
    text_moe = 6 * swiglu(h, 1536) + swiglu(h, 2 * 1536) + h * 64 + 64
    active = 28 * (attn + 2 * h) + swiglu(h, 12288) + 27 * text_moe + h + h * v
    vision_experts = 27 * (64 * swiglu(h, 512) + h * 64 + 64)
    counts = counts_of("ernie4_5_vl_moe")
    assert counts.active == active
    assert counts.breakdown["routed_experts"] == 27 * 64 * swiglu(h, 1536) + 27 * 64 * swiglu(
        h, 512
    )
    assert counts.total - counts.active == 27 * 58 * swiglu(h, 1536) + vision_experts
    spec = spec_from_config(load("ernie4_5_vl_moe"), "ernie4_5_vl_moe")
    assert kv_bytes_per_token_all_layers(spec) == 28 * 2 * 4 * 128 * 2
    # the name's figures: 28B total (a truncation of 28.6B, language model), A3B
    assert int(counts.total / 1e9) == 28
    assert round(counts.active / 1e9) == 3


# -- Hunyuan-A13B (tencent/Hunyuan-A13B-Instruct config.json shapes) ------------------------
def test_hunyuan_v1_moe():
    """32 layers, GQA 32 x 128 with 8 KV heads and per-head query/key norms; every layer 64
    experts of 3072 top-8 plus one shared MLP of 3072; router without bias; tied embeddings."""
    h, v = 4096, 128167
    attn = h * 32 * 128 * 2 + h * 8 * 128 * 2 + 2 * 128
    moe = 8 * swiglu(h, 3072) + swiglu(h, 3072) + h * 64
    counts = counts_of("hunyuan_v1_moe")
    assert counts.active == 32 * (attn + moe + 2 * h) + h + h * v
    spec = spec_from_config(load("hunyuan_v1_moe"), "hunyuan_v1_moe")
    assert kv_bytes_per_token_all_layers(spec) == 32 * 2 * 8 * 128 * 2
    # the name's figures: 80B total, A13B
    assert round(counts.total / 1e9) == 80
    assert round(counts.active / 1e9) == 13


# -- FlexOlmo (FlexOlmoConfig defaults: allenai/FlexOlmo-7x7B-1T) -----------------------------
def test_flex_olmo():
    """32 layers, MHA 32 x 128 with q/k RMSNorms over all 4096 channels, post-attention and
    post-feedforward norms; every layer 7 experts of 11008, top-5; router without bias."""
    h, v = 4096, 100352
    attn = 4 * h * h + 2 * h
    moe = 5 * swiglu(h, 11008) + h * 7
    counts = counts_of("flex_olmo")
    assert counts.active == 32 * (attn + moe + 2 * h) + h + h * v
    spec = spec_from_config(load("flex_olmo"), "flex_olmo")
    assert kv_bytes_per_token_all_layers(spec) == 32 * 2 * 32 * 128 * 2


# -- Aria (AriaTextConfig defaults) -----------------------------------------------------------
def test_aria_text():
    """32 layers, MHA 32 x 128; every layer 8 experts of 4096 top-2 plus one shared MLP of
    2 x 4096; router without bias; the Aria wrapper (vision, projector) is refused."""
    h, v = 4096, 32000
    moe = 2 * swiglu(h, 4096) + swiglu(h, 2 * 4096) + h * 8
    counts = counts_of("aria_text")
    assert counts.active == 32 * (4 * h * h + moe + 2 * h) + h + h * v
    spec = spec_from_config(load("aria_text"), "aria_text")
    assert kv_bytes_per_token_all_layers(spec) == 32 * 2 * 32 * 128 * 2
    with pytest.raises(SpecError, match="Aria wrapper"):
        spec_from_config({"model_type": "aria", "text_config": load("aria_text")}, "aria")


@pytest.mark.parametrize(
    ("name", "switch", "qkv_width"),
    [
        # BailingMoeV2Attention: query_key_value bias=use_qkv_bias, dense bias=use_bias
        ("ling-mini-2.0", "use_bias", 0),
        ("ling-lite", "use_bias", 0),
        # DeepseekAttention (v1): q/k/v/o_proj all bias=attention_bias
        ("deepseek-moe-16b", "attention_bias", 3),
    ],
)
def test_output_projection_bias_switch(name, switch, qkv_width):
    """The output projection's bias: hidden_size per layer when its switch is on, plus the q/k/v
    biases (MHA: 3 x hidden) where the same switch turns them on."""
    path = Path(__file__).parent / "data" / "configs-2026" / f"{name}.json"
    cfg = json.loads(path.read_text())
    assert not cfg.get(switch)
    off = count_params(spec_from_config(cfg, name)).total
    on = count_params(spec_from_config({**cfg, switch: True}, name)).total
    hidden, layers = cfg["hidden_size"], cfg["num_hidden_layers"]
    assert on - off == (1 + qkv_width) * hidden * layers
