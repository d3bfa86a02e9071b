"""Memory: weights per quantization, KV cache, and the runtime's own overhead. Bytes, integers.

Sharding across GPUs is a separate step (``parallel.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from moeplan.errors import MoeplanError
from moeplan.memory.cache import (
    DEFAULT_STATE_DTYPE,
    KV_DTYPE_BYTES,
    kv_bytes_per_sequence,
    kv_bytes_per_token_all_layers,
    kv_dtype_bytes,
    state_bytes_per_sequence,
)
from moeplan.memory.quant import QuantScheme, component_bits
from moeplan.model.params import COMPONENTS, ParamCounts, count_params
from moeplan.model.specs import ModelSpec

__all__ = ["KV_DTYPE_BYTES", "kv_dtype_bytes"]


# Runtime overhead, named and documented (override with the CLI/budget options).
CUDA_CONTEXT_BYTES = 1 << 30
"""CUDA context, cuBLAS/cuDNN workspaces and NCCL buffers per GPU process: ~0.5-1 GiB with CUDA
12 on Hopper (vLLM's memory profiler reports this as "non-torch memory"); 1 GiB is used."""

MAX_BATCHED_TOKENS = 8192
"""Tokens in one forward pass when sizing activations: vLLM's chunked-prefill
``max_num_batched_tokens`` default for offline serving."""

DEFAULT_USABLE_FRACTION = 0.9
"""Fraction of device memory an engine may use: vLLM's gpu_memory_utilization default."""

ACTIVATION_BYTES = 2  # activations are BF16 in every engine modelled here
LOGIT_BYTES = 4  # logits are materialized in FP32


def kv_bytes_per_token(spec: ModelSpec, kv_quant: str = "bf16", include_mtp: bool = False) -> int:
    """KV bytes per token summed over the layers that keep a cache (the cost of a token that
    every layer still holds; sliding-window and chunked layers drop it later), the loaded MTP
    layers' included."""
    return kv_bytes_per_token_all_layers(spec, kv_quant, include_mtp)


def kv_cache_bytes(
    spec: ModelSpec, context: int, batch: int, kv_quant: str = "bf16", include_mtp: bool = False
) -> int:
    """KV cache of `batch` sequences of `context` tokens (cache.kv_bytes_per_sequence)."""
    return batch * kv_bytes_per_sequence(spec, context, kv_quant, include_mtp)


def tokens_held_all_layers(spec: ModelSpec, context: int) -> int:
    """Sum over attention layers of the tokens each holds for one sequence."""
    return sum(n * (context if w is None else min(context, w)) for w, n in spec.window_counts)


def tower_bytes(spec: ModelSpec) -> int:
    """Vision/audio towers as published: BF16 (the wrappers' quantization_config covers the
    language model; e.g. Kimi-K2.5's MoonViT is BF16)."""
    return 2 * sum(t.params or 0 for t in spec.towers)


def weights_bytes_by_component(
    spec: ModelSpec, scheme: QuantScheme, counts: ParamCounts | None = None
) -> dict[str, int]:
    """Bytes of each component: params x bits per weight (scales included) / 8, rounded up.
    A checkpoint's own format (`native`) with its files read: the bytes its headers give."""
    if spec.checkpoint is not None and scheme.id == "native":
        return {**dict.fromkeys(COMPONENTS, 0), **spec.checkpoint.component_bytes()}
    counts = counts or count_params(spec)
    bits = component_bits(scheme, spec, counts)
    return {c: math.ceil(n * bits[c] / 8) for c, n in counts.breakdown.items()}


def activation_bytes(spec: ModelSpec, tokens: int = MAX_BATCHED_TOKENS, sequences: int = 1) -> int:
    """Peak activation workspace of one forward pass over `tokens` tokens (BF16): the widest
    layer's activations (activation_width) plus FP32 logits of the `sequences` last positions."""
    return (
        tokens * activation_width(spec) * ACTIVATION_BYTES
        + sequences * spec.vocab_size * LOGIT_BYTES
    )


def activation_width(spec: ModelSpec) -> int:
    """Activation elements a token holds at once inside the widest layer: the residual stream
    and normed input (2 x hidden), then q/k/v and attention output, or the widest FFN
    intermediate (gate + up outputs; top_k copies per token in a MoE layer). Layers run one at a
    time, so the widest layer counts."""
    attn = spec.attention
    attn_width = (
        attn.num_heads * (attn.head_dim + attn.v_head_dim) + 2 * attn.num_kv_heads * attn.head_dim
    )
    ffn_width = 2 * spec.dense_intermediate_size if spec.num_dense_layers else 0
    if spec.is_moe and spec.moe is not None:
        moe = spec.moe
        routed = moe.top_k * (2 * moe.expert_intermediate_size + spec.hidden_size)
        shared = moe.num_shared_experts * 2 * moe.shared_intermediate_size
        ffn_width = max(ffn_width, routed + shared)
    return 2 * spec.hidden_size + max(attn_width, ffn_width)


@dataclass(frozen=True)
class MemoryEstimate:
    weights_bytes: int
    weights_by_component: dict[str, int]
    kv_bytes_per_token: int
    kv_cache_bytes: int
    context: int
    batch: int
    kv_quant: str
    cuda_context_bytes: int
    activation_bytes: int
    state_bytes: int = 0  # linear-attention / Mamba state of all sequences
    state_dtype: str = DEFAULT_STATE_DTYPE
    text_only: bool = False  # vision/audio towers left out of weights_by_component
    include_mtp: bool = False  # MTP layers loaded: their weights and their KV cache

    @property
    def state_bytes_per_sequence(self) -> int:
        return self.state_bytes // self.batch

    @property
    def runtime_overhead_bytes(self) -> int:
        return self.cuda_context_bytes + self.activation_bytes

    @property
    def total_bytes(self) -> int:
        return (
            self.weights_bytes
            + self.kv_cache_bytes
            + self.state_bytes
            + self.runtime_overhead_bytes
        )


def estimate_memory(
    spec: ModelSpec,
    scheme: QuantScheme,
    context: int,
    batch: int,
    kv_quant: str = "bf16",
    include_mtp: bool = False,
    counts: ParamCounts | None = None,
    max_batched_tokens: int = MAX_BATCHED_TOKENS,
    state_dtype: str = DEFAULT_STATE_DTYPE,
    text_only: bool = False,
) -> MemoryEstimate:
    """Whole-model memory on one device (before sharding): weights (vision/audio towers
    included unless text_only, as engines load them), KV cache, recurrent state, overhead."""
    if context < 1 or batch < 1:
        raise MoeplanError("context and batch must be positive integers")
    by_component = weights_bytes_by_component(spec, scheme, counts)
    if not include_mtp:
        by_component = {**by_component, "mtp": 0}
    if text_only:
        by_component.pop("towers", None)
    elif spec.towers and "towers" not in by_component:  # headers already hold the towers
        by_component["towers"] = tower_bytes(spec)
    return MemoryEstimate(
        weights_bytes=sum(by_component.values()),
        weights_by_component=by_component,
        kv_bytes_per_token=kv_bytes_per_token(spec, kv_quant, include_mtp),
        kv_cache_bytes=kv_cache_bytes(spec, context, batch, kv_quant, include_mtp),
        context=context,
        batch=batch,
        kv_quant=kv_quant,
        cuda_context_bytes=CUDA_CONTEXT_BYTES,
        activation_bytes=activation_bytes(spec, min(max_batched_tokens, context * batch), batch),
        state_bytes=batch * state_bytes_per_sequence(spec, state_dtype),
        state_dtype=state_dtype,
        text_only=text_only,
        include_mtp=include_mtp and bool(spec.mtp_layers),
    )
