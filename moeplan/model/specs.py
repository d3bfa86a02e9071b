"""The normalized model architecture every estimator works on.

Loaders (``hf_config.py`` for config.json, ``catalog.py`` for ``model_specs/``) turn published
configs into these frozen dataclasses; nothing downstream reads a raw config.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, field
from enum import Enum
from functools import cached_property


class AttentionKind(str, Enum):
    GQA = "gqa"  # multi-head / grouped-query attention (MHA is GQA with kv_heads == heads)
    MLA = "mla"  # DeepSeek multi-head latent attention


class WindowKind(str, Enum):
    FULL = "full"
    SLIDING = "sliding"  # holds the last `window` tokens (Mistral, gpt-oss)
    CHUNKED = "chunked"  # attends within fixed chunks of `window` tokens (Llama 4)


class QKNorm(str, Enum):
    NONE = "none"
    PER_HEAD = "per_head"  # RMSNorm over head_dim, shared by heads (Qwen3, GLM-4.5)
    FULL = "full"  # RMSNorm over all q and all k channels (OLMoE)


@dataclass(frozen=True)
class AttentionSpec:
    kind: AttentionKind
    num_heads: int
    num_kv_heads: int
    head_dim: int  # q/k width per head (MLA: qk_nope_head_dim + qk_rope_head_dim)
    v_head_dim: int
    qkv_bias: bool = False
    o_bias: bool = False
    qk_norm: QKNorm = QKNorm.NONE
    sinks: bool = False  # learned per-head attention sinks (gpt-oss)
    q_lora_rank: int | None = None  # MLA only; None = no query compression
    kv_lora_rank: int | None = None  # MLA only
    qk_rope_head_dim: int | None = None  # MLA only
    qk_nope_head_dim: int | None = None  # MLA only


@dataclass(frozen=True)
class MoESpec:
    num_experts: int
    top_k: int
    expert_intermediate_size: int
    num_shared_experts: int = 0
    shared_intermediate_size: int = 0  # width of each shared expert
    shared_expert_gate: bool = False  # Qwen2-MoE: sigmoid gate, hidden -> 1
    router_bias: bool = False  # gpt-oss router has a bias
    router_score_bias: bool = False  # DeepSeek-V3 / GLM-4.5 e_score_correction_bias
    expert_bias: bool = False  # gpt-oss expert projections have biases


@dataclass(frozen=True)
class LayerSpec:
    ffn: str  # "dense" or "moe"
    window_kind: WindowKind = WindowKind.FULL
    window: int | None = None  # tokens of KV a layer holds at most; None = all

    @property
    def is_moe(self) -> bool:
        return self.ffn == "moe"


@dataclass(frozen=True)
class OfficialCounts:
    """Published parameter counts and what they include."""

    total: float | None
    active: float | None
    source: str
    # which of moeplan's active counts the publisher's figure corresponds to:
    # "with_embedding", "without_input_embedding" (LM head in) or "without_embeddings"
    active_convention: str = "without_input_embedding"
    total_includes: tuple[str, ...] = ()  # parts the official total holds, e.g. "vision_encoder"
    not_in_config: tuple[str, ...] = ()  # of those, parts the config does not describe
    note: str = ""


@dataclass(frozen=True)
class ModelSpec:
    name: str  # catalog id or the config path
    family: str  # HF model_type (or "grok-1")
    hidden_size: int
    vocab_size: int
    layers: tuple[LayerSpec, ...]
    attention: AttentionSpec
    moe: MoESpec | None
    dense_intermediate_size: int  # width of dense FFN layers (0 if none)
    ffn_gated: bool = True  # SwiGLU/GeGLU: three matrices (gate, up, down)
    mlp_bias: bool = False  # dense FFN biases
    tie_word_embeddings: bool = False
    lm_head_bias: bool = False
    norm_has_bias: bool = False  # LayerNorm with bias (Phi-3.5-MoE) vs RMSNorm
    norms_per_layer: int = 2
    mtp_layers: int = 0  # DeepSeek/GLM multi-token-prediction layers in the checkpoint
    max_position_embeddings: int | None = None
    native_quant: str = "bf16"
    display_name: str = ""
    source: str = ""
    official: OfficialCounts | None = None
    notes: tuple[str, ...] = field(default=())

    # Derived facts, computed once per spec (the planner asks for them thousands of times).
    @cached_property
    def num_layers(self) -> int:
        return len(self.layers)

    @cached_property
    def num_moe_layers(self) -> int:
        return sum(1 for layer in self.layers if layer.is_moe)

    @cached_property
    def num_dense_layers(self) -> int:
        return self.num_layers - self.num_moe_layers

    @cached_property
    def is_moe(self) -> bool:
        return self.moe is not None and self.num_moe_layers > 0

    @cached_property
    def window_counts(self) -> tuple[tuple[int | None, int], ...]:
        """(window, number of layers) pairs: the KV a layer holds depends only on its window."""
        counts: dict[int | None, int] = {}
        for layer in self.layers:
            counts[layer.window] = counts.get(layer.window, 0) + 1
        return tuple(counts.items())

    @cached_property
    def _hash(self) -> int:
        return hash(astuple(self, tuple_factory=lambda items: tuple(map(_hashable, items))))

    def __hash__(self) -> int:
        return self._hash


def _hashable(value: object) -> object:
    return tuple(sorted(value.items())) if isinstance(value, dict) else value
