"""The CPU side of an offload prompt pass: ktransformers V0.2/V0.3's llamafile (iqk_mul_mat)
K-quant kernels gain 1.25x, not the 2x of the vector width, from AVX-512 over AVX2, and a second
socket adds the NUMA gain of its cores' compute, as of its reads; checked against the V0.2
tutorial's one- and two-socket prompt speeds, which set neither."""

from __future__ import annotations

import pytest

from moeplan.hardware.hosts import resolve_host, with_overrides
from moeplan.perf.cpu_int8 import (
    AVX2_INT8_OPS_PER_CORE,
    AVX512_INT8_OPS_PER_CORE,
    IQK_AVX512_GAIN,
    cpu_int8_ops_per_s,
)
from moeplan.perf.offload_engines import OFFLOAD_ENGINES, compute_threads
from moeplan.plan.validate_offload import load_offload_records, validate_offload_record

SPR = resolve_host("xeon-gold-6454s")  # AVX-512 and AMX


def test_iqk_kernels_gain_less_than_the_vector_width_from_avx512():
    assert AVX512_INT8_OPS_PER_CORE == 2 * AVX2_INT8_OPS_PER_CORE  # the hardware's peak
    # an engine with no measured gain gets the width's 2x
    assert cpu_int8_ops_per_s(SPR, False, 32) == pytest.approx(32 * AVX512_INT8_OPS_PER_CORE)
    v02 = OFFLOAD_ENGINES["ktransformers-v02"]
    assert v02.avx512_int8_gain == IQK_AVX512_GAIN == 1.25
    assert cpu_int8_ops_per_s(SPR, False, 32, v02.avx512_int8_gain) == pytest.approx(
        32 * 0.25e12 * 1.25
    )
    # AMX tiles, where the engine uses them, are unaffected; an AVX2-only core has no gain
    assert cpu_int8_ops_per_s(SPR, True, 32, 1.25) == pytest.approx(32 * 4e12)
    milan = resolve_host("epyc-7773x")
    assert "avx512" not in milan.isa
    assert cpu_int8_ops_per_s(milan, False, 64, 1.25) == pytest.approx(64 * 0.25e12)
    # kt-kernel (0.4+) and llama.cpp keep the width's gain: no measurement of their kernels
    assert OFFLOAD_ENGINES["ktransformers"].avx512_int8_gain == 2.0
    assert OFFLOAD_ENGINES["llamacpp"].avx512_int8_gain == 2.0
    assert OFFLOAD_ENGINES["ktransformers-v03"].avx512_int8_gain == 1.25


def test_a_second_socket_adds_the_numa_gain_of_its_compute_for_ktransformers():
    two = with_overrides(SPR, sockets=2)
    assert two.cores == 64
    kt = OFFLOAD_ENGINES["ktransformers-v02"]
    gain = kt.numa_extra_socket_gain
    assert compute_threads(two, kt) == pytest.approx(32 * (1 + gain))
    assert compute_threads(SPR, kt) == 32
    # llama.cpp: every core computes (its gain of 0 is about remote reads, not compute)
    assert compute_threads(two, OFFLOAD_ENGINES["llamacpp"]) == 64


def _run(record_id: str):
    rec = next(r for r in load_offload_records() if r["id"] == record_id)
    return rec["value"], validate_offload_record(rec).predicted


def test_v02_tutorial_prompt_speeds_one_and_two_sockets():
    """The V0.2 tutorial: 54.21 tok/s on one Xeon Gold 6454S socket, 74.362 on two (DeepSeek-V3
    Q4_K_M, 500-token prompt). Neither sets a constant. moeplan: within 20% (it was +85% with
    the width's 2x), and the two-socket gain 1.37x within 3% (2x before)."""
    one_pub, one = _run("kt-v02-dsv3-q4km-6454s-1s-4090d-prefill")
    two_pub, two = _run("kt-v02-dsv3-q4km-6454s-2s-4090d-prefill")
    assert one == pytest.approx(one_pub, rel=0.20)
    assert two == pytest.approx(two_pub, rel=0.20)
    assert two / one == pytest.approx(two_pub / one_pub, rel=0.03)


