"""The normalized model architecture every estimator works on.

Loaders (``hf_config.py`` for config.json, ``catalog.py`` for ``model_specs/``) turn published
configs into these frozen dataclasses; nothing downstream reads a raw config.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moeplan.model.checkpoint import CheckpointWeights


def additive(default: Any) -> Any:
    """A field added after the goldens were pinned: left out of ``spec_dict`` (show --json) at its
    default, so the output of models that do not use it stays as it was."""
    return field(default=default, metadata={"additive": True})


def spec_dict(obj: Any) -> Any:
    """dataclasses.asdict, without additive fields at their defaults."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: spec_dict(getattr(obj, f.name))
            for f in fields(obj)
            if not (f.metadata.get("additive") and getattr(obj, f.name) == f.default)
        }
    if isinstance(obj, (list, tuple)):
        return type(obj)(spec_dict(v) for v in obj)
    if isinstance(obj, dict):
        return {k: spec_dict(v) for k, v in obj.items()}
    return copy.deepcopy(obj)


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
    # LFM2 gated short convolution (Lfm2MoeShortConv): in_proj [hidden, 3 x hidden] -> B, C, x;
    # a depthwise causal conv over B x x (conv_L_cache taps), C gate, out_proj [hidden, hidden];
    # a RecurrentSpec of one head of width hidden, no SSM state (state_size 0): its state is the
    # conv window alone
    SHORT_CONV = "short_conv"


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
    q_lora_rank: int | None = None  # MLA, or GQA with single_kv (V4); None = no query compression
    kv_lora_rank: int | None = None  # MLA only
    qk_rope_head_dim: int | None = None  # MLA only
    qk_nope_head_dim: int | None = None  # MLA only
    output_gate: bool = False  # Qwen3-Next gated attention: q_proj also emits a per-channel gate
    indexer: IndexerSpec | None = None  # DeepSeek-V3.2 / GLM-5 sparse-attention indexer
    # Beam: a per-head bias on the output gate (BeamAttention.gate_bias; attention component)
    gate_bias: bool = additive(False)
    # attends to an earlier layer's cache (Gemma4TextAttention / MistralLarge4TextAttention
    # is_kv_shared_layer): no key/value projections, no k norm (MLA: no kv_a_proj_with_mqa nor
    # kv_a_layernorm) and no cache of its own (attention component; cache.stored_kv_bytes)
    kv_shared: bool = additive(False)
    # Gemma4TextAttention attention_k_eq_v (full layers): no v_proj, V comes from the key
    # projection; the cache still holds K and V (attention component)
    k_eq_v: bool = additive(False)
    # MistralLarge4TextSoftmaxScaling on the queries: per-head scale and bias, 2 x heads
    # (attention component, active)
    log_scaling: bool = additive(False)
    # Dots3NoteTextAttention / BailingHybridAttention g_proj [hidden, heads], a sigmoid gate per
    # head (LagunaAttention per-head gating: softplus); attention component, active
    head_gate: bool = additive(False)
    # Dots3NoteTextAttention: k_rope_only_layernorm, RMSNorm over the MLA rope key (attention)
    rope_key_norm: bool = additive(False)
    # DeepseekV4Attention: one kv_proj [hidden, kv_heads x head_dim] read as both key and value
    # (cached once), with a weighted RMSNorm kv_norm [head_dim]; queries low-rank through
    # q_lora_rank (q_a_proj + q_a_norm + q_b_proj) when set on this GQA shape
    single_kv: bool = additive(False)
    # DeepseekV4Attention grouped low-rank output projection: o_a_proj (DeepseekV4GroupedLinear,
    # o_groups blocks [H x v_head_dim / o_groups, o_lora_rank]) then o_b_proj
    # [o_groups x o_lora_rank, hidden]; 0 = a plain o_proj
    o_groups: int = additive(0)
    o_lora_rank: int = additive(0)
    # DeepSeek-V4 CSA / HCA long-range KV compressor (frozen: additive's default is immutable)
    compressor: CompressorSpec | None = additive(None)  # noqa: RUF009


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
    # MistralLarge4TextIndexer: queries from the hidden state through a LayerNorm(hidden) with
    # bias and a per-head softmax scaling (scale + bias): 2 x hidden + 2 x heads more
    # (attention component, active)
    query_norm: bool = additive(False)
    # [hidden, heads] head weights; MiniMaxM3VLIndexer has none
    weights_proj: bool = additive(True)
    # Glm5NextTextIndexer k-pool: keys scored per pool of `kpool` tokens, pooled by a learned
    # gate, index_kpool_compress_ape [kpool, head_dim] and index_kpool_compress_gate
    # [head_dim, hidden] (attention); its cache packs key, gate logits and a validity flag per
    # token (2 x head_dim + 1 values, bf16). 0 = per-token DSA keys
    kpool: int = additive(0)
    # Qwen4ExpTextQSAIndexer: index_qk_proj [hidden, (heads + 1) x head_dim] and q/k RMSNorms of
    # head_dim (counted in attention); one raw key per token cached in the activation dtype (bf16)
    qsa: bool = additive(False)


