"""KV cache, indexer keys and recurrent state at 32k context, against hand counts (bf16 KV,
fp32 recurrent state, bf16 conv window) from the shapes in tests/data/configs-2026."""

from __future__ import annotations

import pytest

from moeplan.memory.cache import (
    decode_kv_read_bytes_per_sequence,
    kv_bytes_per_sequence,
    state_bytes_per_sequence,
)
from moeplan.memory.estimate import estimate_memory
from moeplan.memory.quant import resolve_scheme
from tests.test_architectures import spec_of

CTX = 32768

# name: (KV bytes per sequence at 32k, recurrent state bytes per sequence)
HAND = {
    # 61 MLA layers x ((512 latent + 64 rope) x 2 B + indexer key 128 fp8 + 4 B fp32 scale)
    "deepseek-v3.2": (61 * (576 * 2 + 132) * CTX, 0),
    # 78 MLA layers, same latent and indexer key widths
    "glm-5": (78 * (576 * 2 + 132) * CTX, 0),
    "kimi-k2.5": (61 * 576 * 2 * CTX, 0),
    # 12 gated-attention layers x 2 KV heads x (256 + 256) x 2 B; 36 Gated DeltaNet layers x
    # (conv (2 x 16 x 128 + 32 x 128) channels x 3 x 2 B + 32 heads x 128 x 128 x 4 B)
    "qwen3-next-80b-a3b": (12 * 2 * 512 * 2 * CTX, 36 * (8192 * 3 * 2 + 32 * 128 * 128 * 4)),
    # 15 attention layers; 45 GDN layers with 64 value heads: conv (4096 + 8192) x 3 x 2 B
    "qwen3.5-397b-a17b": (15 * 2 * 512 * 2 * CTX, 45 * (12288 * 3 * 2 + 64 * 128 * 128 * 4)),
    # 6 attention blocks x 2 KV heads x 256 x 2 B; 23 Mamba2 blocks x (conv (4096 + 2 x 8 x 128)
    # x 3 x 2 B + 64 heads x 64 x 128 state x 4 B)
    "nemotron-3-nano-30b-a3b": (6 * 2 * 256 * 2 * CTX, 23 * (6144 * 3 * 2 + 64 * 64 * 128 * 4)),
    # 4 attention layers x 8 KV heads x 256 x 2 B; 28 Mamba layers x (8192 x 3 x 2 B +
    # 8192 x 16 x 4 B)
    "jamba-v0.1": (4 * 8 * 256 * 2 * CTX, 28 * (8192 * 3 * 2 + 8192 * 16 * 4)),
    # 9 full layers x 4 KV heads x (192 + 128) x 2 B x 32k + 39 sliding layers x 8 KV heads x
    # 320 x 2 B x 128 tokens
    "mimo-v2-flash": (9 * 4 * 320 * 2 * CTX + 39 * 8 * 320 * 2 * 128, 0),
    # 28 layers x 2 MLA sublayers x 576 x 2 B
    "longcat-flash-chat": (56 * 576 * 2 * CTX, 0),
    "minimax-m2.5": (62 * 8 * 256 * 2 * CTX, 0),
    "ernie-4.5-21b-a3b": (28 * 4 * 256 * 2 * CTX, 0),
}


@pytest.mark.parametrize("name", sorted(HAND))
def test_kv_and_state_at_32k_match_hand_counts(name):
    kv, state = HAND[name]
    spec = spec_of(name)
    assert kv_bytes_per_sequence(spec, CTX) == pytest.approx(kv, rel=0.05)
    assert state_bytes_per_sequence(spec) == pytest.approx(state, rel=0.05)
    mem = estimate_memory(spec, resolve_scheme("bf16"), CTX, 2)
    assert mem.kv_cache_bytes == pytest.approx(2 * kv, rel=0.05)
    assert mem.state_bytes == pytest.approx(2 * state, rel=0.05)
    assert mem.total_bytes >= mem.weights_bytes + mem.kv_cache_bytes + mem.state_bytes


def test_state_dtype_changes_only_the_recurrent_state():
    """bf16 recurrent state: 36 x (8192 x 3 x 2 + 32 x 128 x 128 x 2) for Qwen3-Next."""
    spec = spec_of("qwen3-next-80b-a3b")
    assert state_bytes_per_sequence(spec, "bf16") == 36 * (8192 * 3 * 2 + 32 * 128 * 128 * 2)
    from moeplan.errors import MoeplanError

    with pytest.raises(MoeplanError, match="state-dtype"):
        state_bytes_per_sequence(spec, "int4")


def test_dsa_decode_reads_top_k_of_the_latent_and_every_indexer_key():
    """DeepSeek-V3.2 at 32k: per layer 2048 x 1152 B of latent + 32768 x 132 B of keys."""
    spec = spec_of("deepseek-v3.2")
    expected = 61 * (2048 * 1152 + CTX * 132)
    assert decode_kv_read_bytes_per_sequence(spec, CTX, "bf16") == expected


