"""Expert offload on one GPU plus host RAM (llama.cpp --n-cpu-moe / -ot exps=CPU, ktransformers):
where the bytes go, whether they fit, and decode / prompt tokens/s.

The routed-expert tensors of layers 0..K-1 live in host RAM and are computed by the CPU (llama.cpp
counts every layer, so dense-first layers use up K without moving experts); everything else -
attention, dense and shared weights, the other layers' experts, KV cache, compute buffers - is on
the GPU. A decode step is the GPU's roofline step (perf/phases.py) over the GPU-resident part plus
the host's part: the experts the batch touches read from DRAM at the bandwidth reached, or the
CPU's int8 dot-product rate, whichever is slower. Prompts run the host experts where the engine
runs them (perf/offload_prefill.py): llama.cpp copies the experts a ubatch uses to the GPU from
32 tokens a ubatch, ktransformers computes them on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import GPU
from moeplan.hardware.hosts import Host, pcie_bytes_per_s
from moeplan.memory.cache import decode_kv_read_bytes_per_sequence, require_cache_type_of
from moeplan.memory.estimate import (
    weights_bytes_by_component,
)
from moeplan.memory.quant import QuantScheme, routed_expert_type_shares, weight_format
from moeplan.model.params import count_params
from moeplan.model.specs import ModelSpec
from moeplan.perf.cpu_int8 import cpu_int8_ops_per_s
from moeplan.perf.cpu_matvec import matvec_core_s
from moeplan.perf.kernel_counts import linear_attention_note
from moeplan.perf.latency import make_setup
from moeplan.perf.llamacpp_sampler import sampler_s_per_token
from moeplan.perf.offload_engines import OffloadProfile, compute_threads, cpu_threads
from moeplan.perf.offload_flags import positive_tokens
from moeplan.perf.offload_formats import require_loadable
from moeplan.perf.offload_host_read import host_bandwidth_reached, thread_read_bytes_per_s
from moeplan.perf.offload_link import expert_stream_bytes_per_s, host_link_bytes_per_s
from moeplan.perf.offload_mla import mla_decode_kernel_s
from moeplan.perf.offload_placement import (
    Placement,
    auto_n_cpu_moe,
    fit_reason,
    gpu_side_scheme,
    place,
    placement_notes,
)
from moeplan.perf.offload_prefill import prefill_time
from moeplan.perf.parallel import Layout
from moeplan.perf.phases import Phase, Setup, decode_step
from moeplan.perf.terms import expected_experts_touched

GIB = 1 << 30

DEFAULT_DISK_BYTES_PER_S = pcie_bytes_per_s(4, 4)
"""When RAM is short, llama.cpp's mmap reads the missing experts from disk on every use: the
default disk is a PCIe 4.0 x4 NVMe drive at its link ceiling, 7.9 GB/s (pass --disk-gbps)."""

HOST_SIDE_MOE_KERNELS = 5
"""Of the KERNELS_PER_MOE_FFN GPU kernels of a routed-MoE block (perf/engines.py), those that move
to the CPU with the experts: block alignment (2), gate_up GEMM, activation, down GEMM. The norm,
router, top-k and combine stay on the GPU."""

MODES = ("none", "experts", "auto")


@dataclass(frozen=True)
class OffloadSpeed:
    decode: Phase  # GPU side of one decode step
    host_decode_s: float  # host side of one decode step
    decode_bound: str
    prefill_s: float
    prefill_path: str  # "cpu", "stream" or "mixed" (perf/offload_prefill.py)
    prefill_alternative_s: float | None
    disk_s: float  # per decode step when RAM is short (mmap from disk), else 0
    attention_kernel_s: float = 0.0  # MLA decode kernel time beyond its KV read (few CTAs)
    sampler_s: float = 0.0  # llama.cpp's CPU sampler, every sequence of the batch, serial

    @property
    def fa_reread_s(self) -> float:
        """Of the GPU step: llama.cpp's vector FA re-reading a quantized cache a query head."""
        return self.decode.fa_reread_s

    @property
    def gpu_step_s(self) -> float:
        return self.decode.total_s + self.attention_kernel_s

    @property
    def decode_step_s(self) -> float:
        return self.gpu_step_s + self.host_decode_s + self.disk_s + self.sampler_s


