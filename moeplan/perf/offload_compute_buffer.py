"""The GPU compute buffer an offload engine reserves for its largest forward pass, and llama.cpp's
sliding-window cache cells (both sized from llama.cpp's source)."""

from __future__ import annotations

import math

from moeplan.memory.estimate import activation_bytes, activation_width
from moeplan.memory.quant import QuantScheme, widest_routed_expert_bits
from moeplan.model.params import count_params
from moeplan.model.specs import AttentionKind, ModelSpec
from moeplan.perf.offload_engines import OffloadProfile

LLAMACPP_SWA_PAD_CELLS = 256
"""llama.cpp pads the SWA cache to 256 cells "for performance" (src/llama-kv-cache-iswa.cpp,
ggml-org/llama.cpp issue 17037)."""

LLAMACPP_ACTIVATION_BYTES = 4
"""ggml computes activations in F32 (llama.cpp's graph tensors; weights keep their own types)."""

LLAMACPP_FA_MASK_BYTES = 2
"""The KQ mask is F16 under flash attention ("flash attention requires an f16 mask",
src/llama-graph.cpp build_attn_inp_kq_mask), which llama.cpp's default --flash-attn auto turns
on for CUDA and ROCm."""


def llamacpp_swa_cells(window: int, n_ctx: int, n_seq: int, n_ubatch: int) -> int:
    """Cells of llama.cpp's sliding-window cache (src/llama-kv-cache-iswa.cpp, unified cache):
    GGML_PAD(min(n_ctx, n_swa * n_seq + n_ubatch), 256); --swa-full would make it n_ctx. The
    window alone is not enough: a ubatch of new tokens must fit beside the window."""
    cells = min(n_ctx, window * n_seq + n_ubatch)
    return -(-cells // LLAMACPP_SWA_PAD_CELLS) * LLAMACPP_SWA_PAD_CELLS


def llamacpp_cache_cells(
    window: int | None, n_ctx: int, n_seq: int, n_ubatch: int, swa_full: bool = False
) -> int:
    """Cells llama.cpp's cache gives a layer group: every cell of n_ctx for full attention and,
    under --swa-full (src/llama-kv-cache-iswa.cpp: size_swa = size_base), for a sliding window
    too; llamacpp_swa_cells for a sliding window otherwise (its KQ mask spans the same cells)."""
    if window is None or swa_full:
        return n_ctx
    return llamacpp_swa_cells(window, n_ctx, n_seq, n_ubatch)


def pass_tokens(engine: OffloadProfile, context: int, batch: int) -> int:
    """Tokens of the engine's largest forward pass: its ubatch, at most every cell of the
    context (llama.cpp: n_ubatch = min(n_ubatch, n_batch, n_ctx); moeplan's ubatch is the
    effective one, so a -ub above -b counts as -b)."""
    return min(engine.ubatch_tokens, context * batch)


def compute_buffer_bytes(
    spec: ModelSpec,
    scheme: QuantScheme,
    engine: OffloadProfile,
    context: int,
    batch: int,
    host_moe_layers: int = 0,
) -> int:
    """GPU compute buffer of the engine's largest forward pass (pass_tokens). llama.cpp:
    llamacpp_compute_buffer_bytes; other engines: memory/estimate.py activation_bytes with the
    logits of the last position of each sequence."""
    if not engine.reserves_ubatch_logits:
        return activation_bytes(spec, pass_tokens(engine, context, batch), batch)
    return llamacpp_compute_buffer_bytes(spec, scheme, engine, context, batch, host_moe_layers)


def llamacpp_activation_width(spec: ModelSpec) -> int:
    """F32 activation elements a token holds at once in llama.cpp's widest layer: as
    memory/estimate.py activation_width, except MLA, whose absorbed attention concatenates, for
    each head, the latent and rope parts of the query and of the key (llama.cpp
    src/models/deepseek2.cpp: n_head x 2 x (kv_lora_rank + rope) at the concat)."""
    width = activation_width(spec)
    attn = spec.attention
    if attn.kind is AttentionKind.MLA and attn.kv_lora_rank is not None:
        mla = attn.num_heads * 2 * (attn.kv_lora_rank + (attn.qk_rope_head_dim or 0))
        width = max(width, 2 * spec.hidden_size + mla)
    return width


def llamacpp_indexer_bytes(spec: ModelSpec, n_ctx: int, tokens: int) -> int:
    """What a DSA lightning indexer adds inside a layer in llama.cpp (src/models/deepseek32.cpp):
    its scores, F32 [n_kv, T, indexer heads], and their permuted contiguous copy, alive together,
    plus its own F16 mask (n_kv x T)."""
    for attn, _window, _n in spec.attention_groups:
        idx = attn.indexer
        if idx is not None and not idx.shared:
            scores = n_ctx * tokens * idx.num_heads * LLAMACPP_ACTIVATION_BYTES
            return 2 * scores + n_ctx * tokens * LLAMACPP_FA_MASK_BYTES
    return 0


def llamacpp_compute_buffer_bytes(
    spec: ModelSpec,
    scheme: QuantScheme,
    engine: OffloadProfile,
    context: int,
    batch: int,
    host_moe_layers: int,
) -> int:
    """The GPU compute buffer llama.cpp reserves: its worst-case prompt graph of T tokens
    (pass_tokens), every token an output (src/llama-context.cpp graph_reserve with n_outputs =
    n_tokens), allocated by ggml-alloc, which frees each tensor after its last use, so the
    buffer is the largest set of tensors alive at one time. Three moments bound it:

    - the output: the FP32 logits of all T tokens (n_vocab x T x 4) and the normed hidden state
      they come from (n_embd x T x 4), after the last layer has freed its tensors;
    - inside a layer: the GPU copies of the KQ masks, graph inputs the scheduler keeps on the
      CPU and copies to the GPU once, alive from the first attention layer to the last (F16,
      n_kv x T: full-attention layers see all n_ctx cells at reserve time, sliding-window layers
      their llamacpp_swa_cells), a DSA indexer's scores (llamacpp_indexer_bytes), the widest
      layer's F32 activations (llamacpp_activation_width) and, when host experts go to the GPU
      for the prompt (op offload, T >= stream_min_batch), the copy of one host expert tensor:
      the scheduler starts a split at every op whose weight sits in another backend's memory
      ("by starting a new split, the memory of the previously offloaded weights can be
      reused", ggml/src/ggml-backend.cpp ggml_backend_sched_split_graph), so one copy, of the
      widest routed-expert tensor (quant.py widest_routed_expert_bits), is alive at a time
      (a GGUF with fused ffn_gate_up_exps copies twice that; not modelled);
    - where the engine casts an F32 mask (casts_f32_kq_mask, builds before PR 23764), the cast,
      which runs just before the first attention: the F32 copy and its F16 cast alive beside
      the input embeddings and that layer's query (T x heads x head_dim, F32).

    This is what builds through May 2026 and llama-bench reserve; llama-server after PR 23861
    (am17an, merged 2026-06-01: 'reserves logits space for n_seqs when possible') and the F16
    mask of PR 23764 need less. n_ctx is context x batch: llama-server's unified KV cache (its
    default), whose mask spans every cell; a split cache (-np N without --kv-unified) gives each
    sequence a mask over its own cells, which is less. It is not an upper bound: published logs
    run above it (tests/test_offload_compute_buffer.py: 7-13% over on two of them), and the CUDA
    backend's memory pool (cuBLAS work, converted weights) is not counted."""
    tokens = pass_tokens(engine, context, batch)
    n_ctx = context * batch
    windows = {window for _attn, window, _n in spec.attention_groups}
    cells = sum(
        llamacpp_cache_cells(window, n_ctx, batch, tokens, engine.swa_full) for window in windows
    )
    mask_bytes = cells * tokens * LLAMACPP_FA_MASK_BYTES
    layer = tokens * llamacpp_activation_width(spec) * LLAMACPP_ACTIVATION_BYTES
    copy = 0
    streams = engine.stream_min_batch is not None and tokens >= engine.stream_min_batch
    if host_moe_layers and streams and spec.moe is not None:
        moe = spec.moe
        bits = widest_routed_expert_bits(scheme, spec, count_params(spec))
        elements = moe.num_experts * spec.hidden_size * moe.expert_intermediate_size
        copy = math.ceil(elements * bits / 8)
    indexer = llamacpp_indexer_bytes(spec, n_ctx, tokens)
    output = tokens * (spec.vocab_size + spec.hidden_size) * LLAMACPP_ACTIVATION_BYTES
    cast = 0
    if engine.casts_f32_kq_mask:
        attn = spec.attention
        live = tokens * (spec.hidden_size + attn.num_heads * attn.head_dim)
        f32_mask = cells * tokens * LLAMACPP_ACTIVATION_BYTES
        cast = f32_mask + mask_bytes + live * LLAMACPP_ACTIVATION_BYTES
    return max(output, mask_bytes + indexer + layer + copy, cast)
