"""Grok in Hugging Face format (tests/data/configs-grok, sources in SOURCES.md): Grok-2
(xai-org/grok-2, model_type "git", found by its architectures entry) and three Grok-1
conversions (keyfan/grok-1-hf, hpcai-tech/grok-1, amd/grok-1-FP8-KV). Counts by hand from
the shapes of SGLang's python/sglang/srt/models/grok.py (Grok1DecoderLayer, Grok1MoE,
Grok1MLP) and vLLM's grok1.py, independent of moeplan.model.params. Runs without torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moeplan.errors import SpecError
from moeplan.memory.cache import kv_bytes_per_token_all_layers
from moeplan.model.catalog import load_model
from moeplan.model.hf_config import spec_from_config
from moeplan.model.params import count_params

DATA = Path(__file__).parent / "data" / "configs-grok"
GROK1 = ["grok-1-keyfan-hf", "grok-1-hpcai-tech", "grok-1-amd-fp8-kv"]


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def gated(h: int, w: int) -> int:
    """GELU-gated MLP: gate, up [w, h] and down [h, w], no bias."""
    return 3 * h * w


def attention(h: int, heads: int, kv: int, d: int) -> int:
    """q, k, v, o without bias."""
    return h * heads * d + 2 * h * kv * d + heads * d * h


# -- Grok-2: 64 layers, 8192 wide, 64/8 heads x 128, 8 experts of 16384 top-2, residual MLP 32768
H2, L2, V2 = 8192, 64, 131072
SHARED2 = attention(H2, 64, 8, 128) + gated(H2, 32768) + 8 * H2 + 4 * H2  # + router + norms


def test_grok2_total_is_the_checkpoint_header_count():
    """Untied embedding and lm_head (SGLang loads lm_head from its own tensor); 269,515,497,472
    is also the sum a third-party study made of the 39 safetensors headers of xai-org/grok-2."""
    total = L2 * (SHARED2 + 8 * gated(H2, 16384)) + 2 * V2 * H2 + H2
    assert total == 269_515_497_472
    c = count_params(spec_from_config(load("grok-2"), "grok-2"))
    assert c.total == total


def test_grok2_active_and_cache():
    """Every layer runs its dense MLP and 2 of 8 experts: 114,896,674,816 with the input
    embedding (the study's "shared plus two of eight"; "115B active" quoted), 113.82B without."""
    spec = spec_from_config(load("grok-2"), "grok-2")
    c = count_params(spec)
    active = L2 * (SHARED2 + 2 * gated(H2, 16384)) + V2 * H2 + H2  # lm_head, final norm
    assert c.active == active == 113_822_932_992
    assert c.active_with_embedding == 114_896_674_816
    assert spec.family == "grok" and all(layer.ffn == "moe+dense" for layer in spec.layers)
    assert not spec.tie_word_embeddings
    assert kv_bytes_per_token_all_layers(spec) == L2 * 2 * 8 * 128 * 2
    assert round(c.total / 1e9) == 270


# -- Grok-1: 64 layers, 6144 wide, 48/8 heads x 128, 8 experts of 32768 top-2, tied embedding
H1, L1, V1 = 6144, 64, 131072
SHARED1 = attention(H1, 48, 8, 128) + 8 * H1 + 4 * H1


@pytest.mark.parametrize("name", GROK1)
def test_grok1_conversions(name):
    """xai-org's README: 314B parameters (315.685B counted: its embedding table is 0.8B of the
    difference, so "314B" is a truncation of the layers' 314.88B); 2 of 8 experts per token."""
    spec = spec_from_config(load(name), name)
    c = count_params(spec)
    assert c.total == L1 * (SHARED1 + 8 * gated(H1, 32768)) + V1 * H1 + H1 == 315_684_820_992
    assert c.active == L1 * (SHARED1 + 2 * gated(H1, 32768)) + V1 * H1 + H1
    assert spec.tie_word_embeddings and spec.num_moe_layers == 64
    assert int(L1 * (SHARED1 + 8 * gated(H1, 32768)) / 1e9) == 314
    assert kv_bytes_per_token_all_layers(spec) == L1 * 2 * 8 * 128 * 2


def test_grok1_conversions_match_the_jax_config():
    """The catalog's Grok-1 (xai-org run.py fields: emb_size, widening_factor) and the HF
    conversions are one model."""
    jax = count_params(load_model("grok-1"))
    for name in GROK1:
        hf = count_params(spec_from_config(load(name), name))
        assert (hf.total, hf.active) == (jax.total, jax.active)


def test_git_model_type_without_a_grok_architecture_is_still_refused():
    """Only Grok's architectures or its fields (experts and an embedding multiplier) make a
    "git" config Grok: without them (a GitForCausalLM) it stays unsupported."""
    cfg = {**load("grok-2"), "architectures": ["GitForCausalLM"]}
    del cfg["embedding_multiplier_scale"]
    with pytest.raises(SpecError, match="unsupported model_type 'git'"):
        spec_from_config(cfg, "git")


def test_sliding_window_is_refused():
    cfg = {**load("grok-2"), "sliding_window_size": 4096}
    with pytest.raises(SpecError, match="sliding_window_size"):
        spec_from_config(cfg, "grok-2")


def test_without_residual_moe_no_dense_mlp():
    """residual_moe false: experts of moe_intermediate_size alone, intermediate_size unread."""
    cfg = {**load("grok-2"), "residual_moe": False}
    c = count_params(spec_from_config(cfg, "g"))
    assert c.total == L2 * (SHARED2 - gated(H2, 32768) + 8 * gated(H2, 16384)) + 2 * V2 * H2 + H2


def test_grok2_without_architectures_reads_as_grok():
    """A copy of Grok-2's config without architectures (as the GGUF fixtures keep it): the Grok
    fields under model_type "git" name the family."""
    cfg = {k: v for k, v in load("grok-2").items() if k != "architectures"}
    assert spec_from_config(cfg, "g").family == "grok"
    assert count_params(spec_from_config(cfg, "g")).total == 269_515_497_472
