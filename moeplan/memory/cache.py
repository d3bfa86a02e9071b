"""What a sequence keeps between steps, layer by layer: KV cache for attention layers (sliding
and chunked layers at most their window), the indexer key cache of DSA layers, and the fixed
state of linear-attention and Mamba layers. Bytes, integers (reads are floats)."""

from __future__ import annotations

import math
from functools import cache

from moeplan.errors import MoeplanError
from moeplan.model.specs import (
    AttentionKind,
    AttentionSpec,
    CompressorSpec,
    IndexerSpec,
    ModelSpec,
    RecurrentSpec,
    WindowKind,
)

KV_DTYPE_BYTES: dict[str, float] = {
    "bf16": 2,
    "fp16": 2,
    "fp8": 1,
    "int8": 1,
    "fp32": 4,
    # llama.cpp's quantized cache types (-ctk/-ctv), GGML block sizes: 32 values and a 2-byte
    # scale (q8_0 34 B, q4_0/iq4_nl 18 B), q4_1/q5_1 also a 2-byte minimum (ggml-common.h)
    "q8_0": 34 / 32,
    "q5_1": 24 / 32,
    "q5_0": 22 / 32,
    "q4_1": 20 / 32,
    "q4_0": 18 / 32,
    "iq4_nl": 18 / 32,
}
LLAMACPP_QUANTIZED_KV = frozenset({"q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl"})
"""Cache types only llama.cpp offers (-ctk/-ctv); its CUDA flash attention decodes them with the
vector kernel (perf/llamacpp_fattn.py)."""
LLAMACPP_KV = frozenset({"fp32", "fp16", "bf16"}) | LLAMACPP_QUANTIZED_KV
"""Every cache type llama.cpp offers (-ctk/-ctv f32, f16, bf16 and the quantized ones): no fp8
or int8."""

STATE_DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
DEFAULT_STATE_DTYPE = "fp32"
"""Recurrent (SSM / delta-rule) state dtype assumed: fp32, as vLLM keeps Mamba SSM state for
Nemotron-H (config mamba_ssm_cache_dtype float32) and Qwen3.5 (mamba_ssm_dtype float32);
--state-dtype changes it."""

CONV_STATE_BYTES = 2
"""The causal-conv window state is kept in the activation dtype (BF16), as vLLM's
mamba_cache_dtype 'auto' does."""

INDEXER_SCALE_BYTES = 4
INDEXER_SCALE_BLOCK = 128
"""DSA indexer keys: fp8 values with one fp32 scale per 128 values (DeepSeek-V3.2
inference/model.py Indexer k_cache + k_scale_cache; vLLM's indexer cache: 128 + 4 bytes)."""


def kv_dtype_bytes(kv_quant: str) -> float:
    if kv_quant not in KV_DTYPE_BYTES:
        raise MoeplanError(
            f"unknown kv-quant '{kv_quant}' (choose from {', '.join(KV_DTYPE_BYTES)})"
        )
    return KV_DTYPE_BYTES[kv_quant]


def require_cache_type_of(kv_quant: str, engine_id: str) -> None:
    """An unknown cache type, one of llama.cpp's quantized types for another engine (they exist
    only in llama.cpp, engine id 'llamacpp'), or for llama.cpp a type it lacks (LLAMACPP_KV):
    refused."""
    kv_dtype_bytes(kv_quant)
    if kv_quant not in LLAMACPP_KV and engine_id == "llamacpp":
        raise MoeplanError(
            f"--kv-quant {kv_quant}: llama.cpp has no such cache type (-ctk/-ctv: "
            f"{', '.join(sorted(LLAMACPP_KV))})"
        )
    if kv_quant in LLAMACPP_QUANTIZED_KV and engine_id != "llamacpp":
        raise MoeplanError(
            f"--kv-quant {kv_quant} is a llama.cpp cache type (-ctk/-ctv); engine '{engine_id}' "
            "has none (use bf16, fp16, fp8, int8 or fp32)"
        )


