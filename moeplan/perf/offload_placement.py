"""Where the bytes go under expert offload: the routed experts of layers 0..K-1 in host RAM
(llama.cpp's --n-cpu-moe counts every layer, dense ones too), everything else on the GPU; whether
each side fits, and the smallest K that fits the GPU (llama.cpp --fit)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import GPU
from moeplan.hardware.hosts import Host
from moeplan.memory.cache import attention_kv_bytes, indexer_key_bytes, kv_dtype_bytes
from moeplan.memory.estimate import (
    CUDA_CONTEXT_BYTES,
    activation_bytes,
    activation_width,
    kv_cache_bytes,
    weights_bytes_by_component,
)
from moeplan.memory.quant import QuantScheme, widest_routed_expert_bits
from moeplan.model.params import count_params
from moeplan.model.specs import ModelSpec
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
    gpu_capacity_bytes: int  # GPU memory less the engine's free margin
    host_expert_bytes: int  # one copy
    host_bytes: int  # expert copies (one per socket when the engine replicates)
    host_reserve_bytes: int
    host_ram_bytes: int

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


LLAMACPP_SWA_PAD_CELLS = 256
"""llama.cpp pads the SWA cache to 256 cells "for performance" (src/llama-kv-cache-iswa.cpp,
ggml-org/llama.cpp issue 17037)."""


def llamacpp_swa_cells(window: int, n_ctx: int, n_seq: int, n_ubatch: int) -> int:
    """Cells of llama.cpp's sliding-window cache (src/llama-kv-cache-iswa.cpp, unified cache):
    GGML_PAD(min(n_ctx, n_swa * n_seq + n_ubatch), 256); --swa-full would make it n_ctx. The
    window alone is not enough: a ubatch of new tokens must fit beside the window."""
    cells = min(n_ctx, window * n_seq + n_ubatch)
    return -(-cells // LLAMACPP_SWA_PAD_CELLS) * LLAMACPP_SWA_PAD_CELLS


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
    llamacpp_swa_cells; otherwise each layer holds at most its window (memory/cache.py)."""
    if not engine.swa_cache_holds_ubatch:
        return kv_cache_bytes(spec, context, batch, kv_quant)
    b = kv_dtype_bytes(kv_quant)
    n_ctx = context * batch
    total = 0
    for attn, window, n in spec.attention_groups:
        cells = n_ctx if window is None else llamacpp_swa_cells(window, n_ctx, batch, ubatch)
        total += n * (attention_kv_bytes(attn, b) + indexer_key_bytes(attn.indexer)) * cells
    return total


LLAMACPP_ACTIVATION_BYTES = 4
"""ggml computes activations in F32 (llama.cpp's graph tensors; weights keep their own types)."""

LLAMACPP_FA_MASK_BYTES = 2
"""The KQ mask is F16 under flash attention ("flash attention requires an f16 mask",
src/llama-graph.cpp build_attn_inp_kq_mask), which llama.cpp's default --flash-attn auto turns
on for CUDA and ROCm."""


def compute_buffer_bytes(
    spec: ModelSpec,
    scheme: QuantScheme,
    engine: OffloadProfile,
    context: int,
    batch: int,
    host_moe_layers: int = 0,
) -> int:
    """GPU compute buffer of the engine's largest forward pass: min(ubatch, tokens) tokens.
    llama.cpp: llamacpp_compute_buffer_bytes; other engines: memory/estimate.py
    activation_bytes with the logits of the last position of each sequence."""
    tokens = min(engine.ubatch_tokens, context * batch)
    if not engine.reserves_ubatch_logits:
        return activation_bytes(spec, tokens, batch)
    return llamacpp_compute_buffer_bytes(spec, scheme, engine, context, batch, host_moe_layers)