@dataclass(frozen=True)
class CompressorSpec:
    """DeepSeek-V4 KV compressor beside a sliding-window attention (DeepseekV4HCACompressor,
    DeepseekV4CSACompressor): every `rate` tokens become one cached entry of head_dim, pooled
    by a softmax gate; CSA (`overlap`) projects two series (2 x head_dim) over overlapping
    windows and adds a Lightning Indexer (DeepseekV4Indexer) that compresses its own keys of
    index_head_dim at the same rate and picks index_topk entries per query (index_heads = 0:
    no indexer). Counted in attention; the entries are cache the sliding window does not cap."""

    rate: int
    head_dim: int
    overlap: bool = False
    index_heads: int = 0
    index_head_dim: int = 0
    index_topk: int = 0


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
    # Kimi Delta Attention (KimiLinearDeltaAttention, BailingHybridDeltaAttention,
    # Glm5NextTextLinearAttention): a LINEAR_ATTENTION mixer with num_heads = num_key_heads
    # heads of head_dim = state_size, separate q/k/v projections, a per-channel forget gate and
    # an output gate (counted in attention, active; its state is GDN's: heads x head_dim x
    # head_dim, conv over q, k, v)
    kda: bool = additive(False)
    # KDA forget/output gates through a low-rank bottleneck of this width (KimiLinearForgetGate
    # f_a/f_b, g_a/g_b: linear_head_dim); 0 = full rank [hidden, heads x head_dim] (BailingHybrid)
    gate_rank: int = additive(0)

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
    # Gemma4TextRouter: a learned scale over the router input [hidden] and per_expert_scale
    # [experts] beside the projection (router component, active)
    router_scales: bool = additive(False)
    # Ernie4_5_VLMoeMoeBlock.vision_moe: a second set of num_experts experts of this width with
    # its own router (+ score-correction bias), run on image/video tokens only: counted in
    # routed_experts and router (total), not active (a text token runs text_moe)
    vision_expert_intermediate_size: int = additive(0)
    # RMSNorm weights of the latent width per MoE layer (MuseSparkMoE pre_expert_norm and
    # MuseSparkExperts post_expert_norm: 2); counted in shared_experts, active
    latent_norms: int = additive(0)

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
    # Gemma4TextMLP use_double_wide_mlp: KV-shared layers' dense MLP is this many times
    # dense_intermediate_size wide (dense_ffn component)
    dense_width_factor: int = additive(1)
    # DeepseekV4HashRouter: experts picked by a token-id table (tid2eid, an integer buffer not
    # counted as parameters), gate weight without e_score_correction_bias
    hash_router: bool = additive(False)

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
    # RMSNorms inside each MoE block (A.X-K1 AXK1MoE.post_mlp_layernorm; norms component)
    moe_layer_norms: int = additive(0)
    # Gemma4TextModel per-layer embeddings (PLE): embed_tokens_per_layer [per_layer_input_vocab,
    # layers x per_layer_input_size] (embedding component, a lookup: not active);
    # per_layer_model_projection [hidden, layers x size] and per decoder layer
    # per_layer_input_gate [hidden, size] + per_layer_projection [size, hidden] (dense_ffn,
    # active); per_layer_projection_norm [size] (norms; the per-layer post_per_layer_input_norm
    # is one of norms_per_layer)
    per_layer_input_size: int = additive(0)
    per_layer_input_vocab: int = additive(0)
    # Hyper-connections (HYV4HyperConnection / HYV4HyperHead, the DeepSeek-V4 form): the residual
    # stream is hc_mult copies of hidden; each layer's attn_hc and ffn_hc hold fn
    # [hc_mixes, hc_mult x hidden], base [hc_mixes] and hc_scales scalars; the final hc_head
    # fn [hc_mult, hc_mult x hidden], base [hc_mult] and one scale. Counted in "norms" (active).
    hc_mult: int = additive(1)  # residual streams; 1 = none
    hc_mixes: int = additive(0)  # rows of each layer HC's fn (HYV4: 2m)
    hc_scales: int = additive(0)  # scalars of each layer HC (HYV4: 2)
    # Glm5NextTextHyperHead: the final collapse of the hc_mult streams is a plain mean (no
    # hc_head weights); DeepseekV4HyperConnection's fn emits pre, post and comb ((2 + n) x n
    # mixes, 3 scales) and DeepseekV4HyperHead is learned (False)
    hc_mean_head: bool = additive(False)
    # Qwen4ExpTextGatedResidual hyper-connections over hc_count residual streams (0: none),
    # counted in norms (active): per layer two, each hc_norm [hc x hidden], input_mix_weight_down
    # [hc x hidden, hc_lowrank], input_mix_weight_up [hc_lowrank, hc x hidden] and
    # block_inject_weight [hc x hidden, hc]; the model's hyper_connection_mixer (no inject
    # weight) replaces the final norm
    hc_count: int = additive(0)
    hc_lowrank: int = additive(0)

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