def state_dtype_bytes(state_dtype: str) -> int:
    if state_dtype not in STATE_DTYPE_BYTES:
        raise MoeplanError(
            f"unknown state-dtype '{state_dtype}' (choose from {', '.join(STATE_DTYPE_BYTES)})"
        )
    return STATE_DTYPE_BYTES[state_dtype]


def attention_kv_bytes(attn: AttentionSpec, kv_bytes: float) -> float:
    """KV bytes one token costs in one attention layer.
    GQA: kv_heads x (head_dim + v_head_dim) x bytes (K and V).
    MLA (DeepSeek-V2 sec. 2.1.3): the compressed latent plus one shared RoPE key,
    (kv_lora_rank + qk_rope_head_dim) x bytes, independent of the head count."""
    if attn.kind is AttentionKind.MLA:
        assert attn.kv_lora_rank is not None and attn.qk_rope_head_dim is not None
        return (attn.kv_lora_rank + attn.qk_rope_head_dim) * kv_bytes
    if attn.single_kv:  # DeepseekV4Attention: K = V, one tensor per KV head
        return attn.num_kv_heads * attn.head_dim * kv_bytes
    return attn.num_kv_heads * (attn.head_dim + attn.v_head_dim) * kv_bytes


def stored_kv_bytes(attn: AttentionSpec, kv_bytes: float) -> float:
    """KV bytes one token adds to one layer's cache: a KV-shared layer (Gemma 4, Mistral Large 4
    kv_source_layers) attends to an earlier layer's cache and stores none of its own."""
    return 0.0 if attn.kv_shared else attention_kv_bytes(attn, kv_bytes)


def compressed_entry_bytes(c: CompressorSpec | None, kv_bytes: float) -> float:
    """One DeepSeek-V4 compressed entry (one per `rate` tokens, never evicted): head_dim values,
    plus on CSA the indexer's compressed key of index_head_dim (DeepseekV4CSACache
    compressed_kv["compressor"] and ["indexer"]), in the cache dtype."""
    if c is None:
        return 0.0
    return (c.head_dim + (c.index_head_dim if c.index_heads else 0)) * kv_bytes


def compressed_bytes_per_token(attn: AttentionSpec, kv_bytes: float) -> float:
    """What the compressor of one layer keeps per token over a long sequence (entry / rate)."""
    c = attn.compressor
    return compressed_entry_bytes(c, kv_bytes) / c.rate if c else 0.0


def compressor_held_bytes(attn: AttentionSpec, context: int, kv_bytes: float) -> float:
    """Everything DeepseekV4HCACache / DeepseekV4CSACache keeps for one sequence of `context`
    tokens beside the sliding window: context // rate compressed entries; the buffer of the
    context % rate tokens of the open window (kv and gate, series x head_dim each); on CSA,
    once a window closed, the last window's first series (overlap_kv / overlap_gate: rate x
    head_dim each); the indexer the same at index_head_dim. (transformers keeps the sliding
    window as window - 1 tokens, and on sliding-only layers its DynamicSlidingWindowLayer
    stores the K = V tensor twice; counted here as window tokens, once.)"""
    c = attn.compressor
    if c is None:
        return 0.0
    series = 2 if c.overlap else 1
    dims = [c.head_dim] + ([c.index_head_dim] if c.index_heads else [])
    closed, open_tokens = divmod(context, c.rate)
    values = sum(2 * open_tokens * series * d for d in dims)
    if c.overlap and closed:
        values += sum(2 * c.rate * d for d in dims)
    return closed * compressed_entry_bytes(c, kv_bytes) + values * kv_bytes


