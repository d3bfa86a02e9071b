"""Int8 dot-product rates of a host's cores for quantized expert GEMMs (prompt passes, and the
compute floor of decode matvecs): the per-core peaks by instruction set, and what an engine's
512-bit kernels gain over its 256-bit ones."""

from __future__ import annotations

from moeplan.hardware.hosts import Host

AMX_INT8_OPS_PER_CORE = 4e12
"""Theoretical AMX int8 throughput of one Sapphire Rapids core: "a single core can theoretically
provide 4 TOPS" (kvcache-ai/ktransformers doc "Qwen 3 + KTransformers 0.3 (+AMX)")."""

AVX512_INT8_OPS_PER_CORE = AMX_INT8_OPS_PER_CORE / 8
"""AMX does 2048 int8 multiply-adds per core per cycle, "8 times the performance of AVX-512"
(same doc), so AVX-512 (VNNI) int8 dot products: 4 TOPS / 8 = 0.5 TOPS per core."""

AVX2_INT8_OPS_PER_CORE = AVX512_INT8_OPS_PER_CORE / 2
"""256-bit vectors: half the AVX-512 width (flag: derived from the width, not measured). Arm
NEON/SVE2 hosts (4 x 128-bit pipes on Neoverse V2) are counted at this rate too."""

VECTOR_WIDTH_GAIN = AVX512_INT8_OPS_PER_CORE / AVX2_INT8_OPS_PER_CORE
"""What a 512-bit kernel gains over a 256-bit one where nothing but the dot products binds: 2."""

IQK_AVX512_GAIN = 1.25
"""What the 512-bit K-quant kernels of ktransformers V0.2/V0.3's llamafile backend gain over
their AVX2 kernels on the same core, instead of the 2x of the vector width. Those kernels are
ikawrakow's iqk_mul_mat (kvcache-ai/ktransformers@65d73ea3, v0.2.1: operators/llamafile/moe.cpp
forward_many -> llamafile_sgemm -> third_party/llamafile/iqk_mul_mat.inc
mul_mat_qX_K_q8_K_T<DequantizerQ4K|Q6K>, lines 606-647 and 1378-1386, _mm512_dpbusd_epi32 under
HAVE_FANCY_SIMD, which the default -march=native build enables); their author measured the
512-bit kernels at 1.16-1.31x the AVX2 ones on a Ryzen 9 7950X (mozilla-ai/llamafile PR 435):
unpacking the 4- and 6-bit blocks, the conversions and the per-block scales take most of the
instructions, and at most 8 tokens share an unpacked block. 1.25 is that range's middle; a core
with two full 512-bit ports (Sapphire Rapids) might gain somewhat more. Research notes:
/work/notes/kt_v02_simd.md of the session that set it. Checked, not fitted: the V0.2 tutorial's
one-socket prefill (54.21 tok/s, 32 Xeon Gold 6454S cores, DeepSeek-V3 Q4_K_M) is 0.069 TOPS a
core, the AVX2 price x 1.0; at 2x moeplan gave +85%, at 1.25 +18%."""


KTRANSFORMERS_GEMM_EFFICIENCY = 35e12 / (32 * AMX_INT8_OPS_PER_CORE)
"""ktransformers' AMX kernel "can achieve ... 35 TOPS of Int8 throughput on Xeon4 CPUs" (same doc
as AMX_INT8_OPS_PER_CORE), on the 32-core Xeon Gold 6454S socket of its showcase: 35 / (32 x 4) =
0.27 of peak."""

LLAMACPP_PROMPT_GEMM_POINTS: tuple[tuple[str, int, float, float], ...] = (
    ("minimax-m2.7", 16, 39.48, 0.139),
    ("minimax-m2.7", 32, 71.82, 0.126),
    ("minimax-m2.7", 48, 88.67, 0.104),
    ("minimax-m2.7", 64, 100.82, 0.088),
    ("glm-5.2", 64, 37.37, 0.106),
)
"""(catalog model, threads, prompt tok/s, efficiency): mainline llama.cpp prompt passes with every
routed expert on the CPU (-ot exps=CPU, llama-bench -nopo 1 or op offload unavailable, pp512;
MiniMax-M2.7 UD-Q5_K_M, GLM-5.2 UD-Q4_K_XL), as a fraction of AVX2_INT8_OPS_PER_CORE: tok/s x
2 x routed-expert params a token (top_k x 3 x hidden x expert width x MoE layers: 14.04 G
MiniMax-M2.7, 45.30 G GLM-5.2) / threads / 0.25 TOPS. One box, a 64-core EPYC 7713 with 8 x
DDR4-2933, dense layers on four Radeon Pro V620 (GPU time left in, a small share of these
passes): public repository docs "MiniMax M2.7 - Galactus results" (code index id 63192629545:
llama.cpp 0893f50f2 = build 8746, 2026-04-17, -b 4096 -ub 4096, thread sweep) and the same box's
GLM-5.2 session log (id 63178024407: "512 tokens in 13.7 s = 23.2 TFLOP of expert GEMM at 1.69
TFLOP/s", op offload off, build 9942). About half ktransformers' figure for its iqk kernels
(KTRANSFORMERS_GEMM_EFFICIENCY): mainline's CPU MUL_MAT_ID runs its K-quant dot products row by
row. Read after the fact by a research helper (the session's notes); no validate record (the
runs used four GPUs)."""

LLAMACPP_PROMPT_GEMM_EFFICIENCY = sorted(p[3] for p in LLAMACPP_PROMPT_GEMM_POINTS)[
    len(LLAMACPP_PROMPT_GEMM_POINTS) // 2
]
"""The median of LLAMACPP_PROMPT_GEMM_POINTS (0.106): llama.cpp's CPU prompt GEMMs."""


def cpu_int8_ops_per_s(
    host: Host, matrix_units: bool, threads: float, avx512_gain: float = VECTOR_WIDTH_GAIN
) -> float:
    """Int8 dot-product rate of `threads` cores (one thread a core, offload_engines.cpu_threads)
    for quantized expert GEMMs (llama.cpp and ktransformers quantize activations to int8 and use
    integer dot products). `matrix_units`: the engine uses AMX tiles (ktransformers prefill);
    decode matvecs never do. `avx512_gain`: the engine's 512-bit kernels over its AVX2 ones
    (VECTOR_WIDTH_GAIN unless measured, IQK_AVX512_GAIN)."""
    if matrix_units and host.has_amx:
        per_core = AMX_INT8_OPS_PER_CORE
    elif "avx512" in host.isa:
        per_core = AVX2_INT8_OPS_PER_CORE * avx512_gain
    else:
        per_core = AVX2_INT8_OPS_PER_CORE
    return threads * per_core