@dataclass(frozen=True)
class OffloadReport:
    spec: ModelSpec
    scheme: QuantScheme
    gpu: GPU
    host: Host
    engine: OffloadProfile
    mode: str
    batch: int
    input_len: int
    output_len: int
    placement: Placement
    speed: OffloadSpeed | None
    host_bw_bytes_per_s: float  # reached by expert matvecs
    pcie_bytes_per_s: float
    reason: str
    notes: tuple[str, ...] = ()
    faster_ubatch: OffloadReport | None = None  # the same run at a larger -ub (offload_ubatch.py)

    @property
    def fits(self) -> bool:
        return self.placement.fits

    @property
    def decode_tok_s(self) -> float | None:
        """Tokens/s of one sequence (every sequence of the batch advances one token a step)."""
        return 1.0 / self.speed.decode_step_s if self.speed else None

    @property
    def prefill_tok_s(self) -> float | None:
        return self.batch * self.input_len / self.speed.prefill_s if self.speed else None


def _gpu_setup(
    spec: ModelSpec,
    scheme: QuantScheme,
    gpu: GPU,
    engine: OffloadProfile,
    kv_quant: str,
    gpu_moe_fraction: float,
) -> Setup:
    """The GPU's roofline setup with only the GPU-resident share of the routed experts."""
    setup = make_setup(spec, scheme, gpu, Layout(), engine.gpu_engine, kv_quant=kv_quant)
    split = replace(
        setup.split,
        expert_bytes=setup.split.expert_bytes * gpu_moe_fraction,
        expert_params=setup.split.expert_params * gpu_moe_fraction,
    )
    return replace(setup, split=split, gpu_moe_fraction=gpu_moe_fraction)


def _shared_bytes(spec: ModelSpec, scheme: QuantScheme) -> int:
    """Bytes of all shared experts (read every decode step)."""
    return weights_bytes_by_component(spec, scheme, count_params(spec))["shared_experts"]


def routed_expert_byte_shares(spec: ModelSpec, scheme: QuantScheme) -> dict[str, float]:
    """Share of the routed experts' bytes in each block type (memory/quant.py
    routed_expert_type_shares, each type weighted by its bits)."""
    shares = routed_expert_type_shares(scheme, spec, count_params(spec))
    bits = {t: s * weight_format(t).bits_per_weight for t, s in shares.items()}
    total = sum(bits.values())
    return {t: b / total for t, b in bits.items()}


def _host_expert_work(
    spec: ModelSpec, setup: Setup, host_layers: int, tokens: float
) -> tuple[float, float]:
    """Bytes of host experts `tokens` tokens touch and the int8 ops they need."""
    if spec.moe is None or host_layers == 0:
        return 0.0, 0.0
    touched = expected_experts_touched(spec.moe.num_experts, spec.moe.top_k, tokens)
    bytes_ = host_layers * touched * setup.split.expert_bytes
    ops = 2 * setup.split.expert_params * spec.moe.top_k * tokens * host_layers
    return bytes_, ops