def indexer_key_bytes(ix: IndexerSpec | None) -> int:
    """One token's indexer key in one DSA layer: head_dim fp8 values + fp32 scales per 128
    (its own dtype, whatever --kv-quant says); another key_dtype (MiniMaxM3VLSparseCacheLayer
    keeps idx_keys in the model's bf16, Qwen4-Exp's DynamicIndexedLayer its raw QSA keys):
    head_dim values of that dtype."""
    if ix is None or ix.shared:
        return 0
    if ix.kpool:  # Glm5NextTextIndexer packs [key, k-pool gate logits, valid flag], bf16
        return (2 * ix.head_dim + 1) * 2
    if ix.key_dtype != "fp8":
        return ix.head_dim * int(KV_DTYPE_BYTES[ix.key_dtype])
    return ix.head_dim + INDEXER_SCALE_BYTES * math.ceil(ix.head_dim / INDEXER_SCALE_BLOCK)


def shard_fraction(attn: AttentionSpec, tp: int) -> float:
    """Share of one layer's cache a TP rank holds: GQA heads split over TP (replicated when
    TP > kv_heads); the MLA latent (and the indexer keys) have no head axis: every rank."""
    if attn.kind is AttentionKind.MLA or tp <= 1:
        return 1.0
    return max(1 / tp, 1 / attn.num_kv_heads)


def held(context: int, window: int | None) -> int:
    return context if window is None else min(context, window)


@cache
def read_groups(spec: ModelSpec) -> tuple[tuple[AttentionSpec, int | None, bool, int], ...]:
    """(attention shape, window, chunked?, number of layers) over the layers that keep a KV
    cache: what a step reads depends on whether the window slides or is a fixed chunk (cached:
    specs are frozen, and serving prices thousands of steps of one spec)."""
    counts: dict[tuple[AttentionSpec, int | None, bool], int] = {}
    for layer in spec.layers:
        if layer.keeps_kv:
            chunked = layer.window_kind is WindowKind.CHUNKED and layer.window is not None
            key = (spec.layer_attention(layer), layer.window, chunked)
            counts[key] = counts.get(key, 0) + 1
    return tuple((a, w, c, n) for (a, w, c), n in counts.items())


def decode_span(context: int, window: int | None, chunked: bool) -> float:
    """Tokens the newest token attends to when the sequence holds `context` tokens. Sliding (or
    no) window: min(context, window). Chunked (Llama 4, attention_chunk_size W): a token attends
    only within its own chunk, 1 to W tokens; past the first chunk a decode step is costed at
    the mean span over a chunk, (W + 1) / 2, since decoding walks through every position of
    the chunk (issue 17: treating the chunk as a sliding window read W, about 2x too much)."""
    if window is None or context <= window:
        return float(context)
    if chunked:
        return (window + 1) / 2
    return float(window)


def kv_bytes_per_token_all_layers(
    spec: ModelSpec, kv_quant: str = "bf16", include_mtp: bool = False
) -> int:
    """KV (and indexer key) bytes of one token summed over the layers that keep a cache (and
    the MTP layers' attention when they are loaded, ModelSpec.mtp_attention_groups)."""
    b = kv_dtype_bytes(kv_quant)
    return math.ceil(
        sum(
            n
            * (
                stored_kv_bytes(a, b)
                + indexer_key_bytes(a.indexer)
                + compressed_bytes_per_token(a, b)
            )
            for a, _, n in spec.kv_groups(include_mtp)
        )
    )


def kv_bytes_per_sequence(
    spec: ModelSpec, context: int, kv_quant: str = "bf16", include_mtp: bool = False
) -> int:
    """KV cache of one sequence of `context` tokens: per attention layer, its bytes per token x
    the tokens it holds; recurrent layers hold none."""
    b = kv_dtype_bytes(kv_quant)
    return math.ceil(
        sum(
            n
            * (
                (stored_kv_bytes(a, b) + indexer_key_bytes(a.indexer)) * held(context, w)
                + compressor_held_bytes(a, context, b)
            )
            for a, w, n in spec.kv_groups(include_mtp)
        )
    )


