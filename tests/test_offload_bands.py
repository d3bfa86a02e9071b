"""The shipped offload error bands are the ones the records give."""

from __future__ import annotations

from moeplan.plan.validate_offload import (
    computed_offload_error_bands,
    offload_error_band_pct,
    shipped_offload_error_bands,
)


def test_shipped_bands_are_the_computed_ones():
    # on failure: python tools/offload_bands.py
    assert shipped_offload_error_bands() == computed_offload_error_bands()


def test_band_lookup_gives_a_band_around_zero():
    band = offload_error_band_pct("llamacpp", "decode")
    assert isinstance(band, list) and len(band) == 2 and band[0] < 0 < band[1]
