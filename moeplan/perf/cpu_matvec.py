"""Per-core rate of llama.cpp's CPU expert matvecs in decode: bytes of quantized weights one core
dequantizes and dots with the token's activations per second, per block type.

Decode reads each touched expert once per token. With enough cores the DRAM bandwidth bounds it
(perf/offload.py host_bandwidth_reached); with few cores, or block types whose dequantization is
costly (i-quants), each core's unpacking work does: "the quantized data needs to be unpacked to
8-bit integers before being used ... Depending on quantization type, this unpacking can
represent a significant fraction of the overall computation cost" (ikawrakow/ik_llama.cpp README,
'To tile or not to tile'). So a host's decode takes at least, per block type t,
bytes_t / (threads x rate_t); perf/offload.py keeps the largest of that, the DRAM time and the
int8 peak.

The rates are mainline llama.cpp's, measured on a Ryzen 9 7950X (Zen 4, AVX-512) with 2 threads:
ikawrakow/ik_llama.cpp discussion 164 ('Latest CPU performance comparison with llama.cpp',
2024-12-24: llama.cpp build 14b699ec (4384), LLaMA-3.1-8B, tg128 at 2 threads, the llama.cpp
column), tok/s x the file's size / 2 threads, x 0.94 for the token-embedding table a token does
not stream (0.525 B of 8.03 B weights). Two threads stream up to ~60 GB/s there (the same
table's ik_llama.cpp Q4_K row: 13.48 tok/s = 59 GB/s; BF16 61 GB/s), so the i-quant rows (21-43%
of that) are the kernels' rates; the k-quant and Q8_0 rows (50-77%) may hold some DRAM stall,
which makes their rate low and the cap early, if it binds at all (it needs fewer cores than
DRAM bandwidth / rate). Q4_0 is left out: its 2-thread speed (11.23 tok/s, 49 GB/s) is mainline's
4-thread speed too (11.25, ik_llama.cpp PR 54), so it was DRAM-bound, not a per-core rate. A Zen
4 core then clocks near its 2-core boost, so on lower-clocked server cores the rate is lower than
this. Block types with no published rate (MXFP4, FP8, IQ1_S/M, ...) get no cap.
"""

from __future__ import annotations

from moeplan.hardware.hosts import Host

ZEN4_DISCUSSION_164 = (
    "ikawrakow/ik_llama.cpp discussion 164 (2024-12-24), Ryzen 9 7950X, llama.cpp build "
    "14b699ec (4384), LLaMA-3.1-8B tg128 at 2 threads"
)

_STREAMED = 0.94
"""Share of an 8B GGUF a decode token reads: all but token_embd (128256 x 4096 of 8.03 B)."""

_GIB = 1 << 30


def _per_core(size_gib: float, tok_s: float) -> float:
    """Bytes per second per thread of a 2-thread tg128 row: size x tok/s x streamed share / 2."""
    return size_gib * _GIB * tok_s * _STREAMED / 2


CORE_BYTES_PER_S: dict[str, float] = {
    "q8_0": _per_core(7.95, 4.95),  # '8B Q8_0 | 7.95 GiB | 2 | tg128 | 4.95 ± 0.01'
    "q6_k": _per_core(6.14, 7.62),
    "q5_k": _per_core(5.21, 7.51),
    "q4_k": _per_core(4.36, 9.57),
    "q3_k": _per_core(3.41, 8.80),
    "q2_k": _per_core(2.78, 11.33),
    "iq4_nl": _per_core(4.35, 5.96),
    "iq4_xs": _per_core(4.13, 8.15),
    "iq3_s": _per_core(3.42, 3.71),
    "iq3_xxs": _per_core(3.04, 4.18),
    "iq2_xs": _per_core(2.42, 5.87),
    "iq2_xxs": _per_core(2.23, 5.47),
    "iq2_s": _per_core(2.74, 5.24),  # the IQ2_M file type: IQ2_S for most tensors
}
"""Mainline llama.cpp decode, bytes per second per core on Zen 4 (ZEN4_DISCUSSION_164; each
pair is a row's size and its llama.cpp tg128 t/s at 2 threads). The BF16 row (14.96 GiB, 4.05
t/s = 65 GB/s) sits at the 7950X's DRAM ceiling, not a per-core rate, so BF16/FP16 get no cap."""

AVX2_OVER_ZEN4 = 13.0e9 / CORE_BYTES_PER_S["q4_k"]
"""Cores without AVX-512: a Raptor Cove P-core, one thread, mainline llama.cpp's repacked Q4_K
GEMV (ggml-org/llama.cpp PR 23309, 2026-05-19: Llama-3.2-1B Q4_K_M, 762.81 MiB, tg128 16.28 tok/s
with AVX2 = 13.0 GB/s) over the Zen 4 Q4_K rate (21.1 GB/s): 0.62. One pair of measurements
that mixes ISA, core, clock and kernel (a repacked GEMV against Zen 4's plain Q4_K): applied to
every block type and every AVX2-only core (Zen 2/3, Intel client) alike, a broad figure."""


def core_bytes_per_s(fmt: str, host: Host) -> float | None:
    """Bytes of `fmt` weights one core of `host` streams through llama.cpp's decode matvec per
    second, or None where no rate applies: a block type with no published rate, or a host
    without x86 vector units (Arm: NEON kernels, other rates; no cap). AVX-512 cores take the
    Zen 4 figure, AVX2-only cores AVX2_OVER_ZEN4 of it."""
    base = CORE_BYTES_PER_S.get(fmt)
    if base is None or "avx2" not in host.isa:
        return None
    return base * (1.0 if "avx512" in host.isa else AVX2_OVER_ZEN4)


def matvec_core_s(bytes_by_format: dict[str, float], host: Host, threads: int) -> float:
    """Seconds `threads` cores of `host` take to dequantize and dot `bytes_by_format` (block
    type -> bytes) at their per-core rates; block types without a rate add nothing."""
    total = 0.0
    for fmt, nbytes in bytes_by_format.items():
        rate = core_bytes_per_s(fmt, host)
        if rate is not None and nbytes > 0:
            total += nbytes / (threads * rate)
    return total
