"""MI300X / MI325X rates of the ROCm engines against the published measurements they come from
(perf/rocm_rates.py, issue 14): AMD's Typical Attained FLOPs shapes, Azure's hipBLASLt FP8
cubes and BabelStream rows, priced with moeplan's additive roofline."""

from __future__ import annotations

import pytest

from moeplan.hardware.gpus import resolve_gpu
from moeplan.perf.engines import resolve_engine
from moeplan.perf.phases import Phase, Rates
from moeplan.perf.rocm_rates import (
    AZURE_MI300X_FP8_GEMM_FLOPS,
    AZURE_STREAM_TBPS,
    MI325X_TAF_FLOPS,
    SPEC_FLOPS,
)

# AMD TAF blog (ROCm blogs, 2026-10-06): the five DeepSeek-V3 (N, K) pairs, here at M = 32768
TAF_NK = ((2112, 7168), (3072, 1536), (7168, 2048), (4608, 7168), (7168, 256))
VALUE_BYTES = {"bf16": 2, "fp8": 1}


def _priced_rate(rates: Rates, dtype: str, shapes: tuple[tuple[int, int, int], ...]) -> float:
    """FLOP-weighted harmonic mean of moeplan's priced GEMM rate over (m, n, k) shapes."""
    flops = seconds = 0.0
    for m, n, k in shapes:
        phase = Phase()
        f = 2.0 * m * n * k
        phase.add_roofline(
            n * k * VALUE_BYTES[dtype], rates.stream_bw_bytes_per_s, f, rates.flops(dtype)
        )
        flops += f
        seconds += phase.total_s
    return flops / seconds


@pytest.mark.parametrize("engine", ["sglang", "vllm"])
@pytest.mark.parametrize("dtype", ["bf16", "fp8"])
def test_mi325x_prompt_gemms_price_at_the_measured_taf(engine: str, dtype: str) -> None:
    rates = Rates.from_engine(resolve_gpu("mi325x"), resolve_engine(engine))
    shapes = tuple((32768, n, k) for n, k in TAF_NK)
    # the weight-byte term adds < 1% at M = 32768
    assert _priced_rate(rates, dtype, shapes) == pytest.approx(MI325X_TAF_FLOPS[dtype], rel=0.02)


def test_mi300x_fp8_estimate_against_azures_hipblaslt_cubes() -> None:
    """The MI300X rate is AMD's MAF scaled by the MI325X's TAF/MAF ratio, not a measurement at
    serving shapes; Azure's independent hipBLASLt FP8 cubes (4096^3..32768^3, 955-1159 TFLOPS)
    bracket it: the priced rate runs about 7% under their median."""
    rates = Rates.from_engine(resolve_gpu("mi300x"), resolve_engine("sglang"))
    cubes = tuple((s, s, s) for s in (4096, 8192, 16384, 32768))
    measured = sorted(AZURE_MI300X_FP8_GEMM_FLOPS)
    median = (measured[1] + measured[2]) / 2
    priced = _priced_rate(rates, "fp8", cubes)
    assert priced == pytest.approx(median, rel=0.12)
    assert priced < max(measured)
    # and far below the catalog's peak at the profile's old 0.6
    assert priced < 0.4 * SPEC_FLOPS["fp8"]


def test_hbm_stream_rates_match_babelstream() -> None:
    """MI300X streams at Azure's BabelStream mean (4.15 TB/s); the H200 keeps the profiles'
    0.85, which the same harness measures on it (4.08 of 4.8 TB/s)."""
    for gpu_id, spec in (("mi300x", 5.3e12), ("h200", 4.8e12)):
        rows = AZURE_STREAM_TBPS[gpu_id]
        measured = sum(rows) / len(rows) * 1e12
        for engine in ("sglang", "vllm", "llamacpp"):
            rates = Rates.from_engine(resolve_gpu(gpu_id), resolve_engine(engine))
            assert rates.stream_bw_bytes_per_s == pytest.approx(measured, rel=0.01)
        assert resolve_gpu(gpu_id).mem_bw_bytes_per_s == spec


def test_other_gpus_and_engines_keep_their_rates() -> None:
    sglang, ideal = resolve_engine("sglang"), resolve_engine("ideal")
    h200, mi325x, mi300x = resolve_gpu("h200"), resolve_gpu("mi325x"), resolve_gpu("mi300x")
    assert sglang.compute_efficiency_for(h200, "fp8") == 0.6
    assert sglang.bw_efficiency_for(mi325x) == 0.85  # no MI325X stream measurement found
    assert ideal.bw_efficiency_for(mi300x) == 1.0
    assert ideal.compute_efficiency_for(mi300x, "fp8") == 1.0
    assert resolve_engine("trtllm").compute_efficiency_for(mi300x, "fp8") == 0.7
    assert sglang.compute_efficiency_for(mi300x, "fp8") == pytest.approx(0.366)
    assert sglang.compute_efficiency_for(mi325x, "bf16") == pytest.approx(0.471)
