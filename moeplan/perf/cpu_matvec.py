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
this. MXFP4, whose x86 kernel is AVX2 only, takes the one-thread rate measured of that kernel
(AVX2_KERNEL_BYTES_PER_S). Block types with no published rate (FP8, IQ1_S/M, ...) get no cap.
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


MXFP4_VEC_DOT_SOURCE = (
    "a published llama.cpp RPC-cluster problem report (code index id 62013875860, 2026): "
    "'Direct microbenchmark (dlopen of the real ggml_vec_dot_mxfp4_q8_0 from each machine's "
    "libggml-cpu-haswell.so, 50000 rows of 4096)', 1 thread: 7.0 GB/s (asusg16, DDR5-7000), "
    "6.3 (i7-7700K, DDR4), 4.7 (an EPYC VM)"
)

AVX2_KERNEL_BYTES_PER_S: dict[str, float] = {
    "mxfp4": 7.0e9,
}
"""Block types whose x86 decode kernel has an AVX2 path and no AVX-512 one, so every x86 core
runs the same 256-bit code: ggml_vec_dot_mxfp4_q8_0 (ggml-cpu/arch/x86/quants.c: '#if defined
__AVX2__' ... '#elif defined __AVX__', a 16-entry shuffle lookup as IQ4_NL's, no __AVX512F__
branch). Its rate is the single-thread figure of the ggml function itself, called on rows
streamed from DRAM (MXFP4_VEC_DOT_SOURCE): 7.0 GB/s, the newest and fastest core of the three
(a 2017 i7-7700K 6.3, an EPYC VM 4.7). Not Zen 4's discussion-164 figures: no MXFP4 row there."""


def core_bytes_per_s(fmt: str, host: Host) -> float | None:
    """Bytes of `fmt` weights one core of `host` streams through llama.cpp's decode matvec per
    second, or None where no rate applies: a block type with no published rate, or a host
    without x86 vector units (Arm: NEON kernels, other rates; no cap). AVX-512 cores take the
    Zen 4 figure, AVX2-only cores AVX2_OVER_ZEN4 of it; a block type with only an AVX2 kernel
    (AVX2_KERNEL_BYTES_PER_S) its one rate on every x86 core."""
    if "avx2" not in host.isa:
        return None
    if fmt in AVX2_KERNEL_BYTES_PER_S:
        return AVX2_KERNEL_BYTES_PER_S[fmt]
    base = CORE_BYTES_PER_S.get(fmt)
    if base is None:
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


