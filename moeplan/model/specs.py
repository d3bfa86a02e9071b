"""The normalized model architecture every estimator works on.

Loaders (``hf_config.py`` for config.json, ``catalog.py`` for ``model_specs/``) turn published
configs into these frozen dataclasses; nothing downstream reads a raw config.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from moeplan.model.checkpoint import CheckpointWeights


ADDED_2026 = frozenset({"head_gate", "qsa", "latent_norms", "hc_count", "hc_lowrank"})
"""Fields added for the 2026 families (readers2026), left out of `show --json` when at their
default (False / 0), so the output of the models before them is unchanged."""


def spec_dict(items: list[tuple[str, object]]) -> dict[str, object]:
    """dict_factory for dataclasses.asdict: drops ADDED_2026 fields at their default."""
    return {k: v for k, v in items if not (k in ADDED_2026 and not v)}


class AttentionKind(str, Enum):
    GQA = "gqa"  # multi-head / grouped-query attention (MHA is GQA with kv_heads == heads)
    MLA = "mla"  # DeepSeek multi-head latent attention


class WindowKind(str, Enum):
    FULL = "full"
    SLIDING = "sliding"  # holds the last `window` tokens (Mistral, gpt-oss)
    CHUNKED = "chunked"  # attends within fixed chunks of `window` tokens (Llama 4)


class MixerKind(str, Enum):
    """What mixes tokens in a layer (DESIGN.md, Architectures of 2025-2026)."""

    ATTENTION = "attention"  # softmax attention (GQA/MLA; full, sliding or chunked)
    LINEAR_ATTENTION = "linear_attention"  # Gated DeltaNet (Qwen3-Next, Qwen3.5)
    MAMBA = "mamba"  # Mamba (v1) selective SSM (Jamba)
    MAMBA2 = "mamba2"  # Mamba2 SSD (Nemotron-H)
    NONE = "none"  # an FFN-only block (Nemotron-H MoE / MLP blocks)


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
    output_gate: bool = False  # Qwen3-Next gated attention: q_proj also emits a per-channel gate
    indexer: IndexerSpec | None = None  # DeepSeek-V3.2 / GLM-5 sparse-attention indexer
    # Step3p7Attention g_proj [hidden, num_heads]: one sigmoid gate per head (counted in attention)
    head_gate: bool = False


@dataclass(frozen=True)
class IndexerSpec:
    """DSA lightning indexer (DeepSeek-V3.2-Exp report sec. 2.1): its own small query heads and
    one cached key per token, which pick the top_k cached tokens each query attends to."""

    num_heads: int
    head_dim: int
    top_k: int
    key_dtype: str = "fp8"  # the indexer key cache: fp8 values + an fp32 scale per 128
    shared: bool = False  # GLM-MoE-DSA "shared" layers reuse the previous layer's top-k:
    # sparse attention without indexer weights or keys of their own
    # Qwen4ExpTextQSAIndexer: index_qk_proj [hidden, (heads + 1) x head_dim] and q/k RMSNorms of
    # head_dim (counted in attention); one raw key per token cached in the activation dtype (bf16)
    qsa: bool = False


@dataclass(frozen=True)
class RecurrentSpec:
    """A linear-attention or Mamba mixer: no per-token cache, a fixed state per sequence.

    Shapes are named as in the modeling code: Gated DeltaNet (Qwen3NextGatedDeltaNet) has
    num_heads value heads of head_dim, num_key_heads key heads of state_size; Mamba2
    (NemotronHMamba2Mixer) num_heads SSM heads of head_dim with n_groups B/C groups of
    state_size; Mamba v1 (JambaMambaMixer) one "head" of width d_inner, dt_rank, state_size.
    """

    kind: MixerKind
    num_heads: int
    head_dim: int
    state_size: int
    conv_kernel: int
    num_key_heads: int = 0  # Gated DeltaNet only
    n_groups: int = 1  # Mamba2 only
    dt_rank: int = 0  # Mamba v1 only
    conv_bias: bool = False
    proj_bias: bool = False
    inner_layernorms: bool = False  # Jamba: RMSNorms on dt, B and C

    @property
    def inner_size(self) -> int:
        """Width of the mixer's value/SSM channels (d_inner)."""
        return self.num_heads * self.head_dim

    @property
    def conv_channels(self) -> int:
        """Channels of the causal conv1d: GDN q, k and v; Mamba2 x, B and C; Mamba x."""
        if self.kind is MixerKind.LINEAR_ATTENTION:
            return 2 * self.num_key_heads * self.state_size + self.inner_size
        if self.kind is MixerKind.MAMBA2:
            return self.inner_size + 2 * self.n_groups * self.state_size
        return self.inner_size


