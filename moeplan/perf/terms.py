"""The terms of the latency model, one function each: expert coverage, bytes a step reads,
FLOPs, and communication. Quantities are per GPU of the busiest pipeline stage where a layout
is given; bytes and FLOPs are floats (expected values)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache

from moeplan.errors import MoeplanError
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
    Routing skew (hot experts) is priced on the tokens, not here (busiest_rank_load_factor):
    skew concentrates picks on fewer experts, so uniform coverage bounds the mean rank's bytes
    from above; hot experts sharing a rank could raise the busiest rank's distinct count at
    small batches, which is not modelled (issue 17)."""
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


ROUTING_SKEW_DEFAULT = math.sqrt((164.1 / 128) ** 2 - 1 / 128)
"""Spread of real routers' expert popularity: the coefficient of variation (std / mean) of the
tokens each expert receives in one step, less the sampling noise of counting them (1 / 128, at
128 picks an expert), about 1.28. Source: TensorRT-LLM's "Scaling Expert Parallelism in TensorRT
LLM (Part 1)", Table 1 (NVIDIA/TensorRT-LLM@956a4f2
docs/source/blogs/tech_blog/blog4_Scaling_Expert_Parallelism_in_TensorRT-LLM.md): DeepSeek-R1,
EP32 on GB200, a machine-translation dataset, no EPLB, by expert slot: mean 128 tokens,
std 164.1, imbalance ratio (max - mean) / mean 10.948; by rank (8 experts a rank): mean 1024,
std 491.6, imbalance ratio 1.564 (averages of the per-layer, per-iteration figures). The only
published per-rank figures without EPLB found for a model moeplan lists; applied to every MoE
model, `--routing-skew` sets another (0 = uniform routing)."""


def max_routing_skew(num_experts: int, top_k: int) -> float:
    """The largest per-expert spread (std / mean of the tokens each expert gets) any router can
    produce: every token picking the same k of E experts, k experts at B tokens and E - k at 0,
    mean B k / E, so std / mean = sqrt(E / k - 1) (3.87 for 128 experts top-8, 1.73 for 8 top-2;
    0 when every expert is active)."""
    return math.sqrt(max(0.0, num_experts / top_k - 1))


def routing_skew_for(spec: ModelSpec, requested: float | None) -> float:
    """The routing skew a run prices: `requested` (--routing-skew), refused above what a router
    can produce for the model (max_routing_skew); by default ROUTING_SKEW_DEFAULT, capped at that
    bound for a model with so few experts per pick that the measured 1.28 cannot occur."""
    moe = spec.moe
    bound = math.inf if moe is None else max_routing_skew(moe.num_experts, moe.top_k)
    if requested is None:
        return min(ROUTING_SKEW_DEFAULT, bound)
    if requested > bound and moe is not None:
        raise MoeplanError(
            f"--routing-skew {requested:g} is above {bound:.3g}, the most any router can give "
            f"{spec.name} ({moe.num_experts} experts, top-{moe.top_k}): every token picking the "
            f"same {moe.top_k} experts has std / mean sqrt(E/k - 1)"
        )
    return requested


_SOURCE_RANKS, _SOURCE_EXPERTS, _SOURCE_PER_EXPERT = 32, 256, 128
_SOURCE_RANK_EXCESS = 1.564  # (max - mean) / mean by rank, the same table


def expected_max_normal(n: int) -> float:
    """E[max of n independent standard normals] (0 at n = 1; 1.42 at 8, 2.07 at 32), by
    numerical integration of x n phi(x) Phi(x)^(n - 1)."""
    return _expected_max_normal(max(1, n))


@cache
def _expected_max_normal(n: int) -> float:
    if n == 1:
        return 0.0
    step, total = 0.002, 0.0
    for i in range(-4500, 4500):
        x = (i + 0.5) * step
        phi = math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
        total += x * n * phi * (0.5 * (1 + math.erf(x / math.sqrt(2)))) ** (n - 1) * step
    return total