@pytest.mark.parametrize(
    "prompt, published", [("1k", 88.2), ("2k", 88.5), ("4k", 81.9), ("8k", 80.0)]
)
def test_v021_two_socket_prompt_speeds(prompt: str, published: float):
    """The V0.2.1 table's dual-socket prompt speeds (969 to 7678 tokens): within 10%
    (+114% to +127% before)."""
    value, predicted = _run(f"kt-v021-dsv3-q4km-rtx4090-2x6454s-{prompt}-prefill")
    assert value == published
    assert predicted == pytest.approx(published, rel=0.10)


def test_llamacpp_prompt_gemm_points_follow_from_their_runs():
    """Each cited point's efficiency is tok/s x the model's routed-expert int8 ops a token /
    threads / the AVX2 peak; the engine's prompt efficiency is their median, below
    ktransformers' (mainline's row-by-row K-quant dot products)."""
    from moeplan.model.catalog import load_model
    from moeplan.perf.cpu_int8 import (
        KTRANSFORMERS_GEMM_EFFICIENCY,
        LLAMACPP_PROMPT_GEMM_EFFICIENCY,
        LLAMACPP_PROMPT_GEMM_POINTS,
    )

    for model, threads, tok_s, efficiency in LLAMACPP_PROMPT_GEMM_POINTS:
        spec = load_model(model)
        moe = spec.moe
        assert moe is not None
        ops = 2 * 3 * spec.hidden_size * moe.expert_intermediate_size * moe.top_k
        ops *= spec.num_moe_layers
        assert tok_s * ops / threads / AVX2_INT8_OPS_PER_CORE == pytest.approx(efficiency, abs=5e-4)
    llamacpp = OFFLOAD_ENGINES["llamacpp"]
    assert llamacpp.prompt_gemm_efficiency == LLAMACPP_PROMPT_GEMM_EFFICIENCY == 0.106
    assert LLAMACPP_PROMPT_GEMM_EFFICIENCY < KTRANSFORMERS_GEMM_EFFICIENCY / 2
    kt = OFFLOAD_ENGINES["ktransformers"]  # its own GEMM figure for prompts and decode
    assert kt.prompt_gemm_measured is None
    assert kt.prompt_gemm_efficiency == kt.cpu_compute_efficiency == KTRANSFORMERS_GEMM_EFFICIENCY


@pytest.mark.parametrize(
    ("model", "quant", "threads", "published"),
    [("minimax-m2.7", "q5_k_m", 16, 39.48), ("minimax-m2.7", "q5_k_m", 64, 100.82),
     ("glm-5.2", "q4_k_m", 64, 37.37)],
)  # fmt: skip
def test_llamacpp_cpu_prompt_on_epyc_7713(model: str, quant: str, threads: int, published: float):
    """The EPYC 7713 runs the points come from, priced end to end with every routed expert on the
    CPU (--no-op-offload): within 25% at either end of the thread sweep (one efficiency for all
    thread counts: the sweep scales sub-linearly, 0.139 a core at 16 threads, 0.088 at 64)."""
    from moeplan.hardware.gpus import resolve_gpu
    from moeplan.memory.quant import resolve_scheme
    from moeplan.model.catalog import load_model
    from moeplan.perf.offload import estimate_offload
    from moeplan.perf.offload_flags import with_prompt_flags

    host = with_overrides(resolve_host("epyc-7713"), 187.7, 549.0, threads)
    engine = with_prompt_flags(OFFLOAD_ENGINES["llamacpp"], ubatch=4096, op_offload=False)
    report = estimate_offload(
        load_model(model), resolve_scheme(quant), resolve_gpu("rtx-pro-6000"), host, engine,
        "experts", None, 1, 512, 32,
    )  # fmt: skip
    assert report.speed is not None and report.speed.prefill_path == "cpu"
    assert report.prefill_tok_s == pytest.approx(published, rel=0.25)
