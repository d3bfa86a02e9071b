"""Families the standard blocks read with a trait or two (model/readers2026/small.py): each
default config as transformers 5.23.0 writes it (tests/data/configs-tf/small) counted to the
parameter against the meta-device model (counts.json, written by tools/transformers_survey.py
--dump), and two checked by hand from the modeling code's shapes: active parameters and the KV
cache of a token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moeplan.memory.cache import kv_bytes_per_sequence, kv_bytes_per_token_all_layers
from moeplan.model.hf_config import spec_from_config
from moeplan.model.params import count_params

DATA = Path(__file__).parent / "data" / "configs-tf" / "small"
COUNTS = json.loads((DATA / "counts.json").read_text())


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_total_equals_the_modeling_code(name):
    spec = spec_from_config(load(name), name)
    assert count_params(spec).total == COUNTS[name]["text"]
    assert spec.reader_notes == ()  # a known family: nothing inferred, no field left unread


def test_glm47_flash_active_and_mla_cache_by_hand():
    """Glm4MoeLite: DeepseekV3Attention (q_lora 768, kv_lora 512, nope 192, rope 64, v 256,
    20 heads), layer 0 dense (10240), 46 MoE layers of 64 experts (top 4, 1536) + 1 shared."""
    c = load("glm4_moe_lite")
    h, heads = 2048, 20
    q = h * 768 + 768 + 768 * heads * (192 + 64)
    kv = h * (512 + 64) + 512 + 512 * heads * (192 + 256)
    attn = q + kv + heads * 256 * h
    expert = 3 * h * 1536
    moe_layer = 4 * expert + expert + h * 64 + 64  # top-4 + shared + router and its bias
    norms = 2 * h * 47 + h
    active = 47 * attn + 3 * h * 10240 + 46 * moe_layer + norms + h * c["vocab_size"]
    spec = spec_from_config(c, "glm4_moe_lite")
    assert count_params(spec).active == active
    # MLA caches the latent and the rope key: (512 + 64) values a layer, bf16
    assert kv_bytes_per_token_all_layers(spec) == 47 * (512 + 64) * 2


def test_kolibri1_sliding_cache_and_active_by_hand():
    """Kolibri1: 40 sliding layers hold sliding_window (513) tokens, every 5th is full; GQA 48
    heads / 4 KV heads of 128; 384 experts top-6 of 512 + a shared one of 512, router bias;
    q/k norms per head; four norms a layer (Glm4DecoderLayer)."""
    c = load("kolibri1")
    h = 2560
    attn = h * 48 * 128 + 2 * h * 4 * 128 + 48 * 128 * h + 2 * 128
    expert = 3 * h * 512
    moe_layer = 6 * expert + expert + h * 384 + 384
    active = 50 * (attn + moe_layer) + (4 * 50 + 1) * h + h * c["vocab_size"]
    spec = spec_from_config(c, "kolibri1")
    assert count_params(spec).active == active
    per_layer_token = 2 * 4 * 128 * 2  # K and V, 4 heads of 128, bf16
    assert kv_bytes_per_sequence(spec, 4096) == per_layer_token * (10 * 4096 + 40 * 513)


def test_beam_gated_attention_and_active_by_hand():
    """Beam-1.0-501B-A23B: GQA 48 / 8 heads of 128 with q/k norms and a sigmoid output gate
    [hidden, 48 x 128] plus a bias per head; 3 dense layers (20480), 49 MoE layers of 256
    experts (top 8, 2560) with a biased router; four norms a layer."""
    c = load("beam")
    h = 5120
    q_and_gate = 2 * h * 48 * 128
    attn = q_and_gate + 2 * h * 8 * 128 + 48 * 128 * h + 2 * 128 + 48
    moe_layer = 8 * 3 * h * 2560 + h * 256 + 256
    active = 52 * attn + 3 * 3 * h * 20480 + 49 * moe_layer + (4 * 52 + 1) * h
    spec = spec_from_config(c, "beam")
    counts = count_params(spec)
    assert counts.active == active + h * c["vocab_size"]
    assert round(counts.total / 1e9) == 501  # the checkpoint's name: 501B-A23B
    assert round(counts.active_with_embedding / 1e9) == 23