@dataclass(frozen=True)
class TowerSpec:
    """A vision or audio encoder beside the language model (multimodal checkpoints)."""

    name: str  # "vision" or "audio"
    family: str  # the tower config's model_type or the wrapper's
    params: int | None  # None: present but its fields are not understood (named, not counted)
    detail: str = ""


@dataclass(frozen=True)
class MoESpec:
    num_experts: int
    top_k: int
    expert_intermediate_size: int
    num_shared_experts: int = 0
    num_zero_experts: int = 0  # LongCat-Flash zero-computation (identity) experts, also routed
    shared_intermediate_size: int = 0  # width of each shared expert
    shared_expert_gate: bool = False  # Qwen2-MoE: sigmoid gate, hidden -> 1
    router_bias: bool = False  # gpt-oss router has a bias
    router_score_bias: bool = False  # DeepSeek-V3 / GLM-4.5 e_score_correction_bias
    expert_bias: bool = False  # gpt-oss expert projections have biases
    latent_size: int | None = None  # Nemotron-H latent MoE: experts on a latent projection
    # RMSNorm weights of the latent width per MoE layer (MuseSparkMoE pre_expert_norm and
    # MuseSparkExperts post_expert_norm: 2); counted in shared_experts, active
    latent_norms: int = 0

    @property
    def expected_real_experts(self) -> float:
        """Experts with weights a token routes to on average: top_k when there are no
        zero-computation experts, else top_k x E / (E + Z) under uniform routing (LongCat-Flash
        tech report: 18.6B-31.3B active, 27B on average, i.e. about 8 of its top-12)."""
        if not self.num_zero_experts:
            return float(self.top_k)
        return self.top_k * self.num_experts / (self.num_experts + self.num_zero_experts)


FFN_KINDS = ("dense", "moe", "moe+dense", "none")


@dataclass(frozen=True)
class LayerSpec:
    """One layer: a token mixer and an FFN block.

    ffn: "dense", "moe", "moe+dense" (MoE beside a dense FFN in one block, LongCat-Flash) or
    "none"; mixer: attention (with `attention` when this layer's shape differs from the
    model's), a recurrent mixer (`recurrent`), or none."""

    ffn: str
    window_kind: WindowKind = WindowKind.FULL
    window: int | None = None  # tokens of KV a layer holds at most; None = all
    mixer: MixerKind = MixerKind.ATTENTION
    attention: AttentionSpec | None = None  # this layer's own attention shape, if it differs
    recurrent: RecurrentSpec | None = None  # linear-attention / Mamba shape

    @property
    def is_moe(self) -> bool:
        return self.ffn in ("moe", "moe+dense")

    @property
    def has_dense_ffn(self) -> bool:
        return self.ffn in ("dense", "moe+dense")

    @property
    def keeps_kv(self) -> bool:
        return self.mixer is MixerKind.ATTENTION


