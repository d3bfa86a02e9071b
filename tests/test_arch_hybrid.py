"""Hybrid-mixer MoE families of transformers 5.23 (Kimi-Linear, Ling 3.0 bailing_hybrid, Granite
4, LFM2-MoE, AFMoE, ZAYA, Inkling), read from the default configs transformers writes
(tests/data/configs-tf/hybrid, made by tools/transformers_survey.py --dump). moeplan's total
must equal the numel of the model transformers builds (counts.json); active parameters and the
cache per token are recomputed here from the raw config fields with the shapes of each modeling
code, independently of moeplan.model.params. Runs without transformers or torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moeplan.memory.cache import kv_bytes_per_token_all_layers, state_bytes_per_sequence
from moeplan.model.hf_config import spec_from_config
from moeplan.model.params import count_params

DATA = Path(__file__).parent / "data" / "configs-tf" / "hybrid"
COUNTS = json.loads((DATA / "counts.json").read_text())


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def glu(h: int, w: int) -> int:
    """gate + up [h, w], down [w, h]."""
    return 3 * h * w


# -- Kimi-Linear / Ling 3.0 (bailing_hybrid) -------------------------------------------------
def kda_hybrid_hand(c: dict) -> dict[str, int]:
    """KimiLinearForCausalLM / BailingHybridForCausalLM: MLA full-attention layers, KDA linear
    layers (q/k/v, conv1d, forget gate, b_proj, output gate, gated norm, o_proj), DeepSeek-V3 MoE
    with one fused shared MLP; KV = MLA latent + rope key; state = heads x d x d fp32 + conv
    window 3D x (kernel - 1) bf16."""
    h, V, L = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"]
    bailing = c["model_type"] == "bailing_hybrid"
    H, nope, rope, v, kvl = (
        c["num_attention_heads"],
        c["qk_nope_head_dim"],
        c["qk_rope_head_dim"],
        c["v_head_dim"],
        c["kv_lora_rank"],
    )
    mla = h * H * (nope + rope) + h * (kvl + rope) + kvl + kvl * H * (nope + v) + H * v * h
    mla += h * H if bailing else 0  # BailingHybridAttention g_proj
    lh, ld, k = c["linear_num_heads"], c["linear_head_dim"], c["linear_conv_kernel_dim"]
    D = lh * ld
    gate = h * D if bailing else h * ld + ld * D
    kda = 3 * h * D + 3 * D * k + 2 * gate + D + lh + h * lh + ld + D * h
    E, top, w, ns = (
        c["num_experts"],
        c["num_experts_per_token"],
        c["moe_intermediate_size"],
        c["num_shared_experts"],
    )
    total = active = 0
    for mixer, mlp in zip(c["layer_types"], c["mlp_layer_types"], strict=True):
        mix = mla if mixer == "full_attention" else kda
        if mlp == "sparse":
            shared = glu(h, w * ns) + E * h + E
            total += mix + E * glu(h, w) + shared
            active += mix + top * glu(h, w) + shared
        else:
            total += mix + glu(h, c["intermediate_size"])
            active += mix + glu(h, c["intermediate_size"])
    norms = 2 * h * L + h
    n_attn = c["layer_types"].count("full_attention")
    n_lin = L - n_attn
    return dict(
        total=total + norms + 2 * V * h,
        active=active + norms + V * h,
        kv=n_attn * (kvl + rope) * 2,
        state=n_lin * (lh * ld * ld * 4 + 3 * D * (k - 1) * 2),
    )


# -- Granite MoE: granitemoe, granitemoeshared, granitemoe_swa, granitemoehybrid ---------------
def granite_hand(c: dict) -> dict[str, int]:
    """GraniteMoe*DecoderLayer: attention (q/k/v/o + attention_bias, SWA sinks [heads]) or
    GraniteMoeHybridMambaLayer (in_proj [h, I + conv + heads], conv1d + bias, dt_bias, A_log, D,
    gated norm [I], out_proj); block_sparse_moe (router [E, h], experts 3 x h x w) + shared_mlp
    (input_linear [h, 2s], output_linear [s, h]); KV = KV heads x 2 x head_dim bf16 per
    attention layer; Mamba2 state = heads x head_dim x d_state fp32 + conv (kernel - 1) bf16."""
    h, V, L, fam = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"], c["model_type"]
    H, KV = c["num_attention_heads"], c["num_key_value_heads"]
    d = h // H
    attn = 2 * h * H * d + 2 * h * KV * d
    attn += (H * d + 2 * KV * d + h) if c["attention_bias"] else 0
    attn += H if fam == "granitemoe_swa" else 0
    types = c.get("layer_types") or ["full_attention"] * L
    n_mamba = (
        sum(t in ("linear_attention", "mamba") for t in types) if fam == "granitemoehybrid" else 0
    )
    n_attn = L - n_mamba
    mamba = state = 0
    if n_mamba:
        inner, nh, ng, ds, k = (
            c["mamba_expand"] * h,
            c["mamba_n_heads"],
            c["mamba_n_groups"],
            c["mamba_d_state"],
            c["mamba_d_conv"],
        )
        conv = inner + 2 * ng * ds
        pb = c["mamba_proj_bias"]
        mamba = h * (inner + conv + nh) + (inner + conv + nh if pb else 0)
        mamba += conv * k + (conv if c["mamba_conv_bias"] else 0) + 3 * nh + inner
        mamba += inner * h + (h if pb else 0)
        state = n_mamba * (conv * (k - 1) * 2 + inner * ds * 4)
    E, top, w = c["num_local_experts"], c["num_experts_per_tok"], c["intermediate_size"]
    s = 0 if fam == "granitemoe" else c["shared_intermediate_size"]
    ffn_total = E * glu(h, w) + E * h + glu(h, s)
    ffn_active = top * glu(h, w) + E * h + glu(h, s)
    common = n_attn * attn + n_mamba * mamba + 2 * h * L + h
    head = V * h
    return dict(
        total=common + L * ffn_total + (V * h if not c["tie_word_embeddings"] else 0) + V * h,
        active=common + L * ffn_active + head,
        kv=n_attn * 2 * KV * d * 2,
        state=state,
    )


# -- LFM2-MoE ---------------------------------------------------------------------------------
def lfm2_hand(c: dict) -> dict[str, int]:
    """Lfm2MoeDecoderLayer: Lfm2MoeShortConv (in_proj [h, 3h], depthwise conv [h, L_cache],
    out_proj [h, h], conv_bias on all three) or Lfm2MoeAttention (q/k/v/out, q/k RMSNorm
    [head_dim]); MLP (w1/w3/w2) below num_dense_layers, else router [E, h] + expert_bias [E] +
    experts; operator_norm + ffn_norm, embedding_norm; tied head. Conv state = h x (L_cache - 1)
    bf16; KV = KV heads x 2 x head_dim bf16."""
    h, V, L = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"]
    H, KV = c["num_attention_heads"], c["num_key_value_heads"]
    d, k = h // H, c["conv_L_cache"]
    attn = 2 * h * H * d + 2 * h * KV * d + 2 * d
    conv = 3 * h * h + h * k + h * h + (4 * h if c["conv_bias"] else 0)
    E, top, w = c["num_experts"], c["num_experts_per_tok"], c["moe_intermediate_size"]
    router = E * h + (E if c["use_expert_bias"] else 0)
    n_attn = c["layer_types"].count("full_attention")
    nd = c["num_dense_layers"]
    common = n_attn * attn + (L - n_attn) * conv + nd * glu(h, c["intermediate_size"])
    common += (L - nd) * router + 2 * h * L + h
    head = V * h * (1 if c["tie_word_embeddings"] else 2)
    return dict(
        total=common + (L - nd) * E * glu(h, w) + head,
        active=common + (L - nd) * top * glu(h, w) + V * h,
        kv=n_attn * 2 * KV * d * 2,
        state=(L - n_attn) * h * (k - 1) * 2,
    )


# -- AFMoE (Arcee Trinity) ---------------------------------------------------------------------
def afmoe_hand(c: dict) -> dict[str, int]:
    """AfmoeDecoderLayer: q/k/v/o (+ attention_bias), q/k norm [head_dim], gate_proj
    [h, H x d]; four norms; AfmoeMLP below num_dense_layers, else router [E, h] + expert_bias
    [E] + experts + one shared MLP of w x num_shared_experts. KV per layer (sliding layers
    included, per token) = KV heads x 2 x d bf16."""
    h, V, L = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"]
    H, KV, d = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    attn = 3 * h * H * d + 2 * h * KV * d + 2 * d
    attn += (H * d + 2 * KV * d + h) if c["attention_bias"] else 0
    E, top, w, ns = (
        c["num_experts"],
        c["num_experts_per_tok"],
        c["moe_intermediate_size"],
        c["num_shared_experts"],
    )
    nd = c["num_dense_layers"]
    common = L * attn + nd * glu(h, c["intermediate_size"]) + 4 * h * L + h
    common += (L - nd) * (E * h + E + glu(h, w * ns))
    return dict(
        total=common + (L - nd) * E * glu(h, w) + 2 * V * h,
        active=common + (L - nd) * top * glu(h, w) + V * h,
        kv=L * 2 * KV * d * 2,
        state=0,
    )


HAND = {
    "kimi_linear": kda_hybrid_hand,
    "bailing_hybrid": kda_hybrid_hand,
    "granitemoe": granite_hand,
    "granitemoeshared": granite_hand,
    "granitemoe_swa": granite_hand,
    "granitemoehybrid": granite_hand,
    "granitemoehybrid-attn": granite_hand,
    "lfm2_moe": lfm2_hand,
    "afmoe": afmoe_hand,
}


@pytest.mark.parametrize("name", sorted(HAND))
def test_total_is_transformers_numel(name):
    spec = spec_from_config(load(name), name)
    counts = count_params(spec)
    assert counts.total == COUNTS[name]["text"]
    assert counts.towers_total == COUNTS[name]["towers"]
    assert not spec.reader_notes


@pytest.mark.parametrize("name", sorted(HAND))
def test_independent_count(name):
    cfg = load(name)
    hand = HAND[name](cfg)
    spec = spec_from_config(cfg, name)
    counts = count_params(spec)
    assert hand["total"] == COUNTS[name]["text"]
    assert counts.active == hand["active"]
    assert kv_bytes_per_token_all_layers(spec, "bf16") == hand["kv"]
    assert state_bytes_per_sequence(spec, "fp32") == hand["state"]


def test_kimi_linear_is_a3b():
    """moonshotai/Kimi-Linear-48B-A3B (the config class's checkpoint): about 3B active. Its total
    (49.13B with both 0.38B embedding tables) reads 48B in the name: not checked."""
    counts = count_params(spec_from_config(load("kimi_linear"), "kimi_linear"))
    assert round(counts.active / 1e9) == 3


def test_kimi_linear_checkpoint_linear_attn_config():
    """The checkpoint's own config.json: linear_attn_config (1-indexed full/KDA layers) and
    first_k_dense_replace instead of layer_types / mlp_layer_types (KimiLinearConfig)."""
    cfg = {
        k: v for k, v in load("kimi_linear").items() if k not in ("layer_types", "mlp_layer_types")
    }
    for k in ("linear_head_dim", "linear_num_heads", "linear_conv_kernel_dim"):
        cfg.pop(k)
    cfg["num_hidden_layers"] = 8
    cfg["first_k_dense_replace"] = 2
    cfg["linear_attn_config"] = {
        "head_dim": 64,
        "num_heads": 16,
        "short_conv_kernel_size": 4,
        "full_attn_layers": [3, 8],
        "kda_layers": [1, 2, 4, 5, 6, 7],
    }
    spec = spec_from_config(cfg, "kimi")
    assert [layer.mixer.value for layer in spec.layers].count("attention") == 2
    assert spec.layers[2].keeps_kv and spec.layers[7].keeps_kv
    assert [layer.ffn for layer in spec.layers[:3]] == ["dense", "dense", "moe"]
    r = spec.layers[0].recurrent
    assert r is not None and (r.num_heads, r.head_dim, r.gate_rank) == (16, 64, 64)


def test_granite_swa_windows_and_hybrid_pattern():
    spec = spec_from_config(load("granitemoe_swa"), "swa")
    assert [layer.window for layer in spec.layers[:4]] == [None, 128, 128, 128]
    spec = spec_from_config(load("granitemoehybrid-attn"), "h")
    assert [layer.keeps_kv for layer in spec.layers[:4]] == [False, False, False, True]
    cfg = {**load("granitemoehybrid-attn"), "layer_types": ["mamba", "attention"] * 4}
    spec = spec_from_config(cfg, "raw")  # the checkpoint's own names
    assert spec.num_attention_layers == 4


def test_lfm2_8b_a1b_figures():
    """lfm2_moe.json: the default config with LFM2-8B-A1B's 24 layers (18 short conv, 6
    attention; transformers' default has layer_types None and does not build). Liquid's card:
    8.3B total, 1.5B active."""
    counts = count_params(spec_from_config(load("lfm2_moe"), "lfm2"))
    assert round(counts.total / 1e8) == 83
    assert int(counts.active / 1e8) == 15  # 1.558B: the figure is truncated
