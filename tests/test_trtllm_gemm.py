"""The trtllm profile's price of a prompt-sized GEMM against rows of NVIDIA's measured kernel
database (perf/trtllm_gemm.py, issue 14): moeplan's additive roofline with the measured
efficiency lands near the measured time, where the old 0.7 assumption was too fast on
Blackwell's FP4/FP8."""

from __future__ import annotations

import pytest

from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import weight_format
from moeplan.perf.engines import resolve_engine
from moeplan.perf.phases import Phase, Rates

# github:ai-dynamo/aiconfigurator@095f58a51c4ca8e61b66ec108d86f223f8d559ce
# aic-core/src/aiconfigurator_core/systems/data/<system>/gemm/trtllm/1.3.0rc20/gemm_perf.parquet,
# kernel_source torch_flow: (moeplan GPU id, math type, weight format, m, n, k, latency in ms),
# read with pyarrow. Qwen3-30B-A3B QKV (5120 x 2048), Qwen3-235B-A22B O (4096 x 8192), Qwen3-30B
# O (2048 x 4096), Llama-4 QKV (7168 x 5120) and shared-expert gate_up (16384 x 5120).
AIC_GEMM_ROWS = (
    ("b200", "fp4", "nvfp4", 8192, 5120, 2048, 0.06865920225779215),
    ("b200", "fp4", "nvfp4", 8192, 4096, 8192, 0.1703989346822103),
    ("b200", "fp8", "fp8", 8192, 2048, 4096, 0.10430186589558918),
    ("gb200-nvl72", "fp4", "nvfp4", 4096, 7168, 5120, 0.09029333591461182),
    ("h200", "fp8", "fp8", 8192, 5120, 2048, 0.17471359570821127),
    ("h100-sxm", "fp8", "fp8", 16384, 4096, 8192, 1.0797812938690186),
    ("rtx-pro-6000", "fp4", "nvfp4", 8192, 5120, 2048, 0.14306666056315104),
    ("rtx-pro-6000", "fp4", "nvfp4", 2048, 16384, 5120, 0.26969865957895917),
)


def _price(rates: Rates, math: str, fmt: str, m: int, n: int, k: int) -> float:
    phase = Phase()
    weight_bytes = n * k * weight_format(fmt).bits_per_weight / 8
    phase.add_roofline(weight_bytes, rates.stream_bw_bytes_per_s, 2 * m * n * k, rates.flops(math))
    return phase.total_s


@pytest.mark.parametrize(("gpu_id", "math", "fmt", "m", "n", "k", "ms"), AIC_GEMM_ROWS)
def test_trtllm_gemm_price_near_measured(
    gpu_id: str, math: str, fmt: str, m: int, n: int, k: int, ms: float
) -> None:
    gpu = resolve_gpu(gpu_id)
    rates = Rates.from_engine(gpu, resolve_engine("trtllm"))
    measured = ms / 1e3
    # the efficiency is a median over 32 shapes, so single rows spread about it: 0.67x (B200 FP8
    # 2048 x 4096, the table's lower quartile) to 1.15x of the measured time for these eight
    assert _price(rates, math, fmt, m, n, k) == pytest.approx(measured, rel=0.35)


def test_old_assumption_was_too_fast_on_blackwell_fp4() -> None:
    """At the former 0.7 of the FP4 peak, the B200 QKV GEMM above priced at about half its
    measured time; the measured efficiency is what moved it."""
    gpu, trtllm = resolve_gpu("b200"), resolve_engine("trtllm")
    assert trtllm.compute_efficiency_for(gpu, "fp4") == pytest.approx(0.345)
    assert resolve_engine("trtllm-0.9").compute_efficiency_for(gpu, "fp4") == 0.7
    old = Rates.from_engine(gpu, resolve_engine("trtllm-0.9"))
    _, math, fmt, m, n, k, ms = AIC_GEMM_ROWS[0]
    assert _price(old, math, fmt, m, n, k) < 0.6 * ms / 1e3


def test_outside_the_table_the_named_assumption_stays() -> None:
    """NVFP4 experts on an H100 run at BF16 (no FP4 peak), which the table leaves at the
    profile's 0.7; a GPU outside the table keeps 0.7 for every datatype."""
    trtllm = resolve_engine("trtllm")
    assert trtllm.compute_efficiency_for(resolve_gpu("h100-sxm"), "fp4") == 0.7
    assert trtllm.compute_efficiency_for(resolve_gpu("h100-sxm"), "fp8") == pytest.approx(0.559)
    assert trtllm.compute_efficiency_for(resolve_gpu("a100-sxm"), "bf16") == 0.7