def _rank_spread_sq(skew: float, num_experts: int, ranks: int, picks_per_expert: float) -> float:
    """Variance over mean^2 of one rank's picks, its num_experts / ranks experts drawn without
    replacement from the popularity spread `skew`, plus the counting noise 1 / (rank's picks)."""
    n = num_experts // ranks
    popularity = skew**2 * (num_experts - n) / (n * (num_experts - 1))
    return popularity + 1 / (n * picks_per_expert)


@cache
def _tail_factor() -> float:
    """The measured busiest-rank excess over the normal approximation at the source's layout
    (ROUTING_SKEW_DEFAULT): 1.564 against E[max of 32] x the rank spread, 2.07 x 0.447 = 0.925,
    so the popularity term is scaled by 1.69 (its variance by 2.87) to reach the measured
    busiest rank. Hot experts make a heavier tail than a normal one: the normal part alone
    already gives the table's per-rank spread, 0.447 vs 491.6 / 1024 = 0.480."""
    z = expected_max_normal(_SOURCE_RANKS)
    noise = 1 / (_SOURCE_EXPERTS // _SOURCE_RANKS * _SOURCE_PER_EXPERT)
    popularity = _rank_spread_sq(ROUTING_SKEW_DEFAULT, _SOURCE_EXPERTS, _SOURCE_RANKS, 1e30)
    return math.sqrt(((_SOURCE_RANK_EXCESS / z) ** 2 - noise) / popularity)


def busiest_rank_load_factor(
    num_experts: int, top_k: int, tokens: float, ranks: int, skew: float = ROUTING_SKEW_DEFAULT
) -> float:
    """Routed picks on the busiest of `ranks` expert-parallel ranks over the mean rank's
    (tokens x top_k / ranks): 1 + E[max of ranks normals] x the spread of one rank's load, whose
    popularity part scales as the experts a rank sums (skew^2 (E - n) / (n (E - 1)), n = E /
    ranks, times _tail_factor^2) and whose counting part is 1 / (picks the rank gets), so small
    batches are noisier and large ones approach the popularity skew. At the source's layout it
    gives the measured 2.564; skew 0 gives uniform routing's noise (about 1.03 for 128 experts
    top-8 on 8 ranks at 343 tokens a rank). Capped where the busiest rank takes min(k, n) of
    every token's picks."""
    n = num_experts // ranks
    if ranks <= 1 or tokens <= 0 or n < 1:
        return 1.0
    picks_per_expert = tokens * top_k / num_experts
    spread_sq = _rank_spread_sq(skew * _tail_factor(), num_experts, ranks, picks_per_expert)
    return min(1 + expected_max_normal(ranks) * math.sqrt(spread_sq), ranks * min(top_k, n) / top_k)


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
    split: WeightSplit, spec: ModelSpec, layout: Layout, tokens: float, every_expert: bool = False
) -> float:
    """Routed-expert bytes the busiest GPU reads for `tokens` tokens in the stage: each MoE
    layer reads the distinct experts the tokens touch (every expert it holds when the layer
    runs each expert over all tokens, `every_expert`). Tensor-parallel MoE: a 1/G slice of each
    touched expert on every GPU. Expert parallel: the busiest rank's whole experts
    (busiest_rank_experts), which the step waits for."""
    if not spec.is_moe or spec.moe is None:
        return 0.0
    moe = spec.moe
    layers = spec.num_moe_layers * stage_fraction(spec, layout)
    per_expert = bytes_per_expert_per_gpu(split, spec, layout)
    if every_expert:
        held = (
            moe.num_experts // layout.ep
            if experts_whole_per_rank(spec, layout)
            else moe.num_experts
        )
        return layers * held * per_expert
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


