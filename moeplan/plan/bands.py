"""An error band: the spread of out-of-sample residuals shown beside an estimate (offload
decode / prompt time, serving output tok/s). One formula for both."""

from __future__ import annotations

import statistics

BAND_DECILES_FROM = 10
"""From this many residuals the band is their 10th to 90th percentile; below, their lowest and
highest. Every out-of-sample residual counts, runs at a RAM cliff or on a misread box included:
where more than a tenth of an engine's runs are such misses, an edge falls among them (when
written, llama.cpp decode: 10 of 53 runs miss by more than 2x, and its 10th percentile, -77.7% of
time, lies between the GTX 1650 SUPER mmap runs and an i5-12600K run)."""


def band_of(errors: list[float]) -> tuple[float, float]:
    """[low, high] in % of the residuals: the 10th and 90th percentiles (statistics.quantiles,
    'inclusive') from BAND_DECILES_FROM residuals, else the extremes."""
    if len(errors) >= BAND_DECILES_FROM:
        deciles = statistics.quantiles(errors, n=10, method="inclusive")
        low, high = deciles[0], deciles[-1]
    else:
        low, high = min(errors), max(errors)
    # + 0.0: a residual that rounds to zero from below prints 0.0, not -0.0
    return round(low * 100, 1) + 0.0, round(high * 100, 1) + 0.0