# Checked for issue 15 and deliberately not priced (prompted by the held-out llama.cpp records):
# the fixed cost of llama.cpp's CPU split per host MoE layer. ggml-cpu ends every node with a
# ggml_barrier and MUL_MAT_ID has one more after quantizing its activations
# (ggml-org/ggml@d99724f src/ggml-cpu/ggml-cpu.c); the scheduler keeps 3 MUL_MAT_ID + GLU (+3
# ADD_ID where experts have biases, gpt-oss) on the CPU, the weights' MUL and the sum over experts
# going to the GPU in its 'expand gpu up' pass (src/ggml-backend.cpp), so 7 or 10 barriers at
# 3.04 us a node with 8 threads (ggml-org/llama.cpp PR 9598 test-barrier, EPYC); each of the two
# backend changes of a layer waits on a blocking small copy (ggml_backend_sched_compute_splits),
# 6-7 us a cudaMemcpy (NVIDIA/gdrcopy README). That is 34-43 us a layer; refitting
# host_bw_efficiency on its one fitting record (36 host layers) absorbs it (0.80 -> 0.84) and the
# held-out decode median goes 12.9% -> 13.7%. The held-out shortfall scales with the expert bytes
# of a layer (4-17 us a MB across the 10900X, 7900 and 5900X runs), not with the layer count: those
# runs read 2.5-4.0 GB/s of experts a thread, the fitting 14900K run 7.3, and ggml's MXFP4/Q4_K
# AVX2 dot products decode ~13 GB/s a core at 4 GHz (instruction count of
# ggml_vec_dot_mxfp4_q8_0), so neither a fixed per-layer cost nor the CPU's dot-product rate
# separates them. (That instruction-count figure was later replaced by a measurement of the
# function itself, 7.0 GB/s a thread: AVX2_KERNEL_BYTES_PER_S.)
#
# Checked for issue 15 and deliberately not priced (prompted by the held-out ktransformers and
# llama.cpp records on hosts with much bandwidth per core, which read 6-11 GB/s of experts a
# thread; none of them sets anything): a per-thread dequant-matvec rate in place of the decode
# t_cpu (int8 peak x KTRANSFORMERS_GEMM_EFFICIENCY: 67.5 G weights/s a core with AVX-512, 33.75
# with AVX2). Independent measurements of the ggml kernels at n = 1 token:
# - ggml-org/llama.cpp PR 27590 (2026-08-23), Ryzen 9 9950X (Zen 5), one core, data in cache:
#   the shipped 256-bit Q5_K x Q8_K dot 3.61 cycles / 32 weights = 8.9 weights/cycle (6.1 B),
#   Q6_K 2.84 = 11.3 (9.2 B); the PR's AVX-512 VNNI paths 10.6 and 16.2. At the 9950X's 4.3 GHz
#   base clock (spec, flagged): 38-49 G weights/s a core, 26-40 GB/s.
# - ikawrakow/ik_llama.cpp PR 54 (2024-09-14; a fork of the same ggml kernels, its baseline a
#   mainline build): LLaMA-3.1-8B tg128 with mainline on a Ryzen 7950X (Zen 4), 4 threads, Q4_0
#   11.25 t/s where the PR's kernel reaches 13.88, so the kernel limits: 7.5 G matvec weights a
#   token -> 21 G weights/s a thread, 11.9 GB/s; 4.7 weights/cycle at the 4.5 GHz base clock,
#   ~4 at the clock 4 threads run at (a lower bound either way: the step holds other work). On a
#   Ryzen 5975WX (Zen 3, AVX2, 8 x DDR4-3200), 8 threads: Q4_0 11.90 vs 11.99 t/s, Q8_0 8.13 vs
#   8.21 - a kernel 1.3-1.5x faster at pp512 moves tg under 1%, so 6.3 and 8.1 GB/s a thread
#   (11.2 and 7.6 G weights/s) are not compute-bound.
# - ggml-org/llama.cpp PR 28212 (i7-12700, DDR4): VNNI-fused Q4_K/Q5_K AVX2 dots, tg with 2 and
#   8 threads neutral (~+1%): not compute-bound at 2 threads.
# - FlashML-org/FreeToken PR 52 (another engine; 2 x Xeon Gold 6526Y, BF16 CPU MoE): AVX2 60.7,
#   AVX-512F 64.9, AVX512-BF16 67.0, AMX 72.8 GB/s: memory-bound whatever the ISA's peak.
# Not found: a kt-kernel / llamafile per-thread decode figure on an independent host (the one
# bench_moe run found comes from a held-out record's own thread), Sapphire Rapids, Ice Lake,
# Raptor Lake, MXFP4, IQ-type or BF16 matvec cycle counts; test-backend-ops CPU MUL_MAT n=1 posts
# (PR 12216 IQ1_M on Zen 4, PR 22345 Q6_K) state no thread count. So the shipped AVX-512 figure
# is 1.4-1.8x the in-cache rate of the shipped 256-bit code and the AVX2 one about that rate,
# not ~5x too fast. Priced as threads x W weights/cycle x the base clock of the CPU each record
# ran on (the catalog has no clocks; a what-if, not landed), the held-out decode median (12.9%
# over 80) is untouched for W >= 6.5, unchanged at 5.5-6 (llama.cpp's own 17.9% -> ~17%,
# ktransformers-v02 13.5% -> 12.7% at 5.5) and worse below: 14.1% at W = 4.7 (2 x EPYC 9135 +32%
# -> +9%, EPYC 9274F +25% -> +4%, but Threadripper PRO 7965WX -4..-7% -> -11..-14%, i7-14700HX
# -4..+18% -> -17..-3%, the i9-14900 VM rows +1..+12% -> -28..+6% although their tg rose 16-21%
# for 20% faster memory), 26.2% at 3.8. The sources bracket W only loosely (an end-to-end lower
# bound of ~4-4.7 on Zen 4, 8.9-11.3 for the kernel in cache on Zen 5): a W in the 5.5-6 window
# would be chosen by the held-out records, not by a source, so no rate is landed. The BF16 rows
# (Qwen3-30B on 16 threads of an EPYC 9355, +28..+52%) would bind only below ~2 weights/cycle.
# What the 5975WX rows point to instead is a per-thread DRAM stream ceiling (outstanding misses x
# 64 B / loaded latency), not priced: no per-platform single-core bandwidth source was read yet.
# (Later landed in another form: this module caps llama.cpp's decode at mainline's
# measured per-core tg rates of each block type, discussion 164's 2-thread rows, not at a
# weights-per-cycle kernel figure; the W-per-cycle what-if above stays unpriced.)
#
# Checked for issue 15 and deliberately not priced (session of 2026-12-05, prompted by the same
# few-threads-on-a-big-socket records: Qwen3-30B BF16 on 16 threads of an EPYC 9355, 31 threads on
# 2 x EPYC 9135): a per-thread DRAM read ceiling, min(socket read, threads x one core's read rate)
# before the engine's efficiency. The mechanism is sourced (J. McCalpin, "Single-core memory
# bandwidth: latency, bandwidth and concurrency", 2025-02-17: one core's bandwidth is set by its
# misses in flight over the latency, more or faster channels make "no difference"), the value is
# not. One-thread figures found: STREAM Copy 50.3 GB/s on 2 x EPYC 9654 (Zen 4) and 51.3 GB/s on
# 2 x EPYC 9755 (Zen 5), DDR5-4800 (SUSE/suse-best-practices, xml/MAIN-SBP-AMD-EPYC-4-SLES15SP4.xml
# @02f87af and MAIN-SBP-AMD-EPYC-5-SLES15SP6.xml @13d7719) - STREAM's counted bytes, so 25.6-51 GB/s
# of reads depending on whether its stores bypass the cache (not stated); the Zen 2 EPYC 7402
# read-only sweep of kvcache-ai/ktransformers PR 2175 (1 thread 19.9 GB/s, one CCD ~37 GB/s). No
# one- or few-thread read figure of any Zen 4/5 server part, Threadripper 7000 or Xeon was
# retrieved. What-if over the validated records (leave-one-out refits): a 51.3 GB/s ceiling binds
# nowhere (9.7% over 104 unchanged); 25.6 GB/s moves ktransformers 8.7% -> 8.3% (EPYC 9355 BF16
# +40..+67% -> +16..+38%, 2 x EPYC 9135 +32.8% -> +6.2%) but the llama.cpp Kimi-K2 run on
# 2 x EPYC 9355 (16 threads a socket) -2.8% -> -16.4%, llama.cpp 11.0% -> 12.8%, all 9.7%
# unchanged. Taking the low end of a 2x-wide reading because it helps would be fitting, so nothing
# is priced; a one-thread read-only figure of a Zen 4/5 server core (McCalpin's figures, Chips and
# Cheese's EPYC 9355P charts) would settle it.
# Also checked: fabric links of few-CCD EPYCs. The EPYC 9355P is 8 CCDs x 4 cores, each CCD on
# GMI-Wide (64 B a cycle each way; Chips and Cheese, "AMD's EPYC 9355P: Inside a 32 Core Zen 5
# Server Chip"), ~1 TB/s of links: they do not bind. An EPYC 9135's lscpu shows "L3 64 MiB
# (4 instances)" (a published 'MSB-PMC03 Cluster - Host Inventory', three 9135 nodes, 2026-04-30),
# so CCD counts cannot be read off L3 / 32 MB; with no source for its link width or FCLK, no
# EPYC entry gets a CCD cap.