def rank_load_factor(spec: ModelSpec, layout: Layout, tokens: float, skew: float) -> float:
    """The busiest expert-parallel rank's routed picks over the mean rank's for `tokens` tokens
    in the stage (busiest_rank_load_factor); 1 where each GPU holds a slice of every expert.
    The skew is capped at what a router can produce for the model (max_routing_skew), so the
    default applies to models with few experts per pick too (plan, check)."""
    if spec.moe is None or not experts_whole_per_rank(spec, layout):
        return 1.0
    moe = spec.moe
    skew = min(skew, max_routing_skew(moe.num_experts, moe.top_k))
    return busiest_rank_load_factor(moe.num_experts, moe.top_k, tokens, layout.ep, skew)


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


def attention_core_flops(
    spec: ModelSpec, new_tokens: int, context_start: int, *, decode: bool = False
) -> float:
    """Score and value FLOPs of attention for `new_tokens` tokens appended after `context_start`
    tokens, causal: each token attends to the tokens its layer still holds (a DSA layer: at
    most the indexer's top_k, plus the indexer's own scores over all of them).
    GQA: 2 x H x (head_dim + v_head_dim) per attended token per layer.
    MLA: `decode` (a decode step, or a verify step scoring 1 + k draft tokens a sequence) runs
    the weight-absorbed kernel over the latent cache (DeepSeek-V2 sec. 2.1.2): per query token
    and head, QK over kv_lora + rope and PV over kv_lora, 2 x H x (2 x kv_lora + rope) a pair.
    The engines run it for every query of a decode or verify batch, however many a sequence
    has: FlashMLA folds seqlen_q x heads into its query rows (deepseek-ai/FlashMLA README:
    `get_mla_metadata(cache_seqlens, s_q * h_q // h_kv, h_kv)`), reading the cache once and
    scoring every query token against all of it; SGLang's
    DeepseekV2AttentionMLA.dispatch_attn_forward_method (python/sglang/srt/models/deepseek_v2.py)
    sends TARGET_VERIFY and draft-extend batches to forward_absorb on every backend; vLLM v1
    pads spec-decode requests to 1 + num_speculative_tokens queries and runs them as decodes.
    Prefill (prompt chunks) runs the expanded form, 2 x H x (qk_nope + rope + v_head_dim) a
    pair, with K and V up-projected.
    Indexer: 2 x index_heads x index_head_dim per scored token.
    Linear-attention / Mamba layers: their state update per token (recurrent_state_flops)."""
    total = recurrent_state_flops(spec, new_tokens)
    for a, window, chunked, layers in read_groups(spec):
        if a.kind is AttentionKind.MLA and decode:
            assert a.kv_lora_rank is not None and a.qk_rope_head_dim is not None
            per_pair = 2 * a.num_heads * (2 * a.kv_lora_rank + a.qk_rope_head_dim)
        else:
            per_pair = 2 * a.num_heads * (a.head_dim + a.v_head_dim)
        attended = (
            _attended_chunked(new_tokens, context_start, window, decode)
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


def is_dense_mla(spec: ModelSpec) -> bool:
    """Every layer is MLA attention without a DSA indexer (DeepSeek-V2/V3, Kimi K2): the
    layers FlashMLA's dense decode kernel runs (engines.FLASHMLA_DECODE_GPUS)."""
    groups = read_groups(spec)
    return (
        bool(groups)
        and not spec.recurrent_layers
        and all(a.kind is AttentionKind.MLA and a.indexer is None for a, _, _, _ in groups)
    )


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


def _attended_chunked(new_tokens: int, context_start: int, chunk: int, decode: bool) -> float:
    """Chunked attention (Llama 4): the token at position p (1-based) attends to
    ((p - 1) mod chunk) + 1 tokens, those of its own chunk up to itself. Prefill: the exact sum
    over the new positions, S(last) - S(first - 1), with S(n) = q x chunk (chunk + 1) / 2 +
    r (r + 1) / 2 for n = q x chunk + r. A decode (or verify) token past the first chunk: the
    mean span (chunk + 1) / 2, as the KV read (memory.cache.decode_span)."""
    if decode or new_tokens == 1:
        return new_tokens * decode_span(context_start + 1, chunk, True)

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