@dataclass(frozen=True)
class OfficialCounts:
    """Published parameter counts and what they include."""

    total: float | None
    active: float | None
    source: str
    # what the publisher says its active figure includes: "with_embedding",
    # "without_input_embedding" (LM head in) or "without_embeddings"; "unstated" where the
    # publisher gives no definition (all three counts are then shown beside the figure)
    active_convention: str = "unstated"
    active_convention_source: str = ""  # where the publisher says so: URL and quote
    total_includes: tuple[str, ...] = ()  # parts the official total holds, e.g. "vision_encoder"
    not_in_config: tuple[str, ...] = ()  # of those, parts the config does not describe
    note: str = ""
    total_truncated: bool = False  # the published total is a truncation ("21B" for 21.8B)
    # why a count misses the figure's published rounding, where it does (empty: it meets it)
    total_discrepancy: str = ""
    active_discrepancy: str = ""


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
    towers: tuple[TowerSpec, ...] = ()  # vision/audio encoders beside the language model
    block_size: int = 1  # layers per published block (LongCat-Flash: 2 sublayers per layer)
    reader_notes: tuple[str, ...] = ()  # what reading the config inferred (shown with counts)
    checkpoint: CheckpointWeights | None = None  # exact weights from the files' tensor headers
    # Qwen4ExpTextGatedResidual hyper-connections over hc_count residual streams (0: none),
    # counted in norms (active): per layer two, each hc_norm [hc x hidden], input_mix_weight_down
    # [hc x hidden, hc_lowrank], input_mix_weight_up [hc_lowrank, hc x hidden] and
    # block_inject_weight [hc x hidden, hc]; the model's hyper_connection_mixer (no inject
    # weight) replaces the final norm
    hc_count: int = 0
    hc_lowrank: int = 0

    # Derived facts, computed once per spec (the planner asks for them thousands of times).
    @cached_property
    def num_layers(self) -> int:
        return len(self.layers)

    @cached_property
    def num_moe_layers(self) -> int:
        return sum(1 for layer in self.layers if layer.is_moe)

    @cached_property
    def num_dense_layers(self) -> int:
        """Layers with a dense FFN (beside a MoE or alone)."""
        return sum(1 for layer in self.layers if layer.has_dense_ffn)

    def layer_attention(self, layer: LayerSpec) -> AttentionSpec:
        return layer.attention or self.attention

    @cached_property
    def attention_groups(self) -> tuple[tuple[AttentionSpec, int | None, int], ...]:
        """(attention shape, window, number of layers) over the layers that keep a KV cache."""
        counts: dict[tuple[AttentionSpec, int | None], int] = {}
        for layer in self.layers:
            if layer.keeps_kv:
                key = (self.layer_attention(layer), layer.window)
                counts[key] = counts.get(key, 0) + 1
        return tuple((a, w, n) for (a, w), n in counts.items())

    @cached_property
    def recurrent_layers(self) -> tuple[RecurrentSpec, ...]:
        return tuple(layer.recurrent for layer in self.layers if layer.recurrent is not None)

    @cached_property
    def num_attention_layers(self) -> int:
        return sum(1 for layer in self.layers if layer.keeps_kv)

    @cached_property
    def num_linear_attention_layers(self) -> int:
        """Gated DeltaNet mixer layers (Qwen3-Next, Qwen3.5)."""
        return sum(1 for layer in self.layers if layer.mixer is MixerKind.LINEAR_ATTENTION)

    @cached_property
    def is_moe(self) -> bool:
        return self.moe is not None and self.num_moe_layers > 0

    @cached_property
    def window_counts(self) -> tuple[tuple[int | None, int], ...]:
        """(window, number of layers) pairs over the layers that keep a KV cache."""
        counts: dict[int | None, int] = {}
        for layer in self.layers:
            if not layer.keeps_kv:
                continue
            counts[layer.window] = counts.get(layer.window, 0) + 1
        return tuple(counts.items())

    @cached_property
    def _hash(self) -> int:
        """The fields' hash, once: lru_cache'd functions of a spec hash it on every call, and the
        nested frozen dataclasses hash their own fields (no deep copy as astuple would make)."""
        return hash(tuple(getattr(self, f.name) for f in fields(self)))

    def __hash__(self) -> int:
        return self._hash
