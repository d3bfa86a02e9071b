"""The normalized model architecture every estimator works on.

Loaders (``hf_config.py`` for config.json, ``catalog.py`` for ``model_specs/``) turn published
configs into these frozen dataclasses; nothing downstream reads a raw config.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING

from moeplan.model.mixer_specs import (
    AttentionKind,
    AttentionSpec,
    CompressorSpec,
    IndexerSpec,
    MixerKind,
    QKNorm,
    RecurrentSpec,
    WindowKind,
    additive,
    spec_dict,
)

if TYPE_CHECKING:
    from moeplan.model.checkpoint import CheckpointWeights

# the mixer shapes live in mixer_specs; every estimator imports them from here
__all__ = [
    "FFN_KINDS",
    "AttentionKind",
    "AttentionSpec",
    "CompressorSpec",
    "IndexerSpec",
    "LayerSpec",
    "MixerKind",
    "MoESpec",
    "ModelSpec",
    "NGramPLESpec",
    "OfficialCounts",
    "QKNorm",
    "RecurrentSpec",
    "TowerSpec",
    "WindowKind",
    "additive",
    "spec_dict",
]


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
class NGramPLESpec:
    """Qwen4-Exp Per-Layer Embeddings (modeling_qwen4_exp.py Qwen4ExpTextPLELayer): on each
    of layer_ids (one-indexed) an ngram_embedding [table_rows[i], row_width] (a lookup of
    (ngram_size - 1) x heads_per_ngram rows a token, concatenated to embed_dim), key_proj
    [embed_dim, hc x hidden], value_proj [embed_dim, hidden], a depthwise conv1d
    [hc x hidden, 1, conv_kernel] with dilation ngram_size and three RMSNorms [hc x hidden]."""

    layer_ids: tuple[int, ...]
    table_rows: tuple[int, ...]  # padded n-gram rows of each PLE layer's table
    row_width: int  # ple_embed_dim // n-gram heads
    embed_dim: int
    conv_kernel: int
    ngram_size: int
    table_format: str = ""  # ple_embedding_dtype as a weight format ("" = the checkpoint's)


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
    # Qwen4-Exp hashed n-gram Per-Layer Embeddings (NGramPLESpec): the tables in "embedding" (a
    # lookup: not active), key/value projections and conv in dense_ffn, the norms in norms
    ngram_ple: NGramPLESpec | None = additive(None)  # noqa: RUF009
    # Attention Residuals over blocks of this many layers (Kimi-K3 attn_res_block_size; 0 =
    # none): each KimiDecoderLayer holds self_attention_res_norm + mlp_res_norm RMSNorm [hidden]
    # and self_attention_res_proj + mlp_res_proj [1, hidden]; KimiLinearModel
    # output_attn_res_norm + output_attn_res_proj. Counted in "norms" (active); no cache (the
    # block summaries live within one forward pass)
    attn_res_block_size: int = additive(0)
    # The blocks of each MTP step when it is not one decoder layer like the main model's last
    # (Nemotron-H mtp_layers_block_type / mtp_hybrid_override_pattern, "*E": an attention block
    # then a MoE block, each with its own norm; vLLM NemotronHMultiTokenPredictor); () = that
    # decoder layer
    mtp_blocks: tuple[LayerSpec, ...] = additive(())
    # The MTP module holds its own token embedding [vocab, hidden] rather than sharing the main
    # one (dots3-note's model.mtp.embed_tokens; vLLM Dot3NoteMTP has_own_embed_tokens): counted
    # once in mtp
    mtp_embedding: bool = additive(False)

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
        return self._kv_groups_of(self.layers, 1)

    @cached_property
    def mtp_attention_groups(self) -> tuple[tuple[AttentionSpec, int | None, int], ...]:
        """(attention shape, window, number of layers) over the MTP layers' attention blocks,
        which keep a KV cache of their own when the MTP layers are loaded (vLLM registers the
        draft's attention layers in the same KV cache config, gpu_model_runner
        get_kv_cache_spec; SGLang's draft worker keeps a KV pool of the same tokens). Each MTP
        step is one decoder layer with the model's full attention (mtp_layer_params), or its
        mtp_blocks (Nemotron-H "*E": one attention block; Step-3.5: its MTP layer type)."""
        if not self.mtp_layers:
            return ()
        return self._kv_groups_of(self.mtp_blocks or (LayerSpec("moe"),), self.mtp_layers)

    def _kv_groups_of(
        self, layers: tuple[LayerSpec, ...], copies: int
    ) -> tuple[tuple[AttentionSpec, int | None, int], ...]:
        """(attention shape, window, number of layers) over `layers` that keep a KV cache, each
        standing `copies` times."""
        counts: dict[tuple[AttentionSpec, int | None], int] = {}
        for layer in layers:
            if layer.keeps_kv:
                key = (self.layer_attention(layer), layer.window)
                counts[key] = counts.get(key, 0) + copies
        return tuple((a, w, n) for (a, w), n in counts.items())

    def kv_groups(
        self, include_mtp: bool = False
    ) -> tuple[tuple[AttentionSpec, int | None, int], ...]:
        """attention_groups, and the MTP layers' groups when they are loaded."""
        return self.attention_groups + (self.mtp_attention_groups if include_mtp else ())

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