def offload_speed(
    spec: ModelSpec,
    scheme: QuantScheme,
    gpu: GPU,
    host: Host,
    engine: OffloadProfile,
    placement: Placement,
    batch: int,
    input_len: int,
    output_len: int,
    kv_quant: str = "bf16",
    pcie_bytes: float | None = None,
    disk_bytes_per_s: float = DEFAULT_DISK_BYTES_PER_S,
) -> tuple[OffloadSpeed, float]:
    """Decode step and prompt time; also returns the host bandwidth reached."""
    n_moe = spec.num_moe_layers
    host_layers = placement.host_moe_layers
    gpu_fraction = (n_moe - host_layers) / n_moe if n_moe else 1.0
    setup = _gpu_setup(spec, gpu_side_scheme(scheme, engine), gpu, engine, kv_quant, gpu_fraction)
    full = make_setup(spec, scheme, gpu, Layout(), engine.gpu_engine, kv_quant=kv_quant)
    host_bw = host_bandwidth_reached(host, engine)
    link = (pcie_bytes or host_link_bytes_per_s(gpu)[0]) * engine.pcie_efficiency
    stream_link = expert_stream_bytes_per_s(link, engine.maps_weights, host.core_read_bytes_per_s)
    # decode: GPU step + host experts (DRAM or CPU bound) + the hidden state crossing PCIe
    mean_context = input_len + output_len // 2
    gpu_step = decode_step(setup, batch, mean_context)
    per_kernel = engine.gpu_engine.kernel_overhead_for(gpu.vendor)
    gpu_step.overhead_s -= host_layers * HOST_SIDE_MOE_KERNELS * per_kernel
    if gpu.vendor.lower() not in engine.split_graph_vendors:
        # each host MoE layer's GPU split launched kernel by kernel (no CUDA graph)
        gpu_step.overhead_s += host_layers * engine.eager_split_s
    bytes_, ops = _host_expert_work(spec, full, host_layers, batch)
    thread_bw = thread_read_bytes_per_s(host, engine)
    t_mem = bytes_ / host_bw
    t_threads = bytes_ / thread_bw if thread_bw else 0.0  # the threads' own read ceiling
    threads = cpu_threads(host, engine)
    compute = compute_threads(host, engine)
    int8_ops = cpu_int8_ops_per_s(host, False, compute, engine.avx512_int8_gain)
    t_cpu = ops / (int8_ops * engine.cpu_compute_efficiency)
    t_core = 0.0
    if engine.llamacpp_matvec_rates and bytes_ and spec.moe is not None:
        # ggml's CPU MUL_MAT_ID runs one vec_dot per (weight row, routed token): each token an
        # expert takes unpacks its bytes again, so the work is top_k x batch experts' bytes, not
        # the distinct experts read from DRAM (with rates measured streaming from DRAM at batch 1,
        # an upper bound on the time: the repeats hit the cache)
        touched = expected_experts_touched(spec.moe.num_experts, spec.moe.top_k, batch)
        unpacked = bytes_ * spec.moe.top_k * batch / touched
        shares = routed_expert_byte_shares(spec, scheme)
        t_core = matvec_core_s({t: unpacked * f for t, f in shares.items()}, host, threads)
    t_cpu = max(t_cpu, t_core)
    hops = 2 * host_layers * batch * spec.hidden_size * 2 / link
    t_read = max(t_mem, t_threads)
    host_s = max(t_read, t_cpu) + hops
    if engine.overlaps_shared_experts and n_moe:
        # the shared experts of the host layers run on the GPU meanwhile: hide that much
        shared = _shared_bytes(spec, scheme) * host_layers / n_moe
        host_s -= min(max(t_read, t_cpu), shared / setup.rates.stream_bw_bytes_per_s)
    disk_s_per_byte = 0.0  # RAM short: the share of host experts mmap pages in from disk
    if not placement.fits_host and placement.host_bytes:
        short = (placement.host_bytes - placement.host_capacity_bytes) / placement.host_bytes
        disk_s_per_byte = min(1.0, short) / disk_bytes_per_s
    disk_s = bytes_ * disk_s_per_byte
    # the MLA decode kernel's few CTAs, beyond the KV read decode_step already costs
    kernel_s = mla_decode_kernel_s(spec, gpu, engine, batch, mean_context)
    kv_read_s = (
        batch
        * decode_kv_read_bytes_per_sequence(spec, mean_context, kv_quant)
        / setup.rates.stream_bw_bytes_per_s
    )
    attention_s = max(0.0, kernel_s - kv_read_s)
    # llama.cpp's CUDA vector FA kernel re-reads a quantized cache once per query head
    fa_s = gpu_step.fa_reread_s  # in its memory time (perf/phases.py)
    # llama-server samples each active sequence in turn on one thread before the next step
    sampler_s = batch * sampler_s_per_token(engine.sampler, spec.vocab_size)
    parts = {
        "GPU memory bandwidth": gpu_step.memory_s - fa_s,
        "GPU MLA decode kernel (fixed grid)": attention_s,
        "GPU FA K/V re-reads (quantized KV, a query head a block)": fa_s,
        "GPU compute": gpu_step.compute_s,
        "GPU kernel/step overhead": gpu_step.overhead_s,
        "host memory bandwidth": t_mem if t_mem >= max(t_cpu, t_threads) else 0.0,
        "host threads' read rate (per-thread ceiling)": t_threads
        if t_threads > max(t_mem, t_cpu)
        else 0.0,
        "host CPU compute"
        + (" (per-core dequantize + dot)" if t_core >= t_cpu > t_read else ""): t_cpu
        if t_cpu > t_read
        else 0.0,
        "disk reads (RAM short, mmap)": disk_s,
        "CPU sampler (llama.cpp, serial)": sampler_s,
    }
    bound = max(parts.items(), key=lambda kv: kv[1])[0]
    # prompt: what the engine does with the host experts, pass by pass (perf/offload_prefill.py)
    cpu_ops = (
        cpu_int8_ops_per_s(host, engine.matrix_units, compute, engine.avx512_int8_gain)
        * engine.prompt_gemm_efficiency
    )

    def cpu_pass_s(tokens: int) -> float:
        u_bytes, u_ops = _host_expert_work(spec, full, host_layers, tokens)
        read_s = max(u_bytes / host_bw, u_bytes / thread_bw if thread_bw else 0.0)
        return max(read_s, u_ops / cpu_ops)

    prompt = prefill_time(
        spec,
        setup,
        full,
        host_layers,
        batch,
        input_len,
        engine.ubatch_tokens,
        engine.stream_min_batch,
        engine.streams_used_experts,
        stream_link,
        cpu_pass_s,
        disk_s_per_byte,
    )
    chosen, path, other = prompt.seconds, prompt.path, prompt.alternative_s
    speed = OffloadSpeed(
        gpu_step, host_s, bound, chosen, path, other, disk_s, attention_s, sampler_s
    )
    return speed, host_bw


