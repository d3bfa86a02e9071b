"""The terms of the latency model, one function each: expert coverage, bytes a step reads,
FLOPs, and communication. Quantities are per GPU of the busiest pipeline stage where a layout
is given; bytes and FLOPs are floats (expected values)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

from moeplan.memory.cache import (
    DEFAULT_STATE_DTYPE,
    decode_kv_read_bytes_per_sequence,
    decode_span,
    decode_state_bytes_per_sequence,
    read_groups,
)
from moeplan.model.params import ParamCounts
from moeplan.model.specs import AttentionKind, ModelSpec
from moeplan.perf.parallel import Layout


def expected_experts_touched(num_experts: int, top_k: int, tokens: float) -> float:
    """Distinct experts a batch of `tokens` tokens routes to, under uniform independent routing:
    E x (1 - (1 - k/E)^B). k at B = 1, approaching E as B grows (DESIGN.md, Time)."""
    if tokens <= 0:
        return 0.0
    untouched_fraction: float = (1.0 - top_k / num_experts) ** tokens
    return num_experts * (1.0 - untouched_fraction)


@lru_cache(maxsize=4096)
def busiest_rank_experts(num_experts: int, top_k: int, tokens: float, ranks: int) -> float:
    """Expected distinct experts touched on the busiest of `ranks` expert-parallel ranks, each
    holding num_experts / ranks whole experts, under uniform independent routing: an expert is
    touched with p = 1 - (1 - k/E)^B; a rank's count is taken as Binomial(E / ranks, p),
    independent across ranks (an approximation: a token's k picks are distinct), and
    E[max] = sum over m >= 1 of 1 - P(count < m)^ranks. ranks = 1 gives the mean, E x p.
    Routing skew beyond uniform (hot experts) is not modelled: a real router's busiest rank is
    at least this busy (issue 17)."""
    if tokens <= 0:
        return 0.0
    n = num_experts // ranks
    p: float = 1.0 - (1.0 - top_k / num_experts) ** tokens
    if ranks == 1 or p >= 1.0:
        return n * p
    pmf = (1.0 - p) ** n
    cdf, expected = 0.0, 0.0
    for m in range(n):
        cdf += pmf
        expected += 1.0 - min(cdf, 1.0) ** ranks
        pmf *= (n - m) / (m + 1) * p / (1.0 - p)
    return expected


@dataclass(frozen=True)
class WeightSplit:
    """Weight bytes and params of one model, split the way a step reads them."""

    dense_bytes: float  # attention, dense FFN, shared experts, router, norms: read every step
    head_bytes: float  # LM head (the tied embedding when tied)
    expert_bytes: float  # one routed expert
    dense_params: float  # params a token multiplies in the dense part (per token)
    head_params: float
    expert_params: float  # one routed expert


def weight_split(
    spec: ModelSpec, counts: ParamCounts, weights_by_component: dict[str, int]
) -> WeightSplit:
    w, b = weights_by_component, counts.breakdown
    dense_keys = ("attention", "dense_ffn", "shared_experts", "router", "norms")
    head = b["lm_head"] or b["embedding"]
    head_bytes = w["lm_head"] if b["lm_head"] else w["embedding"]
    n_experts = spec.moe.num_experts * spec.num_moe_layers if spec.is_moe and spec.moe else 0
    return WeightSplit(
        dense_bytes=sum(w[k] for k in dense_keys),
        head_bytes=head_bytes,
        expert_bytes=w["routed_experts"] / n_experts if n_experts else 0.0,
        dense_params=sum(b[k] for k in dense_keys),
        head_params=head,
        expert_params=b["routed_experts"] / n_experts if n_experts else 0.0,
    )


def stage_fraction(spec: ModelSpec, layout: Layout) -> float:
    """Share of the layers in the busiest pipeline stage."""
    return -(-spec.num_layers // layout.pp) / spec.num_layers


def dense_weight_bytes_per_gpu(split: WeightSplit, spec: ModelSpec, layout: Layout) -> float:
    """Attention/dense/shared weights every step reads, tensor-parallel over TP, per stage."""
    return split.dense_bytes / layout.tp * stage_fraction(spec, layout)


def expert_bytes_per_gpu(
    split: WeightSplit, spec: ModelSpec, layout: Layout, tokens: float
) -> float:
    """Routed-expert bytes the busiest GPU reads for `tokens` tokens in the stage: each MoE
    layer reads the distinct experts the tokens touch. Tensor-parallel MoE: a 1/G slice of each
    touched expert on every GPU. Expert parallel: the busiest rank's whole experts
    (busiest_rank_experts), which the step waits for."""
    if not spec.is_moe or spec.moe is None:
        return 0.0
    moe = spec.moe
    layers = spec.num_moe_layers * stage_fraction(spec, layout)
    per_expert = bytes_per_expert_per_gpu(split, spec, layout)
    if experts_whole_per_rank(spec, layout):
        return (
            layers
            * busiest_rank_experts(moe.num_experts, moe.top_k, tokens, layout.ep)
            * per_expert
        )
    return layers * expected_experts_touched(moe.num_experts, moe.top_k, tokens) * per_expert


def experts_whole_per_rank(spec: ModelSpec, layout: Layout) -> bool:
    """Expert parallel places whole experts on each rank when EP divides the expert count;
    otherwise every GPU of the stage holds a 1/G slice of each expert."""
    moe = spec.moe
    return moe is not None and layout.ep > 1 and moe.num_experts % layout.ep == 0


def bytes_per_expert_per_gpu(split: WeightSplit, spec: ModelSpec, layout: Layout) -> float:
    """Bytes of one routed expert a GPU reads: the whole expert on its EP rank (experts over ep
    ranks, each rank's experts over gpus_per_stage / ep GPUs), else its 1/gpus_per_stage slice."""
    whole = layout.ep if experts_whole_per_rank(spec, layout) else 1
    return split.expert_bytes * whole / layout.gpus_per_stage


def kv_read_bytes_per_gpu(
    spec: ModelSpec,
    layout: Layout,
    sequences: float,
    context: int,
    kv_quant: str,
    state_dtype: str = DEFAULT_STATE_DTYPE,
) -> float:
    """Cache a decode step reads: every sequence of the DP group at its current length, each
    attention layer up to its window (DSA layers: the indexer keys and the top_k entries they
    pick), the TP share of the heads (all of the MLA latent); plus the linear-attention /
    Mamba state, read and written every step, split over TP by heads."""
    kv = decode_kv_read_bytes_per_sequence(spec, context, kv_quant, layout.tp)
    state = decode_state_bytes_per_sequence(spec, state_dtype)
    per_sequence = kv + state / layout.tp
    return sequences * per_sequence * stage_fraction(spec, layout)


def attention_core_flops(spec: ModelSpec, new_tokens: int, context_start: int) -> float:
    """Score and value FLOPs of attention for `new_tokens` tokens appended after `context_start`
    tokens, causal: each token attends to the tokens its layer still holds (a DSA layer: at
    most the indexer's top_k, plus the indexer's own scores over all of them).
    GQA: 2 x H x (head_dim + v_head_dim) per attended token per layer.
    MLA decode (weights absorbed, DeepSeek-V2 sec. 2.1.2): 2 x H x (2 x kv_lora + rope).
    Indexer: 2 x index_heads x index_head_dim per scored token.
    Linear-attention / Mamba layers: their state update per token (recurrent_state_flops)."""
    total = recurrent_state_flops(spec, new_tokens)
    for a, window, chunked, layers in read_groups(spec):
        if a.kind is AttentionKind.MLA and new_tokens == 1:
            assert a.kv_lora_rank is not None and a.qk_rope_head_dim is not None
            per_pair = 2 * a.num_heads * (2 * a.kv_lora_rank + a.qk_rope_head_dim)
        else:
            per_pair = 2 * a.num_heads * (a.head_dim + a.v_head_dim)
        attended = (
            _attended_chunked(new_tokens, context_start, window)
            if chunked and window is not None
            else _attended(new_tokens, context_start, window)
        )
        if a.indexer is not None:
            picked = _attended(new_tokens, context_start, a.indexer.top_k)
            scored = (
                0 if a.indexer.shared else 2 * a.indexer.num_heads * a.indexer.head_dim * attended
            )
            total += layers * (per_pair * picked + scored)
        else:
            total += layers * per_pair * attended
    return total


RECURRENT_FLOPS_PER_STATE_ELEMENT = 6
"""A recurrent step per token touches every state element about three times at 2 FLOPs each:
decay/update (Gated DeltaNet's rank-1 delta update, Mamba's dA x state + dB x), and the read-out
(state x q, or C x state)."""


def recurrent_state_flops(spec: ModelSpec, new_tokens: int) -> float:
    """State FLOPs of the linear-attention / Mamba layers for `new_tokens` tokens (their
    projection FLOPs are in the mixer weights)."""
    return RECURRENT_FLOPS_PER_STATE_ELEMENT * recurrent_state_elements(spec) * new_tokens


@cache
def recurrent_state_elements(spec: ModelSpec) -> int:
    """State elements of one sequence over all recurrent layers (cached per frozen spec)."""
    return sum(r.inner_size * r.state_size for r in spec.recurrent_layers)


def _attended_chunked(new_tokens: int, context_start: int, chunk: int) -> float:
    """Chunked attention (Llama 4): the token at position p (1-based) attends to
    ((p - 1) mod chunk) + 1 tokens, those of its own chunk up to itself. Prefill: the exact sum
    over the new positions, S(last) - S(first - 1), with S(n) = q x chunk (chunk + 1) / 2 +
    r (r + 1) / 2 for n = q x chunk + r. One decode token past the first chunk: the mean span
    (chunk + 1) / 2, as the KV read (memory.cache.decode_span)."""
    if new_tokens == 1:
        return decode_span(context_start + 1, chunk, True)

    def s(n: int) -> float:
        q, r = divmod(n, chunk)
        return q * chunk * (chunk + 1) / 2 + r * (r + 1) / 2

    return s(context_start + new_tokens) - s(context_start)


def _attended(new_tokens: int, context_start: int, window: int | None) -> float:
    """Sum over the new tokens i of min(context_start + i + 1, window), in closed form."""
    first, last = context_start + 1, context_start + new_tokens
    if window is None or last <= window:
        return (first + last) * new_tokens / 2
    if first >= window:
        return float(window * new_tokens)
    below = window - first + 1
    return (first + window) * below / 2 + window * (new_tokens - below)


def allreduce_seconds(
    message_bytes: float, n: int, link_bytes_per_s: float, latency_s: float, efficiency: float
) -> float:
    """Ring all-reduce (NCCL): 2 x (n - 1) / n x message over each GPU's link, plus latency."""
    if n <= 1:
        return 0.0
    return latency_s + 2 * (n - 1) / n * message_bytes / (link_bytes_per_s * efficiency)


def all_to_all_seconds(
    bytes_per_gpu: float, n: int, link_bytes_per_s: float, latency_s: float, efficiency: float
) -> float:
    """All-to-all: each GPU sends (n - 1) / n of its bytes to the others, plus latency."""
    if n <= 1:
        return 0.0
    return latency_s + (n - 1) / n * bytes_per_gpu / (link_bytes_per_s * efficiency)


def p2p_seconds(message_bytes: float, link_bytes_per_s: float, latency_s: float) -> float:
    """One pipeline hop: activations sent to the next stage."""
    return latency_s + message_bytes / link_bytes_per_s