def llamacpp_compute_buffer_bytes(
    spec: ModelSpec,
    scheme: QuantScheme,
    engine: OffloadProfile,
    context: int,
    batch: int,
    host_moe_layers: int,
) -> int:
    """The GPU compute buffer llama.cpp reserves: its worst-case prompt graph of T =
    min(n_ubatch, n_ctx) tokens, every token an output (src/llama-context.cpp graph_reserve with
    n_outputs = n_tokens), allocated by ggml-alloc, which frees each tensor after its last use,
    so the buffer is the largest set of tensors alive at one time. Two moments bound it:

    - the output: the FP32 logits of all T tokens (n_vocab x T x 4) and the normed hidden state
      they come from (n_embd x T x 4), after the last layer has freed its tensors;
    - inside a layer: the GPU copies of the KQ masks, graph inputs the scheduler keeps on the
      CPU and copies to the GPU once, alive from the first attention layer to the last (F16,
      n_kv x T: full-attention layers see all n_ctx cells at reserve time, sliding-window layers
      their llamacpp_swa_cells), the widest layer's F32 activations
      (memory/estimate.py activation_width) and, when host experts go to the GPU for the prompt
      (op offload, T >= stream_min_batch), the copy of one host expert tensor: the scheduler
      starts a split at every op whose weight sits in another backend's memory ("by starting a
      new split, the memory of the previously offloaded weights can be reused",
      ggml/src/ggml-backend.cpp ggml_backend_sched_split_graph), so one copy, of the widest
      routed-expert tensor (quant.py widest_routed_expert_bits), is alive at a time.

    - where the engine casts an F32 mask (casts_f32_kq_mask), the cast at the start of the
      graph: the F32 copy and its F16 cast alive at once beside the input embeddings.

    llama.cpp builds through May 2026 reserve the logits of every ubatch token and cast an F32
    mask; llama-server after PR 23861 (am17an, 2026-05-29, 'reserves logits space for n_seqs
    when possible') and the F16 mask of PR 23764 need less, so the figure is the conservative
    one for those. Checked against published logs: gpt-oss-20b, experts on the CPU, ub 512,
    131072 ctx, RTX 3070, 'CUDA0 compute buffer size = 456.98 MiB' (moeplan 398 MiB, the
    logits); GLM-4.5-Air on one GPU, ub 4096, 131072 ctx, '3584.09 MiB' (moeplan 3136 MiB, the
    mask cast): both 13% under."""
    tokens = min(engine.ubatch_tokens, context * batch)
    n_ctx = context * batch
    windows = {window for _attn, window, _n in spec.attention_groups}
    cells = sum(
        n_ctx if window is None else llamacpp_swa_cells(window, n_ctx, batch, tokens)
        for window in windows
    )
    mask_bytes = cells * tokens * LLAMACPP_FA_MASK_BYTES
    layer = tokens * activation_width(spec) * LLAMACPP_ACTIVATION_BYTES
    copy = 0
    streams = engine.stream_min_batch is not None and tokens >= engine.stream_min_batch
    if host_moe_layers and streams and spec.moe is not None:
        moe = spec.moe
        bits = widest_routed_expert_bits(scheme, spec, count_params(spec))
        elements = moe.num_experts * spec.hidden_size * moe.expert_intermediate_size
        copy = math.ceil(elements * bits / 8)
    output = tokens * (spec.vocab_size + spec.hidden_size) * LLAMACPP_ACTIVATION_BYTES
    cast = 0
    if engine.casts_f32_kq_mask:
        f32_mask = cells * tokens * LLAMACPP_ACTIVATION_BYTES
        cast = f32_mask + mask_bytes + tokens * spec.hidden_size * LLAMACPP_ACTIVATION_BYTES
    return max(output, mask_bytes + layer + copy, cast)


def gpu_side_scheme(scheme: QuantScheme, engine: OffloadProfile) -> QuantScheme:
    """The formats of the weights the engine keeps on the GPU: `scheme`, with the routed experts
    in the engine's gpu_expert_format where it re-quantizes them (ktransformers V0.2's Marlin)."""
    fmt = engine.gpu_expert_format
    if fmt is None or scheme.formats["routed_experts"] == fmt:
        return scheme
    return replace(
        scheme,
        id=f"{scheme.id},routed_experts={fmt}",
        formats={**scheme.formats, "routed_experts": fmt},
    )


def moe_layers_before(spec: ModelSpec, k: int) -> int:
    """MoE layers among layers 0..k-1 (llama.cpp's --n-cpu-moe counts every layer)."""
    return sum(1 for layer in spec.layers[:k] if layer.is_moe)


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
) -> Placement:
    """Bytes on the GPU and in host RAM with the routed experts of layers 0..n_cpu_moe-1 in RAM.
    `fit_margin`: keep the engine's --fit margin free (when K is chosen to fit, not given)."""
    if not 0 <= n_cpu_moe <= spec.num_layers:
        raise MoeplanError(f"--n-cpu-moe must be between 0 and {spec.num_layers}, got {n_cpu_moe}")
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
        cuda_context_bytes=CUDA_CONTEXT_BYTES,
        gpu_capacity_bytes=gpu.memory_bytes - (engine.gpu_margin_bytes if fit_margin else 0),
        host_expert_bytes=host_experts,
        host_bytes=host_experts * copies + embedding,
        host_reserve_bytes=HOST_RESERVE_BYTES,
        host_ram_bytes=host.ram_bytes,
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
) -> Placement:
    """The smallest K whose GPU part fits (what llama.cpp --fit does for MoE weights); K = every
    layer when even that does not fit (the placement then says so)."""
    last = None
    for k in range(spec.num_layers + 1):
        last = place(spec, scheme, gpu, host, engine, k, context, batch, kv_quant, fit_margin=True)
        if last.fits_gpu:
            return last
    assert last is not None
    return last


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
        out.append(
            f"GPU short: {p.gpu_bytes / gb:.1f} GB > {p.gpu_capacity_bytes / gb:.1f} GB usable on "
            f"{gpu.id} (weights {p.gpu_weight_bytes / gb:.1f}, KV {p.kv_cache_bytes / gb:.1f})"
        )
    if not p.fits_host:
        out.append(
            f"RAM short: {p.host_bytes / gb:.1f} GB of experts > "
            f"{p.host_capacity_bytes / gb:.1f} GB ({p.host_ram_bytes / gb:.1f} GB installed less "
            f"{p.host_reserve_bytes / gb:.1f} GB for the OS); "
            "llama.cpp would mmap the rest from disk (estimate flagged)"
        )
    return "does not fit: " + "; ".join(out)