def estimate_offload(
    spec: ModelSpec,
    scheme: QuantScheme,
    gpu: GPU,
    host: Host,
    engine: OffloadProfile,
    mode: str = "experts",
    n_cpu_moe: int | None = None,
    batch: int = 1,
    input_len: int = 1024,
    output_len: int = 256,
    kv_quant: str = "bf16",
    pcie: tuple[int, int] | None = None,
    disk_bytes_per_s: float = DEFAULT_DISK_BYTES_PER_S,
    with_speed: bool = True,
    speed_when_over_gpu: bool = False,
    gpu_reserved_bytes: int = 0,
    ctx_size: int | None = None,
) -> OffloadReport:
    """Placement, fit and (with_speed) decode/prompt tokens/s for one GPU plus a host. The speed
    is priced only when the GPU part fits, unless `speed_when_over_gpu` (a published run that
    ran though moeplan sizes it over its GPU: its speed is still a question). `gpu_reserved_bytes`:
    VRAM other processes hold, off the GPU's capacity (offload_placement.require_gpu_reserve).
    `ctx_size`: the context cells a sequence's cache is allocated for (llama.cpp -c at startup,
    whatever the request uses): the GPU's KV cache and buffers, and so the fit and auto's K, are
    sized for it; speed stays priced at input + output. Default: input + output."""
    if mode not in MODES:
        raise MoeplanError(f"--offload must be one of {', '.join(MODES)}, got '{mode}'")
    require_cache_type_of(kv_quant, engine.id)
    require_loadable(engine, scheme)
    if not spec.is_moe:
        raise MoeplanError(f"{spec.name} has no routed experts to offload")
    if batch < 1 or input_len < 1 or output_len < 1:
        raise MoeplanError("batch, input and output lengths must be at least 1")
    host.require_complete()
    context = input_len + output_len
    if ctx_size is not None:
        if positive_tokens("--ctx-size", ctx_size) < context:
            raise MoeplanError(
                f"--ctx-size must be at least the request's {context} tokens (input + output), "
                f"got {ctx_size}"
            )
        context = ctx_size
    if mode == "auto":
        if n_cpu_moe is not None:
            raise MoeplanError("--offload auto finds --n-cpu-moe itself; pass one or the other")
        placement = auto_n_cpu_moe(
            spec, scheme, gpu, host, engine, context, batch, kv_quant, gpu_reserved_bytes
        )
    else:
        k = spec.num_layers if n_cpu_moe is None and mode == "experts" else (n_cpu_moe or 0)
        placement = place(
            spec, scheme, gpu, host, engine, k, context, batch, kv_quant, False, gpu_reserved_bytes
        )
    link, link_desc = host_link_bytes_per_s(gpu, pcie)
    notes = [f"host link {link_desc}: {link / 1e9:.1f} GB/s per direction"]
    notes += placement_notes(
        spec, scheme, gpu, host, engine, placement, mode, n_cpu_moe, context, batch, kv_quant
    )
    notes += [f"host {host.detected}"] if host.detected else []
    if ctx_size is not None:
        notes.append(f"cache allocated for {ctx_size:,} tokens a sequence (--ctx-size); speed at "
                     f"the request's {input_len + output_len:,}")  # fmt: skip
    gdn = linear_attention_note(spec, engine.gpu_engine.kernels)
    notes += [gdn] if gdn else []
    speed, host_bw = None, host_bandwidth_reached(host, engine)
    if with_speed and (placement.fits_gpu or speed_when_over_gpu):
        speed, host_bw = offload_speed(
            spec,
            scheme,
            gpu,
            host,
            engine,
            placement,
            batch,
            input_len,
            output_len,
            kv_quant,
            link,
            disk_bytes_per_s,
        )
        if speed.disk_s:
            notes.append(
                f"RAM short: decode includes {speed.disk_s * 1e3:.1f} ms/token of disk reads at "
                f"{disk_bytes_per_s / 1e9:.1f} GB/s (flagged estimate: mmap page-cache behaviour)"
            )
    return OffloadReport(
        spec,
        scheme,
        gpu,
        host,
        engine,
        mode,
        batch,
        input_len,
        output_len,
        placement,
        speed,
        host_bw,
        link,
        fit_reason(placement, gpu, host),
        tuple(notes),
    )
