"""Expert-offload engine profiles (llama.cpp, ktransformers): the few terms that separate the
offload roofline from what each engine reaches, each with where it comes from.

Fitted terms (host_bw_efficiency; ktransformers' numa_extra_socket_gain) are set by rule 3 of
``moeplan/data/offload_measurements.yaml``: the grid point of least median |error| over every
published decode run of the engine (plan/offload_refit.py); `moeplan validate` reports each
run's leave-one-out error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from moeplan.errors import UnknownNameError
from moeplan.hardware.hosts import Host
from moeplan.memory.estimate import CUDA_CONTEXT_BYTES
from moeplan.perf.cpu_int8 import (
    IQK_AVX512_GAIN,
    KTRANSFORMERS_GEMM_EFFICIENCY,
    LLAMACPP_PROMPT_GEMM_EFFICIENCY,
    VECTOR_WIDTH_GAIN,
)
from moeplan.perf.engines import ENGINES, EngineProfile
from moeplan.perf.llamacpp_sampler import SamplerSettings
from moeplan.perf.offload_kt_gpu import (
    KT_MARLIN_FORMAT,
    KT_MARLIN_SOURCE,
    KT_SERVER_CACHE_SOURCE,
    KT_V02_EXCEPTIONS_SOURCE,
    KT_V02_GPU_FORMATS,
)
from moeplan.perf.offload_link import ONE_CORE_READ_GBPS, ONE_CORE_READ_SOURCE
from moeplan.perf.offload_prefill import (
    KT_SGLANG_LAYERWISE_SOURCE,
    KTRANSFORMERS_PREFILL_SOURCE,
    LLAMACPP_OP_OFFLOAD_SOURCE,
)
from moeplan.perf.offload_sources import (
    KT_KERNEL_NUMA_SOURCE,
    KT_USE_NUMA_SOURCE,
    LLAMACPP_DEFAULT_THREADS_SOURCE,
)

GIB = 1 << 30


@dataclass(frozen=True)
class OffloadProfile:
    id: str
    description: str
    gpu_engine: EngineProfile  # GPU side: bandwidth/compute efficiency, kernel and step overheads
    host_bw_efficiency: float  # of one socket's achievable read bandwidth, expert matvecs
    numa_extra_socket_gain: float  # share of each further socket's bandwidth that adds
    numa_replicates_experts: bool  # a copy of the host experts on every socket
    numa_local_reads: bool  # each socket's threads read experts from their own node's memory
    cpu_compute_efficiency: float  # of the int8 peak, expert GEMMs in prefill
    matrix_units: bool  # uses AMX tiles for prefill GEMMs where the host has them
    pcie_efficiency: float  # of the link, streaming expert weights to the GPU
    stream_min_batch: int | None  # tokens a pass from which host experts go to the GPU; None: never
    ubatch_tokens: int  # tokens per prefill forward pass (llama.cpp -ub, ktransformers chunk)
    gpu_margin_bytes: int  # VRAM left free when choosing K itself (--fit); none for a given K
    gpu_process_bytes: int = CUDA_CONTEXT_BYTES  # CUDA context etc. beyond the sized buffers
    # GB/s one core reads from DRAM on its own (published); a decode thread reaches
    # host_bw_efficiency of it, as the threads together do of the socket; None: no per-thread cap
    core_read_gbps: float | None = None
    llamacpp_matvec_rates: bool = False  # decode bound by llama.cpp's per-core matvec rates too
    # a further socket adds numa_extra_socket_gain of its cores' int8 compute, as of its reads
    numa_gain_bounds_compute: bool = False
    # its 512-bit int8 kernels over its AVX2 ones on an AVX-512 host without AMX tiles in use
    avx512_int8_gain: float = VECTOR_WIDTH_GAIN
    prompt_gemm_measured: float | None = None  # prompt GEMMs alone, where measured
    overlaps_shared_experts: bool = False  # GPU shared experts run while the CPU does the routed
    input_embedding_on_host: bool = False  # the token-embedding table stays in RAM
    swa_cache_holds_ubatch: bool = False  # sliding-window layers cache window + ubatch cells
    swa_full: bool = False  # llama.cpp --swa-full: sliding-window layers cache every cell
    reserves_ubatch_logits: bool = False  # compute buffer sized for logits of a whole ubatch
    casts_f32_kq_mask: bool = False  # an F32 KQ mask copied to the GPU and cast to F16 there
    mla_decode_kv_splits: int | None = None  # fixed KV splits of the MLA decode kernel's grid
    eager_split_s: float = 0.0  # GPU time per host MoE layer when splits launch without graphs
    split_graph_vendors: tuple[str, ...] = ()  # vendors (lower case) whose splits replay as graphs
    skips_efficiency_cores: bool = False  # default threads: the P-cores of a hybrid CPU only
    gpu_formats: tuple[tuple[str, str], ...] = ()  # (group, format): what it re-quantizes on load
    kv_cache_tokens: int | None = None  # a static KV cache of this many tokens (server cache_lens)
    streams_used_experts: bool = False  # a streamed pass copies only the experts it routes to
    maps_weights: bool = False  # host experts in the mmap'd file: streamed from pageable memory
    sampler: SamplerSettings | None = None  # CPU sampler per token (perf/llamacpp_sampler.py)
    sources: tuple[str, ...] = ()
    fitted_on: tuple[str, ...] = ()

    @property
    def prompt_gemm_efficiency(self) -> float:
        """Of the int8 peak, the CPU's expert GEMMs in prompt passes."""
        return self.prompt_gemm_measured or self.cpu_compute_efficiency


