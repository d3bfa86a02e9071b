"""The shipped error bands (offload and serving) are the ones the records give."""

from __future__ import annotations

from moeplan.plan.validate_offload import (
    computed_offload_error_bands,
    offload_error_band_pct,
    shipped_offload_error_bands,
)
from moeplan.plan.validate_serving import (
    computed_serving_error_bands,
    serving_error_band,
    shipped_serving_error_bands,
)


def test_shipped_offload_bands_are_the_computed_ones():
    # on failure: python tools/error_bands.py
    assert shipped_offload_error_bands() == computed_offload_error_bands()


def test_shipped_serving_bands_are_the_computed_ones():
    # on failure: python tools/error_bands.py
    assert shipped_serving_error_bands() == computed_serving_error_bands()


def test_band_lookup_gives_a_band_around_zero():
    band = offload_error_band_pct("llamacpp", "decode")
    assert isinstance(band, list) and len(band) == 2 and band[0] < 0 < band[1]
    pct, scope = serving_error_band("trtllm")
    assert isinstance(pct, list) and pct[0] < 0 < pct[1] and "trtllm" in scope
