"""llama.cpp's per-core decode matvec rates (perf/cpu_matvec.py) and the decode bound they set in
an offload estimate (perf/offload.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from moeplan.hardware.gpus import resolve_gpu
from moeplan.hardware.hosts import resolve_host
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.cpu_matvec import (
    AVX2_KERNEL_BYTES_PER_S,
    AVX2_OVER_ZEN4,
    CORE_BYTES_PER_S,
    core_bytes_per_s,
    matvec_core_s,
)
from moeplan.perf.offload import OffloadReport, estimate_offload, routed_expert_byte_shares
from moeplan.perf.offload_engines import OffloadProfile, resolve_offload_engine

GIB = 1 << 30


def test_rates_from_the_discussion_164_rows_by_hand() -> None:
    # '8B Q4_K - Small | 4.36 GiB | 2 | tg128 | 9.57': 4.36 GiB x 9.57 / 2 threads, 94% streamed
    assert CORE_BYTES_PER_S["q4_k"] == pytest.approx(4.36 * GIB * 9.57 * 0.94 / 2)  # 21.1 GB/s
    # '8B IQ2_XXS - 2.0625 bpw | 2.23 GiB | 2 | tg128 | 5.47': an i-quant decodes 3.4x slower a byte
    assert CORE_BYTES_PER_S["iq2_xxs"] == pytest.approx(2.23 * GIB * 5.47 * 0.94 / 2)  # 6.2 GB/s
    assert CORE_BYTES_PER_S["q4_k"] / CORE_BYTES_PER_S["iq2_xxs"] > 3
    # IQ2_M file (IQ2_S tensors): '2.74 GiB | 2 | tg128 | 5.24' -> 7.2 GB/s a core
    assert CORE_BYTES_PER_S["iq2_s"] == pytest.approx(2.74 * GIB * 5.24 * 0.94 / 2)
    # Q4_0 ran DRAM-bound at 2 threads (mainline's 4-thread tg is the same, ik_llama.cpp PR 54)
    assert "q4_0" not in CORE_BYTES_PER_S
    # PR 23309's row: Llama-3.2-1B Q4_K_M 762.81 MiB at 16.28 tok/s, one AVX2 thread
    assert AVX2_OVER_ZEN4 * CORE_BYTES_PER_S["q4_k"] == pytest.approx(762.81 * 2**20 * 16.28, 2e-3)


def test_rate_by_host_and_block_type() -> None:
    zen4 = resolve_host("epyc-9124")  # AVX-512
    assert core_bytes_per_s("q4_k", zen4) == CORE_BYTES_PER_S["q4_k"]
    avx2 = resolve_host("ryzen-7-5800x3d")  # AVX2 only
    assert core_bytes_per_s("q4_k", avx2) == pytest.approx(CORE_BYTES_PER_S["q4_k"] * 0.617, 1e-3)
    assert core_bytes_per_s("q4_k", resolve_host("grace")) is None  # Arm: no published rate
    assert core_bytes_per_s("bf16", zen4) is None  # the BF16 row sat at the DRAM ceiling
    assert core_bytes_per_s("iq1_s", zen4) is None  # no published rate
    # 16 cores, 1 GB of Q4_K and 1 GB of IQ1_S: only the Q4_K is timed
    seconds = matvec_core_s({"q4_k": 1e9, "iq1_s": 1e9}, zen4, 16)
    assert seconds == pytest.approx(1e9 / (16 * CORE_BYTES_PER_S["q4_k"]))


def test_mxfp4_runs_its_avx2_kernel_on_every_x86_core() -> None:
    """ggml_vec_dot_mxfp4_q8_0 has AVX2/AVX paths and no AVX-512 one: the measured one-thread
    7.0 GB/s on AVX-512 and AVX2-only cores alike; Arm gets no cap."""
    assert AVX2_KERNEL_BYTES_PER_S["mxfp4"] == 7.0e9
    for host in ("epyc-9124", "ryzen-7-5800x3d", "core-ultra-7-265k"):
        assert core_bytes_per_s("mxfp4", resolve_host(host)) == 7.0e9
    assert core_bytes_per_s("mxfp4", resolve_host("grace")) is None


def test_gpt_oss_decode_follows_the_threads_until_dram_binds() -> None:
    """gpt-oss-120b with 31 MoE layers' experts on a Core Ultra 7 265K (2 x DDR5-5600): on 4
    cores its MXFP4 experts take 1.64 GB / (4 x 7.0 GB/s) a token, on 16 the DRAM binds."""
    spec = load_model("gpt-oss-120b")
    scheme = resolve_scheme("q8_0,experts=mxfp4", spec)
    host = resolve_host("core-ultra-7-265k")
    engine = resolve_offload_engine("llamacpp")

    def run(cores: int) -> OffloadReport:
        return estimate_offload(
            spec,
            scheme,
            resolve_gpu("rtx-4090"),
            replace(host, cores_per_socket=cores, performance_cores=None),
            engine,
            "experts",
            31,
            input_len=1,
            output_len=128,
        )

    four, sixteen = run(4), run(16)
    assert four.speed is not None and sixteen.speed is not None
    assert "per-core" in four.speed.decode_bound
    assert sixteen.speed.decode_bound == "host memory bandwidth"
    # the DRAM time x the bandwidth reached = the bytes; over 4 cores x 7.0 GB/s (hops < 1%)
    expert_bytes = sixteen.speed.host_decode_s * sixteen.host_bw_bytes_per_s
    assert expert_bytes == pytest.approx(1.64e9, rel=0.02)
    assert four.speed.host_decode_s == pytest.approx(expert_bytes / (4 * 7.0e9), rel=0.01)


def test_q4_k_m_experts_are_mostly_q4_k_with_q6_k_down_projections() -> None:
    spec = load_model("deepseek-r1")
    shares = routed_expert_byte_shares(spec, resolve_scheme("q4_k_m", spec))
    assert sum(shares.values()) == pytest.approx(1.0)
    assert set(shares) == {"q4_k", "q6_k"} and 0 < shares["q6_k"] < shares["q4_k"]
    gptoss = load_model("gpt-oss-120b")
    assert routed_expert_byte_shares(gptoss, resolve_scheme("q8_0,experts=mxfp4", gptoss)) == {
        "mxfp4": 1.0
    }


def _decode(quant: str, engine: OffloadProfile) -> OffloadReport:
    spec = load_model("deepseek-r1")
    return estimate_offload(
        spec,
        resolve_scheme(quant, spec),
        resolve_gpu("rtx-4090"),
        resolve_host("epyc-9124"),
        engine,
        "experts",
        input_len=64,
        output_len=64,
    )


def test_few_cores_and_an_i_quant_bind_decode_on_the_cores() -> None:
    """DeepSeek-R1 on a 16-core EPYC 9124 (12 channels): IQ2_XXS experts take 16 cores longer to
    decode than the DRAM takes to deliver them; Q4_K_M's do not."""
    llamacpp = resolve_offload_engine("llamacpp")
    iq2 = _decode("iq2_xxs", llamacpp)
    assert iq2.speed is not None and "per-core" in iq2.speed.decode_bound
    q4 = _decode("q4_k_m", llamacpp)
    assert q4.speed is not None and q4.speed.decode_bound == "host memory bandwidth"
    # the host time without the rates is the DRAM time; with them, that time x the DRAM bandwidth
    # reached x each rated type's share / (16 cores x its rate) (PCIe hops: < 0.2% of it)
    dram = _decode("iq2_xxs", replace(llamacpp, llamacpp_matvec_rates=False))
    assert dram.speed is not None
    spec = load_model("deepseek-r1")
    shares = routed_expert_byte_shares(spec, resolve_scheme("iq2_xxs", spec))
    host = resolve_host("epyc-9124")
    per_byte = sum(
        f / (16 * rate) for t, f in shares.items() if (rate := core_bytes_per_s(t, host))
    )
    expected = dram.speed.host_decode_s * iq2.host_bw_bytes_per_s * per_byte
    assert iq2.speed.host_decode_s == pytest.approx(expected, rel=5e-3)
    assert iq2.speed.host_decode_s > 2 * dram.speed.host_decode_s
    # ktransformers runs its own kernels: no llama.cpp per-core rate
    kt = _decode("iq2_xxs", resolve_offload_engine("ktransformers"))
    assert kt.speed is not None and "per-core" not in kt.speed.decode_bound
