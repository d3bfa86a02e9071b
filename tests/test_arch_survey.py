"""Published config.json files of MoE models surveyed on 2026-12-06 (tests/data/configs-survey,
sources in its README): exact counts from a hand count of each modeling code's shapes
(independent of moeplan.model.params), and the publisher's rounded figures at their rounding.
Runs without transformers or torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moeplan.errors import SpecError
from moeplan.memory.cache import state_bytes_per_sequence
from moeplan.model.hf_config import spec_from_config
from moeplan.model.params import count_params

DATA = Path(__file__).parent / "data" / "configs-survey"


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def swiglu(h: int, w: int) -> int:
    return 3 * h * w


# -- MiniMax-M1 (MiniMaxAI/MiniMax-M1-80k; same shapes as MiniMax-Text-01) --------------------
H, V, L, HEADS, KV, D, E, W = 6144, 200064, 80, 64, 8, 128, 32, 9216
SOFTMAX = H * HEADS * D + 2 * H * KV * D + HEADS * D * H  # q, k, v, o (MiniMaxAttention)
LIGHTNING = 3 * H * HEADS * D + H * HEADS * D + HEADS * D * H + HEADS * D  # qkv, gate, out, norm
MOE = E * swiglu(H, W) + E * H  # experts + router
NORMS = 2 * H  # input + post-attention RMSNorm


def test_minimax_m1_total_and_active():
    """10 softmax layers (attn_type_list 1 at every 8th), 70 lightning layers, 32 experts
    top-2 in every layer: 456,089,655,296 (the model card: "456 billion parameters in total,
    45.9 billion activated per token", active without the embedding and the LM head)."""
    c = count_params(spec_from_config(load("minimax-m1-80k"), "m1"))
    total = 2 * V * H + 10 * SOFTMAX + 70 * LIGHTNING + L * (MOE + NORMS) + H
    assert total == 456_089_655_296 == c.total
    active_body = 10 * SOFTMAX + 70 * LIGHTNING + L * (2 * swiglu(H, W) + E * H + NORMS) + H
    assert c.active == active_body + V * H  # moeplan's active counts the LM head
    assert round(c.total / 1e9) == 456
    assert round(active_body / 1e9, 1) == 45.9


def test_minimax_state_is_heads_x_head_dim_squared_per_lightning_layer():
    """Each lightning layer keeps a [heads, head_dim, head_dim] state and no conv window;
    the 10 softmax layers keep a GQA KV cache."""
    spec = spec_from_config(load("minimax-m1-80k"), "m1")
    assert state_bytes_per_sequence(spec, "fp32") == 70 * HEADS * D * D * 4


def test_minimax_spellings_agree():
    """The transformers spelling (model_type minimax, layer_types) counts the same weights."""
    raw = load("minimax-m1-80k")
    types = ["full_attention" if c else "linear_attention" for c in raw["attn_type_list"]]
    hf = {k: v for k, v in raw.items() if k != "attn_type_list"}
    hf.update(model_type="minimax", layer_types=types)
    assert count_params(spec_from_config(hf, "hf")).total == 456_089_655_296


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"shared_intermediate_size": 4096}, "shared MLP"),
        ({"attn_type_list": [0, 1]}, "for each of 80 layers"),
        ({"attn_type_list": None}, "missing field 'attn_type_list'"),
    ],
)
def test_minimax_refusals_name_the_field(change, message):
    raw = {**load("minimax-m1-80k"), **change}
    with pytest.raises(SpecError, match=message):
        spec_from_config(raw, "m1")


# -- SmallThinker-21BA3B (PowerInfer/SmallThinker-21BA3B-Instruct) ----------------------------
def test_smallthinker_total_and_active():
    """No model_type in its config.json: found from architectures. 52 layers of GQA (28 heads,
    4 KV heads x 128) and 64 ReGLU experts (up, gate, down of 768) top-6 behind a router
    without bias: 21,506,562,560 (card "21B", "A3B"; the checkpoint's index 21.507B)."""
    h, v, n = 2560, 151936, 52
    attn = 2 * h * 28 * 128 + 2 * h * 4 * 128
    per_layer = attn + 64 * swiglu(h, 768) + 64 * h + 2 * h
    c = count_params(spec_from_config(load("smallthinker-21ba3b-instruct"), "st"))
    assert c.total == 2 * v * h + n * per_layer + h == 21_506_562_560
    body = n * (attn + 6 * swiglu(h, 768) + 64 * h + 2 * h) + h
    assert c.active == body + v * h
    assert c.total // 10**9 == 21  # card "21B" (21.5B truncated)
    assert round(body / 1e9) == 3  # "A3B"
    assert round(c.total / 1e9, 3) == 21.507  # the checkpoint's safetensors index


def test_smallthinker_sliding_layers_hold_the_window():
    spec = spec_from_config(load("smallthinker-21ba3b-instruct"), "st")
    windows = [layer.window for layer in spec.layers]
    assert windows == [None, 4096, 4096, 4096] * 13


def test_smallthinker_bad_layout_is_refused():
    raw = {**load("smallthinker-21ba3b-instruct"), "sliding_window_layout": [0, 1]}
    with pytest.raises(SpecError, match="sliding_window_layout"):
        spec_from_config(raw, "st")


def test_minimax_equals_the_transformers_numel():
    """Where transformers and torch are installed: MiniMaxForCausalLM built on the meta device
    from the M1 config's shapes (attn_type_list as layer_types) has 456,089,655,296
    parameters."""
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    raw = load("minimax-m1-80k")
    keys = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "head_dim")
    keys += ("num_attention_heads", "num_key_value_heads", "num_local_experts")
    cfg = {k: raw[k] for k in (*keys, "num_experts_per_tok", "tie_word_embeddings")}
    cfg["layer_types"] = [
        "full_attention" if c else "linear_attention" for c in raw["attn_type_list"]
    ]
    config = transformers.AutoConfig.for_model("minimax", **cfg)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    assert sum(p.numel() for p in model.parameters()) == 456_089_655_296