def test_text_only_leaves_the_tower_out():
    spec = spec_of("qwen3-vl-30b-a3b")
    with_tower = estimate_memory(spec, resolve_scheme("bf16"), 4096, 1)
    text = estimate_memory(spec, resolve_scheme("bf16"), 4096, 1, text_only=True)
    tower = spec.towers[0].params
    assert with_tower.weights_bytes - text.weights_bytes == 2 * tower  # BF16
    assert "towers" not in text.weights_by_component


def test_hybrid_decode_reads_state_every_step():
    """A decode step of Nemotron-3-Nano at batch 1 reads and writes 23 Mamba2 states."""
    from moeplan.perf.parallel import Layout
    from moeplan.perf.terms import kv_read_bytes_per_gpu

    spec = spec_of("nemotron-3-nano-30b-a3b")
    state = 23 * (6144 * 3 * 2 + 64 * 64 * 128 * 4)
    kv = 6 * 2 * 256 * 2 * 1000
    assert kv_read_bytes_per_gpu(spec, Layout(), 1, 1000, "bf16") == kv + 2 * state
    half = kv_read_bytes_per_gpu(spec, Layout(), 1, 1000, "bf16", "bf16")
    assert half < kv + 2 * state


def test_cli_state_and_tower_options(tmp_path):
    """size names the tower and the state; --text-only and --state-dtype change the totals;
    a config that cannot be read exits 2."""
    import json

    from typer.testing import CliRunner

    from moeplan.cli import app
    from tests.test_architectures import DATA

    runner = CliRunner()
    vl = str(DATA / "qwen3-vl-30b-a3b.json")
    full = json.loads(runner.invoke(app, ["size", vl, "--quant", "bf16", "--json"]).stdout)
    text = runner.invoke(app, ["size", vl, "--quant", "bf16", "--json", "--text-only"])
    assert full["memory"]["towers"][0]["name"] == "vision"
    assert any("vision tower" in n for n in full["notes"])
    assert json.loads(text.stdout)["memory"]["weights_bytes"] < full["memory"]["weights_bytes"]
    nemo = str(DATA / "nemotron-3-nano-30b-a3b.json")
    args = ["size", nemo, "--quant", "bf16", "--json", "--context", "32768"]
    fp32 = json.loads(runner.invoke(app, args).stdout)["memory"]
    bf16 = json.loads(runner.invoke(app, [*args, "--state-dtype", "bf16"]).stdout)["memory"]
    assert fp32["state_dtype"] == "fp32" and bf16["state_bytes"] < fp32["state_bytes"]
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"model_type": "mystery", "hidden_size": 8, "num_widgets": 3}))
    result = runner.invoke(app, ["size", str(bad)])
    assert result.exit_code == 2


def test_per_layer_kv_heads_shard_by_their_own_count():
    """MiMo-V2-Flash at TP8: full layers (4 KV heads) keep 1/4 of their KV per rank, sliding
    layers (8 KV heads) 1/8."""
    from moeplan.memory.cache import kv_bytes_per_rank

    spec = spec_of("mimo-v2-flash")
    full, sliding = 9 * 4 * 320 * 2 * CTX, 39 * 8 * 320 * 2 * 128
    assert kv_bytes_per_rank(spec, CTX, "bf16", 8) == pytest.approx(full / 4 + sliding / 8)


def test_tp_must_divide_recurrent_heads():
    from moeplan.errors import LayoutError
    from moeplan.perf.parallel import Layout, validate_layout

    # Qwen3.5: 32 attention heads and 2 KV heads allow TP 32; its 16 GDN key heads do not
    spec = spec_of("qwen3.5-397b-a17b")
    validate_layout(spec, Layout(tp=16))
    with pytest.raises(LayoutError, match="linear_attention heads"):
        validate_layout(spec, Layout(tp=32))
    validate_layout(spec_of("jamba-v0.1"), Layout(tp=8))  # Mamba splits its 8192 channels


def test_check_budgets_take_state_dtype_and_text_only(tmp_path):
    """A budget on Qwen3-VL: weights without the tower (--text-only) under 61.1 GB = 30.53B
    params x 2 B; the same budget with the tower (0.54B more) over it."""
    from moeplan.plan.check import check_files

    path = tmp_path / "b.yaml"
    doc = (
        "budgets:\n"
        "  - {name: text, model: qwen3-vl-30b-a3b, gpu: h200, quant: bf16, text_only: true,\n"
        "     state_dtype: bf16, limits: {max_weights_gb: 61.1}}\n"
        "  - {name: all, model: qwen3-vl-30b-a3b, gpu: h200, quant: bf16,\n"
        "     limits: {max_weights_gb: 61.1}}\n"
    )
    path.write_text(doc)
    results = {r.budget: r for r in check_files([str(path)]).results}
    assert results["text"].passed and not results["all"].passed