LLAMACPP_GPU_PROCESS_BYTES = 512 * (1 << 20)
"""GPU memory a llama.cpp CUDA process holds beyond the model, KV and compute buffers it logs: the
CUDA context, cuBLAS handles and their workspace (4 MiB each, ggml-org/ggml@ee401c8b) and ggml's
CUDA memory pool at its steady high-water mark. Published exit tables (llama.cpp's "unaccounted"
column, PR 15860: total - free - logged buffers) on headless Linux give 451/456/456 MiB a GPU (3 x
RTX 4090, PR 15860, 2025-09-07) and 252-255 MiB (4 x RTX 3080 20GB, llama-server b7522,
TkskKurumi/llama-server-benchmarks memory logs of GLM-4.6 and Qwen3-VL-235B); before any buffer a
CUDA context alone takes 264-344 MiB on RTX 3090s (ollama/ollama issue 17482 and llama.cpp fit
logs); ollama reserves 457 MiB a CUDA GPU for the same (ml/device.go MinimumMemory, commit
30a7d7096, 2024-05-10, "under stress scenarios we're seeing OOMs"). 512 MiB covers that range.
Not in it: what other processes hold (a desktop on the card: ~0.5-1.5 GiB, Windows more), and
pool growth of a few GiB seen with MLA + flash attention + a quantized KV cache (the same logs'
DeepSeek-V3.1 run: 2.3 GiB) - llama.cpp's own --fit leaves 1024 MiB (gpu_margin_bytes) for what
it does not measure. Replaces the 1 GiB vLLM/Hopper figure (memory/estimate.py CUDA_CONTEXT_BYTES)
for this engine."""


LLAMACPP_OP_OFFLOAD_MIN_BATCH = 32
"""GGML_OP_OFFLOAD_MIN_BATCH's default: the CUDA backend takes an op whose weights sit in host
memory from 32 tokens of batch (LLAMACPP_OP_OFFLOAD_SOURCE, ggml-cuda.cu line 5510)."""

PCIE_COPY_EFFICIENCY = 0.8
"""Pinned host-to-device copies reach about 80% of a PCIe link's 128b/130b rate (packet headers
and flow control); a named assumption, not fitted."""