def kv_bytes_per_rank(
    spec: ModelSpec, context: int, kv_quant: str, tp: int, include_mtp: bool = False
) -> float:
    """The share of one sequence's KV cache one of `tp` ranks holds, layer group by layer
    group (each by its own KV heads)."""
    b = kv_dtype_bytes(kv_quant)
    return sum(
        n
        * (
            (stored_kv_bytes(a, b) + indexer_key_bytes(a.indexer)) * held(context, w)
            + compressor_held_bytes(a, context, b)
        )
        * shard_fraction(a, tp)
        for a, w, n in spec.kv_groups(include_mtp)
    )


def recurrent_state_bytes(r: RecurrentSpec, state_bytes: int) -> int:
    """Fixed state of one linear-attention / Mamba layer for one sequence: the conv window
    conv_channels x (kernel - 1) in the activation dtype, plus the recurrent state
    d_inner x state_size (GDN: v_heads x head_v_dim x head_k_dim; Mamba2: heads x head_dim x
    d_state; Mamba: d_inner x d_state) in the state dtype. A mixer without a conv (MiniMax
    lightning attention, conv_kernel 0) holds no conv window."""
    conv = r.conv_channels * max(r.conv_kernel - 1, 0) * CONV_STATE_BYTES
    return conv + r.inner_size * r.state_size * state_bytes


@cache
def state_bytes_per_sequence(spec: ModelSpec, state_dtype: str = DEFAULT_STATE_DTYPE) -> int:
    """Recurrent state of one sequence over all linear-attention / Mamba layers and Qwen4-Exp's
    PLE layers (ple_state_bytes) (cached like read_groups: serving prices thousands of steps
    of one frozen spec)."""
    b = state_dtype_bytes(state_dtype)
    return sum(recurrent_state_bytes(r, b) for r in spec.recurrent_layers) + ple_state_bytes(spec)


def ple_state_bytes(spec: ModelSpec) -> int:
    """Per sequence, each Qwen4-Exp PLE layer caches (modeling_qwen4_exp.py
    Qwen4ExpTextPLELayer._short_conv, Qwen4ExpTextNGramEmbedding.forward) its dilated conv
    window, hc x hidden x (ple_conv_kernel_size - 1) x ngram_size values in the activation
    dtype, and the last ngram_size - 1 token ids (int64)."""
    ple = spec.ngram_ple
    if ple is None:
        return 0
    window = spec.hc_count * spec.hidden_size * (ple.conv_kernel - 1) * ple.ngram_size
    return len(ple.layer_ids) * (window * CONV_STATE_BYTES + (ple.ngram_size - 1) * 8)


def decode_kv_read_bytes_per_sequence(
    spec: ModelSpec, context: int, kv_quant: str, tp: int = 1
) -> float:
    """Cache bytes one decode step reads for one sequence (on one of `tp` ranks): every
    attention layer's KV over its span (decode_span: up to a sliding window, the mean span of a
    chunk); a DSA layer reads all indexer keys but only the
    top_k entries the indexer picks."""
    b = kv_dtype_bytes(kv_quant)
    total = 0.0
    for a, w, chunked, n in read_groups(spec):
        tokens = decode_span(context, w, chunked)
        main = attention_kv_bytes(a, b) * (min(tokens, a.indexer.top_k) if a.indexer else tokens)
        main += compressed_read_bytes(a.compressor, context, b)
        total += n * (main + indexer_key_bytes(a.indexer) * tokens) * shard_fraction(a, tp)
    return total


def compressed_read_bytes(c: CompressorSpec | None, context: int, kv_bytes: float) -> float:
    """Compressed entries one DeepSeek-V4 decode step reads in one layer: HCA all
    context // rate entries; CSA the index_topk entries the indexer picks and every
    indexer key."""
    if c is None:
        return 0.0
    entries = context // c.rate
    if not c.index_heads:
        return entries * c.head_dim * kv_bytes
    return (min(entries, c.index_topk) * c.head_dim + entries * c.index_head_dim) * kv_bytes


def decode_state_bytes_per_sequence(spec: ModelSpec, state_dtype: str) -> float:
    """State traffic of one decode step for one sequence: each recurrent layer reads and
    writes back its whole state."""
    return 2.0 * state_bytes_per_sequence(spec, state_dtype)
