"""Where the bytes go under expert offload: the routed experts of layers 0..K-1 in host RAM
(llama.cpp's --n-cpu-moe counts every layer, dense ones too), everything else on the GPU; whether
each side fits, and the smallest K that fits the GPU (llama.cpp --fit)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import GPU
from moeplan.hardware.host_notes import rated_speed_note
from moeplan.hardware.hosts import Host
from moeplan.memory.cache import indexer_key_bytes, kv_dtype_bytes, stored_kv_bytes
from moeplan.memory.estimate import (
    kv_cache_bytes,
    weights_bytes_by_component,
)
from moeplan.memory.quant import QuantScheme, with_formats
from moeplan.model.params import count_params
from moeplan.model.specs import ModelSpec
from moeplan.perf.offload_compute_buffer import compute_buffer_bytes, llamacpp_cache_cells
from moeplan.perf.offload_engines import OffloadProfile

GIB = 1 << 30

HOST_RESERVE_BYTES = 4 * GIB
"""RAM kept for the OS, a desktop session and the engine's own host buffers (tokenizer, pinned
staging, host compute buffers): a named assumption, not fitted."""


@dataclass(frozen=True)
class Placement:
    n_cpu_moe: int  # llama.cpp's K: layers 0..K-1 keep their routed experts in RAM
    host_moe_layers: int  # MoE layers among them
    gpu_weight_bytes: int
    kv_cache_bytes: int
    compute_buffer_bytes: int
    cuda_context_bytes: int
    gpu_capacity_bytes: int  # GPU memory less the engine's free margin and gpu_reserved_bytes
    host_expert_bytes: int  # one copy
    host_bytes: int  # expert copies (one per socket when the engine replicates)
    host_reserve_bytes: int
    host_ram_bytes: int
    gpu_reserved_bytes: int = 0  # VRAM other processes hold (a desktop on the card), user-given

    @property
    def gpu_bytes(self) -> int:
        return (
            self.gpu_weight_bytes
            + self.kv_cache_bytes
            + self.compute_buffer_bytes
            + self.cuda_context_bytes
        )

    @property
    def fits_gpu(self) -> bool:
        return self.gpu_bytes <= self.gpu_capacity_bytes

    @property
    def host_capacity_bytes(self) -> int:
        return max(0, self.host_ram_bytes - self.host_reserve_bytes)

    @property
    def fits_host(self) -> bool:
        return self.host_bytes <= self.host_capacity_bytes

    @property
    def fits(self) -> bool:
        return self.fits_gpu and self.fits_host


def engine_kv_cache_bytes(
    spec: ModelSpec,
    engine: OffloadProfile,
    context: int,
    batch: int,
    ubatch: int,
    kv_quant: str,
) -> int:
    """The KV cache the engine allocates for `batch` sequences of `context` tokens. llama.cpp:
    full-attention layers hold every cell of n_ctx = context x batch, sliding-window layers
    llamacpp_swa_cells (llamacpp_cache_cells; every cell too under --swa-full); otherwise each
    layer holds at most its window (memory/cache.py), over the engine's static cache length
    instead of `context` where it has one (the ktransformers server's --cache_lens,
    perf/offload_kt_gpu.py)."""
    if engine.kv_cache_tokens is not None:
        if engine.kv_cache_tokens < context:
            raise MoeplanError(
                f"--cache-lens {engine.kv_cache_tokens} is below the request's {context} tokens "
                "(input + output): the server's static cache could not hold it"
            )
        context = engine.kv_cache_tokens
    if not engine.swa_cache_holds_ubatch:
        return kv_cache_bytes(spec, context, batch, kv_quant)
    b = kv_dtype_bytes(kv_quant)
    n_ctx = context * batch
    total = 0.0
    for attn, window, n in spec.attention_groups:
        cells = llamacpp_cache_cells(window, n_ctx, batch, ubatch, engine.swa_full)
        total += n * (stored_kv_bytes(attn, b) + indexer_key_bytes(attn.indexer)) * cells
    return math.ceil(total)


def gpu_side_scheme(scheme: QuantScheme, engine: OffloadProfile) -> QuantScheme:
    """The formats of the weights the engine keeps on the GPU: `scheme`, with each group the
    engine re-quantizes on load in its gpu_formats (memory/quant.py with_formats; ktransformers
    V0.2: Marlin int4 for every linear but MLA's kv_b_proj, perf/offload_kt_gpu.py)."""
    return with_formats(scheme, engine.gpu_formats)


def moe_layers_before(spec: ModelSpec, k: int) -> int:
    """MoE layers among layers 0..k-1 (llama.cpp's --n-cpu-moe counts every layer)."""
    return sum(1 for layer in spec.layers[:k] if layer.is_moe)


KT_GPU_EXPERTS_SOURCE = (
    "kvcache-ai/ktransformers@d8046e1b kt-kernel/python/cli/commands/run.py: '--kt-num-gpu-"
    "experts' is printed as 'GPU Experts: N per layer': N of each MoE layer's experts stay on "
    "the GPU, the rest in RAM"
)


def kt_gpu_experts_as_n_cpu_moe(spec: ModelSpec, engine: OffloadProfile, gpu_experts: int) -> int:
    """kt-kernel's --kt-num-gpu-experts N (N of every MoE layer's E experts on the GPU,
    KT_GPU_EXPERTS_SOURCE) as the --n-cpu-moe K that puts the same expert bytes in RAM:
    round(MoE layers x (E - N) / E) host MoE layers, K counting the dense layers before them.
    The same bytes; the work a token sends to the CPU is the same share only if routing is
    uniform over the experts (kt-kernel picks which N: not modelled). kt-kernel's flag only."""
    if engine.id != "ktransformers":
        raise MoeplanError(f"--kt-gpu-experts is a kt-kernel flag; the engine is {engine.id}")
    if spec.moe is None or not spec.num_moe_layers:
        raise MoeplanError(f"{spec.name} has no routed experts to place")
    experts = spec.moe.num_experts
    if not 0 <= gpu_experts <= experts:
        raise MoeplanError(
            f"--kt-gpu-experts must be 0..{experts} (the experts of a layer), got {gpu_experts}"
        )
    host_layers = round(spec.num_moe_layers * (experts - gpu_experts) / experts)
    return next(k for k in range(spec.num_layers + 1) if moe_layers_before(spec, k) == host_layers)


def require_gpu_reserve(gpu_reserved_bytes: int, gpu: GPU) -> None:
    """VRAM other processes hold must be a whole, non-negative byte count below the GPU's memory
    (a desktop session on the card: ~0.5-1.5 GiB, Windows more; nvidia-smi shows it before the
    engine starts). Given by the user: moeplan cannot know what else runs on the card."""
    if gpu_reserved_bytes < 0 or gpu_reserved_bytes >= gpu.memory_bytes:
        raise MoeplanError(
            f"GPU memory held by other processes (--gpu-reserved-gb) must be 0 or more and "
            f"below {gpu.id}'s {gpu.memory_bytes / 1e9:.1f} GB, got {gpu_reserved_bytes / 1e9:g}"
        )


def place(
    spec: ModelSpec,
    scheme: QuantScheme,
    gpu: GPU,
    host: Host,
    engine: OffloadProfile,
    n_cpu_moe: int,
    context: int,
    batch: int = 1,
    kv_quant: str = "bf16",
    fit_margin: bool = False,
    gpu_reserved_bytes: int = 0,
) -> Placement:
    """Bytes on the GPU and in host RAM with the routed experts of layers 0..n_cpu_moe-1 in RAM.
    `fit_margin`: keep the engine's --fit margin free (when K is chosen to fit, not given).
    `gpu_reserved_bytes`: VRAM other processes already hold (require_gpu_reserve)."""
    if n_cpu_moe < 0:
        raise MoeplanError(f"--n-cpu-moe must be 0 or more, got {n_cpu_moe}")
    require_gpu_reserve(gpu_reserved_bytes, gpu)
    n_cpu_moe = min(n_cpu_moe, spec.num_layers)  # llama.cpp takes a larger K (-ncmoe 999) as all
    counts = count_params(spec)
    by_component = {**weights_bytes_by_component(spec, scheme, counts), "mtp": 0}
    on_gpu = {**weights_bytes_by_component(spec, gpu_side_scheme(scheme, engine), counts), "mtp": 0}
    host_layers = moe_layers_before(spec, n_cpu_moe)
    n_moe = spec.num_moe_layers
    per_layer = by_component["routed_experts"] / n_moe if n_moe else 0
    host_experts = math.ceil(per_layer * host_layers)
    # the GPU holds every weight but the host layers' experts, in the engine's GPU-side formats
    gpu_per_layer = on_gpu["routed_experts"] / n_moe if n_moe else 0
    gpu_weights = sum(on_gpu.values()) - math.ceil(gpu_per_layer * host_layers)
    copies = host.sockets if engine.numa_replicates_experts else 1
    # llama.cpp keeps the input embedding in RAM; a tied table is also the LM head on the GPU
    embedding = by_component["embedding"] if engine.input_embedding_on_host else 0
    tied = counts.breakdown["lm_head"] == 0
    if host.ram_bytes is None:
        raise MoeplanError(f"host '{host.id}': RAM size unknown; pass --host-ram-gb")
    return Placement(
        n_cpu_moe=n_cpu_moe,
        host_moe_layers=host_layers,
        gpu_weight_bytes=gpu_weights - (0 if tied else embedding),
        kv_cache_bytes=engine_kv_cache_bytes(
            spec, engine, context, batch, engine.ubatch_tokens, kv_quant
        ),
        compute_buffer_bytes=compute_buffer_bytes(
            spec, scheme, engine, context, batch, host_layers
        ),
        cuda_context_bytes=engine.gpu_process_bytes,
        gpu_capacity_bytes=gpu.memory_bytes
        - gpu_reserved_bytes
        - (engine.gpu_margin_bytes if fit_margin else 0),
        host_expert_bytes=host_experts,
        host_bytes=host_experts * copies + embedding,
        host_reserve_bytes=HOST_RESERVE_BYTES,
        host_ram_bytes=host.ram_bytes,
        gpu_reserved_bytes=gpu_reserved_bytes,
    )


def auto_n_cpu_moe(
    spec: ModelSpec,
    scheme: QuantScheme,
    gpu: GPU,
    host: Host,
    engine: OffloadProfile,
    context: int,
    batch: int = 1,
    kv_quant: str = "bf16",
    gpu_reserved_bytes: int = 0,
) -> Placement:
    """The smallest K whose GPU part fits (what llama.cpp --fit does for MoE weights); K = every
    layer when even that does not fit (the placement then says so)."""
    last = None
    for k in range(spec.num_layers + 1):
        last = place(
            spec, scheme, gpu, host, engine, k, context, batch, kv_quant, True, gpu_reserved_bytes
        )
        if last.fits_gpu:
            return last
    assert last is not None
    return last


def _distinct_gb(a: int, b: int) -> tuple[str, str]:
    """a and b in GB with one decimal, or as many more (up to three) as tell them apart."""
    for digits in (1, 2, 3):
        sa, sb = f"{a / 1e9:.{digits}f}", f"{b / 1e9:.{digits}f}"
        if sa != sb:
            break
    return sa, sb


def fit_reason(p: Placement, gpu: GPU, host: Host) -> str:
    gb = 1e9
    if p.fits:
        where = (
            f"experts of {p.host_moe_layers} MoE layer(s) in RAM"
            if p.host_moe_layers
            else "everything on the GPU"
        )
        return (
            f"fits: {p.gpu_bytes / gb:.1f} of {p.gpu_capacity_bytes / gb:.1f} GB on {gpu.id}, "
            f"{p.host_bytes / gb:.1f} of {p.host_capacity_bytes / gb:.1f} GB of RAM ({where})"
        )
    out = []
    if not p.fits_gpu:
        need, usable = _distinct_gb(p.gpu_bytes, p.gpu_capacity_bytes)
        out.append(
            f"GPU short: {need} GB > {usable} GB usable on "
            f"{gpu.id} (weights {p.gpu_weight_bytes / gb:.1f}, KV {p.kv_cache_bytes / gb:.1f}, "
            f"compute buffer {p.compute_buffer_bytes / gb:.1f}, CUDA context "
            f"{p.cuda_context_bytes / gb:.1f})"
            + (
                f"; {p.gpu_reserved_bytes / gb:.1f} GB held by other processes"
                if p.gpu_reserved_bytes
                else ""
            )
        )
    if not p.fits_host:
        held, room = _distinct_gb(p.host_bytes, p.host_capacity_bytes)
        out.append(
            f"RAM short: {held} GB of experts > "
            f"{room} GB ({p.host_ram_bytes / gb:.1f} GB installed less "
            f"{p.host_reserve_bytes / gb:.1f} GB for the OS); "
            "the rest would be paged in from disk through mmap (estimate flagged)"
        )
    return "does not fit: " + "; ".join(out)


def placement_notes(
    spec: ModelSpec,
    scheme: QuantScheme,
    gpu: GPU,
    host: Host,
    engine: OffloadProfile,
    p: Placement,
    mode: str,
    n_cpu_moe: int | None,
    context: int,
    batch: int,
    kv_quant: str,
) -> list[str]:
    """What a user needs beside the placement table: unified memory, how the engine lays the
    experts over sockets, a K above the layer count (every MoE
    layer, as llama.cpp takes it), the margin auto leaves free, the catalog's RAM taken as this
    machine's, and, when the GPU part does not fit, the smallest K that would."""
    gb = 1e9
    notes = []
    if host.unified_memory:
        notes.append(
            f"{host.id} has unified memory: its GPU reads the same RAM; a discrete-GPU offload "
            "applies only to an external GPU"
        )
    if engine.numa_replicates_experts and host.sockets > 1:
        notes.append(
            f"{engine.id} keeps a copy of the host experts on each of {host.sockets} sockets"
        )
    elif engine.numa_local_reads and host.sockets > 1:
        notes.append(
            f"{engine.id} splits every host expert over the {host.sockets} sockets' memory "
            "(one copy, a thread pool per NUMA node)"
        )
    if n_cpu_moe is not None and n_cpu_moe > spec.num_layers:
        notes.append(
            f"--n-cpu-moe {n_cpu_moe} is above the model's {spec.num_layers} layers: every MoE "
            "layer's experts in RAM, as llama.cpp takes it"
        )
    if mode == "auto":
        whose = "" if engine.id == "llamacpp" else f", kept for {engine.id} too"
        notes.append(
            f"auto leaves {engine.gpu_margin_bytes / gb:.2f} GB of the GPU free (llama.cpp "
            f"--fit's margin{whose}): usable {p.gpu_capacity_bytes / gb:.1f} GB, where a given "
            f"placement may use {(p.gpu_capacity_bytes + engine.gpu_margin_bytes) / gb:.1f}"
        )
    read, theory = host.read_override_bytes_per_s, host.mem_bw_bytes_per_s
    if read is not None and theory is not None:
        notes.append(
            f"host read: the measured {read / gb:,.1f} GB/s, not the theoretical "
            f"{theory / gb:,.1f} x the platform's read fraction (a measured figure wins)"
        )
    rated = rated_speed_note(host)
    if rated:
        notes.append(rated)
    if host.ram_assumed:
        notes.append(
            f"RAM {p.host_ram_bytes / gb:,.1f} GB is the catalog's reference size for {host.id}, "
            "not yours: pass --host-ram-gb with this machine's RAM"
        )
    if not p.fits_gpu and mode != "auto":
        fit = auto_n_cpu_moe(
            spec, scheme, gpu, host, engine, context, batch, kv_quant, p.gpu_reserved_bytes
        )
        if fit.fits_gpu:
            notes.append(
                f"the GPU part fits from --n-cpu-moe {fit.n_cpu_moe} ({fit.host_moe_layers} MoE "
                "layers' experts in RAM, llama.cpp --fit's margin kept), or pass --offload auto"
            )
    return notes