EAGER_SPLIT_S = 72.3e-6
"""GPU time one host MoE layer adds when llama.cpp launches the kernels of its graph splits one by
one instead of replaying a CUDA graph per split. Each host MoE layer cuts the GPU graph twice (GPU
-> CPU experts -> GPU); after the CPU part the GPU queue is empty, so every kernel of the next GPU
split waits for its launch. Measured, not fitted: ggml-org/llama.cpp PR 18934 (am17an, 2026-01-19,
'ggml-cuda: enable cuda-graphs for n-cpu-moe', a CUDA graph per split keyed by its first node;
before it 'cuda graphs get disabled when there are splits') lists tg128 of GLM-4.5-Air IQ4_XS
(46 layers, the first dense) at --n-cpu-moe 8/16/32/64 without/with per-split graphs: 60.84/63.12,
48.25/50.75, 32.84/35.03, 25.08/27.49 tok/s, i.e. 0.59, 1.02, 1.90, 3.50 ms a token more without
graphs over 7, 15, 31, 45 host MoE layers; least squares through the origin: 72.3 us a layer
(NVIDIA RTX 4090/5090 on Linux). Charged where the splits run without graphs: llama.cpp builds
before that PR, NVIDIA GPUs below Ampere before PR 25749 (opened 2026-07-16: graphs were gated to
Ampere and newer), and AMD/HIP, whose graphs are off by default (GGML_HIP_GRAPHS)."""


def compute_threads(host: Host, engine: OffloadProfile) -> float:
    """Threads' worth of int8 compute the engine gets from the host's cores (cpu_threads): where
    numa_gain_bounds_compute, one socket's threads plus numa_extra_socket_gain of them for each
    further socket, as for its reads (offload_host_read.host_bandwidth_reached): the engine
    splits every expert's work over the sockets and waits on the slower. ktransformers' own
    prompt figures: 54.21 tok/s on one Xeon Gold 6454S socket, 74.36 on two (V0.2,
    doc/en/DeepseekR1_V3_tutorial.md), a second socket adding 0.37 of the first; the decode fit's
    0.40 within 3%."""
    threads = cpu_threads(host, engine)
    if not engine.numa_gain_bounds_compute or host.sockets <= 1:
        return float(threads)
    return threads / host.sockets * (1.0 + (host.sockets - 1) * engine.numa_extra_socket_gain)


