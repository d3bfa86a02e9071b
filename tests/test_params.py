"""Parameter counts: hand-checked small models and the publishers' official figures."""

from __future__ import annotations

import math

import pytest

from moeplan.memory.sizing import active_by_convention
from moeplan.model.catalog import catalog_ids, load_model
from moeplan.model.hf_config import spec_from_config
from moeplan.model.params import count_params


def test_tiny_mixtral_by_hand(tiny_config):
    spec = spec_from_config(tiny_config, "tiny")
    c = count_params(spec)
    # attention per layer: q 64*64 + k 64*32 + v 64*32 + o 64*64 = 12288; 2 layers
    assert c.breakdown["attention"] == 2 * (64 * 64 + 64 * 32 + 64 * 32 + 64 * 64) == 24_576
    # experts: 3 matrices 64x128 per expert, 4 experts, 2 layers
    assert c.breakdown["routed_experts"] == 2 * 4 * 3 * 64 * 128 == 196_608
    assert c.breakdown["router"] == 2 * 64 * 4
    assert c.breakdown["embedding"] == c.breakdown["lm_head"] == 100 * 64
    assert c.breakdown["norms"] == 64 * (2 * 2 + 1)
    assert c.total == 24_576 + 196_608 + 512 + 2 * 6_400 + 320
    # active: top-2 of 4 experts, LM head in, input embedding out
    assert c.active == 24_576 + 196_608 // 2 + 512 + 6_400 + 320
    assert c.active_with_embedding == c.active + 6_400


def test_mixtral_8x7b_arithmetic():
    """Mixtral 8x7B: 32 layers x 8 experts x 3 x 4096 x 14336 routed parameters."""
    c = count_params(load_model("mixtral-8x7b"))
    assert c.breakdown["routed_experts"] == 32 * 8 * 3 * 4096 * 14336
    assert c.breakdown["attention"] == 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024)


def test_deepseek_v3_mla_and_mtp():
    """DeepSeek-V3 README: 671B main model; MTP module 11.5B unique (README_WEIGHTS.md)."""
    c = count_params(load_model("deepseek-v3"))
    assert c.total == pytest.approx(671e9, rel=0.001)
    assert c.breakdown["mtp"] == pytest.approx(11.5e9, rel=0.015)
    assert c.breakdown["embedding"] == pytest.approx(0.9e9, rel=0.04)  # "0.9B for Embedding"


def _tolerance(published: float) -> float:
    """Within 1% of the interval a rounded published figure stands for: "17B" stands for
    16.5-17.5B, "116.83B" for itself; figures of 1e12 and more are read in T ("1T")."""
    unit = 1e12 if published >= 1e12 else 1e9
    digits = f"{published / unit:g}"
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    half_unit = 0.5 * 10**-decimals * unit
    return 0.01 + half_unit / published


OFFICIAL = [cid for cid in catalog_ids() if load_model(cid).official is not None]


def test_every_reference_model_with_counts_is_covered():
    # models.yaml publishes counts for Mixtral x2, DeepSeek-V3 (and R1), Grok-1, Llama 4 x2
    for cid in [
        "mixtral-8x7b",
        "mixtral-8x22b",
        "deepseek-v3",
        "deepseek-r1",
        "grok-1",
        "llama-4-scout",
        "llama-4-maverick",
    ]:
        assert cid in OFFICIAL


@pytest.mark.parametrize("cid", OFFICIAL)
def test_official_counts(cid):
    """Sources: official_params.source of each model_specs/<id>.yaml."""
    spec = load_model(cid)
    official = spec.official
    c = count_params(spec)
    if official.total_truncated:  # "21B" for 21.8B: the published figure is a floor
        assert official.total <= c.total < official.total + 1e9
    elif official.total and not official.not_in_config:
        assert c.total == pytest.approx(official.total, rel=_tolerance(official.total))
    if official.active:
        computed = active_by_convention(c, official.active_convention)
        assert computed == pytest.approx(official.active, rel=_tolerance(official.active))


def test_llama4_scout_says_vision_encoder_is_missing():
    """MODEL_CARD.md: 109B total includes the vision encoder; the text config gives ~107.8B."""
    from moeplan.memory.quant import resolve_scheme
    from moeplan.memory.sizing import size_model

    spec = load_model("llama-4-scout")
    r = size_model(spec, resolve_scheme("bf16"))
    assert any("vision_encoder" in n for n in r.notes)
    assert r.params.total < 109e9


def test_tolerance_helper():
    assert _tolerance(17e9) == pytest.approx(0.01 + 0.5 / 17)
    assert _tolerance(116.83e9) == pytest.approx(0.01 + 0.005 / 116.83)
    assert math.isclose(_tolerance(6.6e9), 0.01 + 0.05 / 6.6)