def cpu_threads(host: Host, engine: OffloadProfile) -> int:
    """Cores the engine's CPU expert kernels run on, one thread each: on a hybrid CPU llama.cpp's
    default (LLAMACPP_DEFAULT_THREADS_SOURCE) is its P-cores, half of them on x86 P-cores without
    SMT; a host file or --host-cores gives the cores that run; otherwise every core."""
    if engine.skips_efficiency_cores and host.performance_cores:
        smt = host.p_core_smt or "avx2" not in host.isa
        return (host.performance_cores if smt else -(-host.performance_cores // 2)) * host.sockets
    return host.cores


# What was checked for the host decode term and deliberately not priced: perf/cpu_matvec.py.
OFFLOAD_ENGINES: dict[str, OffloadProfile] = {
    p.id: p
    for p in (
        OffloadProfile(
            "llamacpp",
            "llama.cpp with -ngl 99 and --n-cpu-moe / -ot exps=CPU: attention, shared weights and "
            "KV on the GPU, routed experts of the first K layers in RAM computed by the CPU",
            gpu_engine=ENGINES["llamacpp"],
            host_bw_efficiency=0.60,
            numa_extra_socket_gain=0.0,
            numa_replicates_experts=False,
            numa_local_reads=False,
            cpu_compute_efficiency=KTRANSFORMERS_GEMM_EFFICIENCY,
            prompt_gemm_measured=LLAMACPP_PROMPT_GEMM_EFFICIENCY,
            matrix_units=False,
            pcie_efficiency=PCIE_COPY_EFFICIENCY,
            stream_min_batch=LLAMACPP_OP_OFFLOAD_MIN_BATCH,
            streams_used_experts=True,
            maps_weights=True,
            ubatch_tokens=512,
            gpu_margin_bytes=1024 * (1 << 20),
            gpu_process_bytes=LLAMACPP_GPU_PROCESS_BYTES,
            input_embedding_on_host=True,
            swa_cache_holds_ubatch=True,
            reserves_ubatch_logits=True,
            casts_f32_kq_mask=True,
            eager_split_s=EAGER_SPLIT_S,
            split_graph_vendors=("nvidia",),
            skips_efficiency_cores=True,
            llamacpp_matvec_rates=True,
            sampler=SamplerSettings(),
            sources=(
                "gpu_engine.vec_fa_quantized_kv: at batch 1 a quantized K/V cache (-ctk/-ctv "
                "q8_0, q4_0) runs CUDA's vector FA kernel, one query head a block, so each "
                "layer's K/V is read "
                "heads / KV heads times (perf/llamacpp_fattn.py: fattn.cu kernel selection, "
                "fattn-vec.cuh; checked on published Qwen3-235B and 27B depth sweeps)",
                "sampler: llama-server / llama-cli sample each token on one CPU thread, serial "
                "with decode (perf/llamacpp_sampler.py; defaults common.h top-k 40, top-p 0.95, "
                "min-p 0.05; CLI --top-k/--top-p/--min-p/--sampler-era, --no-sampler for "
                "llama-bench, record field sampler)",
                "ggml-org/llama.cpp PR 15077 (--n-cpu-moe N keeps the MoE weights of the first N "
                "layers on the CPU; --cpu-moe all of them)",
                "prompt passes (op offload, on by default; --no-op-offload: record field "
                "op_offload: false, CLI --no-op-offload): a ubatch of 32 tokens or more runs the "
                "host experts on the GPU, copying the experts it routes to over PCIe, serial "
                f"with the compute; {LLAMACPP_OP_OFFLOAD_SOURCE}",
                "ggml-org/llama.cpp common: n_ubatch default 512 (-ub; record field "
                "ubatch_tokens, CLI --ubatch)",
                "ggml-org/llama.cpp src/llama-model.cpp: 'there is very little benefit to "
                "offloading the input layer, so always keep it on the CPU' (token embedding in "
                "RAM)",
                "ggml-org/llama.cpp issue 18390: --fit-target 'target margin per device for --fit "
                "option, default: 1024' MiB (applied when moeplan picks K, not to a given K)",
                "ggml-org/llama.cpp src/llama-kv-cache-iswa.cpp: the SWA cache holds "
                "GGML_PAD(min(n_ctx, n_swa*n_seq + n_ubatch), 256) cells unless --swa-full",
                "ggml-org/llama.cpp src/llama-context.cpp: the worst-case prompt graph is reserved "
                "with graph_reserve(n_tokens, n_seqs, n_tokens): logits of a whole ubatch",
                "numa_extra_socket_gain 0: one copy of each expert; threads on the far socket "
                "read it across the socket link (not fitted: no dual-socket llama.cpp record "
                "with stated flags was found)",
                "cpu_compute_efficiency (decode): ktransformers'; prompt GEMMs: cpu_int8.py",
                "eager_split_s: ggml-org/llama.cpp PR 18934, 72.3 us a host MoE layer without "
                "per-split CUDA graphs (EAGER_SPLIT_S); split_graph_vendors: per-split graphs on "
                "NVIDIA since that PR (2026-01-19), none on AMD/HIP (GGML_HIP_GRAPHS off by "
                "default); records from older builds or pre-Ampere NVIDIA before PR 25749 say "
                "split_graphs: false",
                f"skips_efficiency_cores: {LLAMACPP_DEFAULT_THREADS_SOURCE}",
                "llamacpp_matvec_rates: decode also takes at least the experts' bytes over the "
                "threads' per-core dequantize + dot rates of their block types "
                "(perf/cpu_matvec.py: mainline llama.cpp tg128 at 2 threads on a Ryzen 9 7950X, "
                "ikawrakow/ik_llama.cpp discussion 164; AVX2-only cores x0.62 from llama.cpp PR "
                "23309; MXFP4 7.0 GB/s a thread on any x86 core, its AVX2-only kernel measured)",
                "host_bw_efficiency of the host's achievable read bandwidth (hosts.py "
                "read_bw_bytes_per_s): rule 3 (offload_measurements.yaml header), the grid point "
                "of least median |error| over every one-socket llama.cpp decode run in the record "
                "files (plan/offload_refit.py; 0.01 grid): 0.60 over 115 runs once runs of a "
                "published file size read the mix that size gives (file_gib; "
                "offload_measurements.yaml header), 0.60 with the seventh "
                "collection pass (offload_runs_collect7.yaml), 0.62 over 99 with the sixth "
                "(offload_runs_collect6.yaml, the Qwen3.5/3.6 runs), 0.63 over 80 before them; "
                "0.63 over 61 runs with the third "
                "collection pass (offload_runs_collect3.yaml); 0.64 over 55 once the i5-12600K "
                "box's runs read its RAM at the 2000 MT/s its post's update names; 0.65 since the "
                "CPU sampler is priced (perf/llamacpp_sampler.py: llama-server runs take ~0.1-0.2 "
                "ms a token longer, llama-bench runs none), 0.63 before it (0.69 while Raptor Lake"
                " read 0.82 of theoretical, an all-core memcpy, not a read). 0.80 while its one "
                "fitting record was the i9-14900K gpt-oss-120b run (RAM speed not stated); 0.63 "
                "under rule 3's first estimator (the median implied value). Not fitted, a ceiling "
                "for comparison: dense CPU-only decode reaches 0.75 of theoretical "
                "(ggml-org/llama.cpp issue 19480: Ryzen AI 9 HX PRO 370, DDR5-5600 dual channel; "
                "Qwen2.5-Coder-32B Q4_K_M, 19 GB, 3.54 tok/s = 67 GB/s), and CPU-only MoE decode "
                "reads its active experts at the dense rate "
                "(inventivehq.com/blog/moe-on-cpu-benchmark, i7-8700: Qwen3-30B-A3B Q4_K_M 21.3 "
                "GB/s vs dense 1.5-8B Q4_K_M 20.7-22.9 GB/s)",
            ),
        ),
        OffloadProfile(
            "ktransformers",
            "ktransformers (kvcache-ai) 0.4+, kt-kernel with SGLang (from Oct 2025): "
            "MLA/attention and KV on the GPU, routed experts on the CPU with its own AVX-512/AMX "
            "kernels; one thread pool per NUMA node (--kt-threadpool-count), each holding a "
            "slice of every expert: one copy in RAM",
            gpu_engine=replace(ENGINES["llamacpp"], vec_fa_quantized_kv=False),  # its own attention
            host_bw_efficiency=0.54,
            numa_extra_socket_gain=0.40,
            numa_gain_bounds_compute=True,
            numa_replicates_experts=False,
            numa_local_reads=True,
            cpu_compute_efficiency=KTRANSFORMERS_GEMM_EFFICIENCY,
            matrix_units=True,
            pcie_efficiency=PCIE_COPY_EFFICIENCY,
            stream_min_batch=None,
            ubatch_tokens=8192,
            gpu_margin_bytes=1024 * (1 << 20),
            overlaps_shared_experts=True,
            mla_decode_kv_splits=4,
            core_read_gbps=ONE_CORE_READ_GBPS,
            sources=(
                "sampler None: kvcache-ai/ktransformers@038bc308 ktransformers/util/utils.py "
                "prefill_and_generate samples with torch (softmax, torch.multinomial / argmax) on "
                "the GPU logits tensor: no CPU sampler term",
                "kvcache-ai/ktransformers doc/en/DeepseekR1_V3_tutorial.md: experts on the CPU, "
                "MLA/KV on the GPU; chunk_prefill_size default 8192",
                KT_KERNEL_NUMA_SOURCE,
                "kvcache-ai/ktransformers 'Qwen 3 + KTransformers 0.3 (+AMX)': AMX for prefill "
                "when an expert gets more than 4 tokens, AVX-512 for decode",
                "GPU side: llama.cpp's GPU profile (not fitted separately)",
                "prompt passes: the routed experts in RAM are computed by the CPU (V0.2/V0.3 "
                f"never stream them: {KTRANSFORMERS_PREFILL_SOURCE}); kt-kernel + SGLang streams "
                "every expert of a layer to the GPU when a chunk reaches "
                "--kt-gpu-prefill-token-threshold (record field kt_gpu_prefill_token_threshold, "
                f"CLI --kt-gpu-prefill-threshold; unset by default): {KT_SGLANG_LAYERWISE_SOURCE}",
                "kvcache-ai/ktransformers ktransformers/operators/experts.py, "
                "KDeepseekV3MoE.forward: decode submits the routed experts to the CPU, runs the "
                "shared experts on the GPU, then syncs (the two overlap)",
                "kvcache-ai/ktransformers ktransformers/operators/attention.py "
                "forward_linux_triton: MLA decode runs decode_attention_fwd_grouped with "
                "num_kv_splits 4 ('follow vLLM, fix it TODO'); triton_attention.py: BLOCK_H = 16, "
                "grid (batch, cdiv(heads, 16), NUM_KV_SPLITS)",
                f"core_read_gbps {ONE_CORE_READ_GBPS}: {ONE_CORE_READ_SOURCE}; a decode thread "
                "reads at most host_bw_efficiency of it, the fraction of the hardware's read its "
                "kernels reach on the whole socket (perf/offload_host_read.py "
                "thread_read_bytes_per_s: one core's bandwidth is its misses in flight over the "
                "loaded latency, J. McCalpin 2025-02-17). Binds on few threads over many "
                "channels: 16 threads of an EPYC 9355 (12 x DDR5-6000), 30 of 2 x EPYC 9135. Until "
                "2026-12-06 the per-thread rate was fitted with the efficiency (11 GB/s at 0.54); "
                "out of sample by publication the fit did not carry: without issue 1914's EPYC "
                "9355 rows it refit to no ceiling and those rows +40..+67%",
                "host_bw_efficiency 0.54 of the host's achievable read bandwidth (and of one "
                "core's, core_read_gbps), then numa_extra_socket_gain 0.40 "
                "(of a further socket's): rule 3 "
                "(offload_measurements.yaml header), the grid points of least median |error| over "
                "every one-socket and every multi-socket ktransformers decode run in the record "
                "files (plan/offload_refit.py; 0.01 grids, the gain's 0.1 until the third "
                "collection pass; 29 and 31 runs; ktransformers, -v03 and -v02 together): out of "
                "sample, each run's publication left out, 12.1% over 60 runs (16.5% while a "
                "per-thread rate was fitted with the efficiency, 11 GB/s at 0.54, whose "
                "leave-one-out figure was 9.8%); 0.52 and 0.46 (10.1% over 58) before "
                "the eighth collection pass (offload_runs_collect8.yaml); 0.45 and 0.66 without a "
                "per-thread "
                "ceiling (20.0%: a least-median fit on 28 runs bimodal, its one-socket runs near "
                "-12% on many threads and +25% on few threads over many channels), once "
                "the DeepSeek-R1 UD-Q2_K_XL runs read Q2_K experts with Q4_K_M's types elsewhere "
                "(its published 211.03 GiB, file_gib); 0.50 and 0.50 before (a least-median fit "
                "on 28 runs: 14.6% at 0.45, 16.4% at 0.50, 15.6% at 0.59). 0.52 "
                "and 0.46 over 26 and 29 before the fourth collection pass "
                "(offload_runs_collect4.yaml); 0.54 over 25 and 23 before the third "
                "(offload_runs_collect3.yaml). "
                "Before: 0.50 and 0.5 while the doc's V0.2 single- and dual-socket rows were the "
                "only fitting records; 0.50 and 0.6 once offload_runs_kt.yaml's three hash-split "
                "fitting dual-socket runs joined them (the gain refit over four) and under rule "
                "3's first estimator (the median implied value)",
            ),
        ),
    )
}


OFFLOAD_ENGINES["ktransformers-v03"] = replace(
    OFFLOAD_ENGINES["ktransformers"],
    id="ktransformers-v03",
    description="ktransformers V0.2.2-V0.3.x (local_chat / balance_serve, before kt-kernel): as "
    "ktransformers, but a USE_NUMA build copies the host experts on every socket",
    numa_replicates_experts=True,
    avx512_int8_gain=IQK_AVX512_GAIN,
    sources=(  # its NUMA layout's source in place of kt-kernel's
        *(
            KT_USE_NUMA_SOURCE if s == KT_KERNEL_NUMA_SOURCE else s
            for s in OFFLOAD_ENGINES["ktransformers"].sources
        ),
        f"avx512_int8_gain {IQK_AVX512_GAIN}: its llamafile backend's iqk_mul_mat kernels "
        "(perf/cpu_int8.py IQK_AVX512_GAIN), on AVX-512 hosts without AMX in use",
    ),
)
"""V0.x ktransformers: ktransformers' decode and prompt terms, the RAM of a copy per socket."""

OFFLOAD_ENGINES["ktransformers-v02"] = replace(
    OFFLOAD_ENGINES["ktransformers-v03"],
    id="ktransformers-v02",
    description="ktransformers V0.2/V0.2.1 (Feb 2025): as ktransformers-v03, but prompt GEMMs on "
    "the CPU run llamafile's AVX-512 kernels (the AMX MoE kernel came with V0.3), and every GPU "
    "linear but MLA's kv_b_proj is re-quantized to Marlin int4 (FP32 scales per 64) on load",
    matrix_units=False,
    gpu_formats=KT_V02_GPU_FORMATS,
    input_embedding_on_host=True,
    sources=(
        *OFFLOAD_ENGINES["ktransformers-v03"].sources,
        f"gpu_formats (attention, dense, shared and GPU routed experts, lm_head: "
        f"{KT_MARLIN_FORMAT}): {KT_MARLIN_SOURCE}",
        f"gpu_formats (kv_b_proj bf16, router fp32), input_embedding_on_host: "
        f"{KT_V02_EXCEPTIONS_SOURCE}",
        f"KV cache: {KT_SERVER_CACHE_SOURCE}",
        "kvcache-ai/ktransformers doc/en/DeepseekR1_V3_tutorial.md: prefill '54.21 (32 cores) -> "
        "74.362 (dual-socket) -> 255.26 (optimized AMX-based MoE kernel, V0.3 only)'",
    ),
)
"""The ktransformers profile without AMX tiles: decode is unchanged (matvecs never use them)."""


def resolve_offload_engine(name: str | None) -> OffloadProfile:
    key = (name or "llamacpp").strip().lower()
    key = {
        "llama.cpp": "llamacpp",
        "llama-cpp": "llamacpp",
        "ktrans": "ktransformers",
        "ktransformers-v0.2": "ktransformers-v02",
        "ktransformers-v0.3": "ktransformers-v03",
        "kt-kernel": "ktransformers",
    }.get(key, key)
    if key not in OFFLOAD_ENGINES:
        raise UnknownNameError("offload engine", name or "", list(OFFLOAD_ENGINES))
    return OFFLOAD_ENGINES[key]
