"""Families of 2025-2026 read as field mappings over the building blocks (``blocks.py``).

One reader, ``read_layers``, builds every layer as a token mixer plus an FFN block; a family is
a ``Traits`` record of what its modeling code does that the standard fields do not say (named
per family below, with the modeling code it follows). A config of an unknown model_type whose
fields are all standard is read with the default traits (``infer``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.blocks import (
    DENSE_WIDTH,
    EXPERT_WIDTH,
    NUM_LAYERS,
    ffn_plan,
    gated_deltanet,
    gqa,
    mamba1,
    mamba2,
    mixer_plan,
    mla,
    moe_block,
    nemotron_mtp_plan,
    nemotron_plan,
)
from moeplan.model.fields import Fields
from moeplan.model.specs import (
    AttentionSpec,
    LayerSpec,
    MixerKind,
    QKNorm,
    RecurrentSpec,
    WindowKind,
)


@dataclass(frozen=True)
class Traits:
    """What a family's modeling code does beyond its standard fields."""

    qk_norm: QKNorm = QKNorm.NONE
    qk_norm_key: str = ""  # a boolean field that switches qk_norm on
    output_gate: bool = False  # Qwen3-Next gated attention
    qkv_bias_key: str = "attention_bias"
    o_bias_key: str = ""  # a boolean field for the output projection's bias, when not qkv's
    score_bias: bool = False  # router holds e_score_correction_bias
    score_bias_key: str = ""  # a boolean field that says so
    score_bias_default: bool = False  # when that field is absent
    shared_gate: bool = False  # Qwen-style sigmoid gate on the shared expert
    expert_width_keys: tuple[str, ...] = EXPERT_WIDTH
    ffn_gated_key: str = ""  # activation field: "relu2" means ungated experts and MLPs
    mtp_keys: tuple[str, ...] = ("num_nextn_predict_layers",)
    mtp_default: int = 0  # MTP layers the checkpoint holds when no mtp_keys field says
    sublayers: int = 1  # LongCat-Flash: 2 attention + 2 dense FFN sublayers per layer
    tie_default: bool | None = None
    sink_keys: tuple[str, str] = ("", "")  # (full, sliding) per-head attention sink fields
    sink_defaults: tuple[bool, bool] = (False, False)  # when those fields are absent
    swa_kv_multiplier: int = 1  # sliding layers' KV heads when no swa_ fields say
    sinks: bool = False  # per-head attention sinks on every layer, no field says so (flint)
    gate_bias: bool = False  # a per-head bias on the output gate (Beam)
    norms_per_layer: int = 2  # 4: sandwich norms around attention and FFN (Glm4DecoderLayer)
    moe_layer_norms: int = 0  # norms inside each MoE block (AXK1MoE.post_mlp_layernorm)
    note: str = ""


DEEPSEEK_ROUTER = Traits(score_bias_key="topk_method")  # noaux_tc: e_score_correction_bias
QWEN_NEXT = Traits(
    qk_norm=QKNorm.PER_HEAD,
    output_gate=True,
    shared_gate=True,
    mtp_keys=("mtp_num_hidden_layers", "num_nextn_predict_layers"),
)

TRAITS: dict[str, Traits] = {
    # Qwen3NextAttention: q_proj emits q and a gate, q/k RMSNorm per head; shared expert gated.
    # The published config.json names no MTP layer, yet the checkpoint holds one (mtp.* keys:
    # NVIDIA/Model-Optimizer PR 860 "the MTP weights are not stored separately in safetensors";
    # llama.cpp PR 25589 converts it from the released files) and vLLM's
    # Qwen3NextMultiTokenPredictor builds getattr(config, "num_nextn_predict_layers", 1)
    "qwen3_next": replace(QWEN_NEXT, mtp_default=1),
    "qwen3_5_moe": QWEN_NEXT,
    "qwen3_5_moe_text": QWEN_NEXT,
    # Qwen3_5TextModel: the same layers with a dense Qwen3_5MLP in each (no experts)
    "qwen3_5": QWEN_NEXT,
    "qwen3_5_text": QWEN_NEXT,
    # Qwen3VLMoeTextModel = Qwen3-MoE text tower (q/k norm per head)
    "qwen3_vl_moe": Traits(qk_norm=QKNorm.PER_HEAD),
    "qwen3_vl_moe_text": Traits(qk_norm=QKNorm.PER_HEAD),
    # DeepseekV32 / GlmMoeDsa: DeepSeek-V3 MLA + MoE with the DSA indexer
    "deepseek_v32": DEEPSEEK_ROUTER,
    "glm_moe_dsa": DEEPSEEK_ROUTER,
    # MiMoV2Flash: sigmoid router with bias; sinks on sliding layers only (config flags)
    # (transformers v5 drops the swa_ and sink fields: 2x KV heads and sinks on sliding layers)
    "mimo_v2_flash": replace(
        DEEPSEEK_ROUTER,
        sink_keys=("add_full_attention_sink_bias", "add_swa_attention_sink_bias"),
        sink_defaults=(False, True),
        swa_kv_multiplier=2,
    ),
    # MiniMaxM2Attention: q/k RMSNorm over all heads (qk_norm_type per_layer); routing bias;
    # intermediate_size is the per-expert width; num_mtp_modules MTP modules; transformers v5
    # drops use_routing_bias and always builds the bias
    "minimax_m2": Traits(
        qk_norm=QKNorm.FULL,
        score_bias_key="use_routing_bias",
        score_bias_default=True,
        expert_width_keys=("intermediate_size",),
        mtp_keys=("num_mtp_modules",),
    ),
    # NemotronH: relu2 ungated experts/MLP, DeepSeek-V3 style router with correction bias
    "nemotron_h": Traits(score_bias=True, ffn_gated_key="mlp_hidden_act"),
    # Jamba: intermediate_size is both the expert and the dense width
    "jamba": Traits(expert_width_keys=("intermediate_size",)),
    # LongcatFlash: per layer 2 MLA + 2 dense MLPs + a shortcut MoE with zero experts
    "longcat_flash": Traits(score_bias=True, sublayers=2),
    # BailingMoe (v1): fused qkv with use_qkv_bias, the output projection (attention.dense)
    # with use_bias; BailingMoeV2 adds per-head q/k norm and the router expert bias
    "bailing_moe": Traits(qkv_bias_key="use_qkv_bias", o_bias_key="use_bias"),
    "bailing_moe_v2": Traits(
        qkv_bias_key="use_qkv_bias",
        o_bias_key="use_bias",
        qk_norm_key="use_qk_norm",
        qk_norm=QKNorm.PER_HEAD,
        score_bias_key="moe_router_enable_expert_bias",
    ),
    # DeepseekForCausalLM (v1): MHA + fine-grained experts, softmax router without bias;
    # attention_bias puts a bias on q/k/v and o_proj (DeepseekAttention)
    "deepseek": Traits(o_bias_key="attention_bias"),
    # Ernie4_5_Moe: Ernie4_5_MoeStatics holds e_score_correction_bias; use_bias on q/k/v/o
    "ernie4_5_moe": Traits(score_bias=True, qkv_bias_key="use_bias", tie_default=True),
}


def read_layers(f: Fields, family: str, traits: Traits | None = None) -> dict[str, Any]:
    """ModelSpec fields of a decoder of mixers + FFN blocks from the standard fields."""
    t = traits or TRAITS.get(family, Traits())
    hidden = f.int("hidden_size")
    nemotron = f.has("hybrid_override_pattern") or f.has("layers_block_type")
    n = len(f.list("layers_block_type")) or f.int_of(NUM_LAYERS)
    moe = moe_block(f, t.expert_width_keys, _score_bias(f, t), t.shared_gate)
    attention = _attention(f, hidden, t)
    sliding_attention = attention
    if f.has("swa_num_attention_heads"):
        sliding_attention = gqa(f, hidden, "swa_", **_attn_kw(f, t, sliding=True))
    elif t.swa_kv_multiplier > 1:  # MiMoV2FlashAttention (v5): sliding layers double KV heads
        sliding_attention = replace(
            attention,
            num_kv_heads=attention.num_kv_heads * t.swa_kv_multiplier,
            **_attn_kw(f, t, sliding=True),
        )
    window = f.opt_int("sliding_window")
    chunk = f.opt_int("attention_chunk_size") or window
    layers: list[LayerSpec] = []
    shared_index = indexer_sharing(f, n)
    if nemotron:
        for mixer, ffn in nemotron_plan(f):
            layers.append(_layer(f, ffn, mixer, WindowKind.FULL, None, None, hidden))
    else:
        ffns = ffn_plan(f, n, moe is not None)
        for (mixer, kind), ffn in zip(mixer_plan(f, n), ffns, strict=True):
            attn = sliding_attention if kind is WindowKind.SLIDING else None
            if attn is attention:
                attn = None
            held = {WindowKind.FULL: None, WindowKind.SLIDING: window}.get(kind, chunk)
            if attention.indexer is not None and shared_index[len(layers)]:
                attn = replace(attention, indexer=replace(attention.indexer, shared=True))
            if kind is not WindowKind.FULL and held is None:
                raise SpecError(f"{f.where}: sliding/chunked layers need field 'sliding_window'")
            if t.sublayers == 2:  # LongcatFlashDecoderLayer: shortcut MoE beside mlps[0]
                layers.append(LayerSpec("moe+dense" if ffn == "moe" else "dense"))
                layers.append(LayerSpec("dense"))
                continue
            layers.append(_layer(f, ffn, mixer, kind, held, attn, hidden))
    has_dense = any(layer.has_dense_ffn for layer in layers)
    gated = f.str(t.ffn_gated_key, "silu") != "relu2" if t.ffn_gated_key else True
    out: dict[str, Any] = dict(
        hidden_size=hidden,
        attention=attention,
        layers=tuple(layers),
        moe=moe,
        dense_intermediate_size=f.int_of(DENSE_WIDTH) if has_dense else 0,
        ffn_gated=gated,
        mlp_bias=f.bool("mlp_bias"),
        mtp_layers=_mtp(f, t),
        norms_per_layer=1 if nemotron else t.norms_per_layer,
        moe_layer_norms=t.moe_layer_norms,
        block_size=t.sublayers,
    )
    if nemotron:  # NemotronHMultiTokenPredictor (vLLM): the MTP step's own blocks
        plan = nemotron_mtp_plan(f)  # read (and checked) even where no MTP layer is built
        if out["mtp_layers"]:
            out["mtp_blocks"] = tuple(
                _layer(f, ffn, m, WindowKind.FULL, None, None, hidden) for m, ffn in plan
            )
    if t.tie_default is not None and f.get("tie_word_embeddings") is None:
        out["tie_word_embeddings"] = t.tie_default
    return out


def indexer_sharing(f: Fields, n: int) -> list[bool]:
    """GlmMoeDsaConfig: per-layer indexer_types ("full" / "shared"), or index_topk_pattern
    ("F"/"S"), or index_topk_freq with index_skip_topk_offset (default 2): layer i runs its
    own indexer when max(i - offset + 1, 0) % freq == 0. Every layer runs one otherwise."""
    types = f.list("indexer_types")
    pattern = f.get("index_topk_pattern")
    if isinstance(pattern, str):
        types = [{"F": "full", "S": "shared"}.get(c, c) for c in pattern]
    elif isinstance(pattern, list):
        types = pattern
    if types:
        if len(types) != n or any(t not in ("full", "shared") for t in types):
            raise SpecError(f"{f.where}: indexer pattern must name full/shared for {n} layers")
        return [t == "shared" for t in types]
    freq = f.int("index_topk_freq", default=1)
    offset = f.int("index_skip_topk_offset", default=2, minimum=0)
    return [max(i - offset + 1, 0) % freq != 0 for i in range(n)]


def _layer(
    f: Fields,
    ffn: str,
    mixer: MixerKind,
    kind: WindowKind,
    window: int | None,
    attn: AttentionSpec | None,
    hidden: int,
) -> LayerSpec:
    recurrent: RecurrentSpec | None = None
    if mixer is MixerKind.LINEAR_ATTENTION:
        recurrent = gated_deltanet(f)
    elif mixer is MixerKind.MAMBA2:
        recurrent = mamba2(f)
    elif mixer is MixerKind.MAMBA:
        recurrent = mamba1(f, hidden)
    return LayerSpec(ffn, kind, window, mixer, attn, recurrent)


def _attention(f: Fields, hidden: int, t: Traits) -> AttentionSpec:
    if f.has("kv_lora_rank"):
        return mla(f)
    return gqa(f, hidden, **_attn_kw(f, t, sliding=False))


def _attn_kw(f: Fields, t: Traits, sliding: bool) -> dict[str, Any]:
    qk_norm = t.qk_norm
    if t.qk_norm_key and not f.bool(t.qk_norm_key):
        qk_norm = QKNorm.NONE
    if t.qk_norm is QKNorm.FULL and f.get("use_qk_norm") is False:
        qk_norm = QKNorm.NONE
    if f.str("qk_norm_type") == "per_layer":
        qk_norm = QKNorm.FULL
    bias = f.bool(t.qkv_bias_key)
    sink_key = t.sink_keys[1 if sliding else 0]
    sinks = f.bool(sink_key, default=t.sink_defaults[1 if sliding else 0]) if sink_key else t.sinks
    return dict(
        qkv_bias=bias,
        o_bias=f.bool(t.o_bias_key) if t.o_bias_key else bias and t.qkv_bias_key == "use_bias",
        qk_norm=qk_norm,
        output_gate=f.bool("attn_output_gate", default=t.output_gate),
        sinks=sinks,
        gate_bias=t.gate_bias,
    )


def _score_bias(f: Fields, t: Traits) -> bool:
    if t.score_bias:
        return True
    if t.score_bias_key == "topk_method":  # v5 configs drop it and always build the bias
        return f.get("topk_method") in ("noaux_tc", None)
    if not t.score_bias_key:
        return False
    return f.bool(t.score_bias_key, default=t.score_bias_default)


def _mtp(f: Fields, t: Traits) -> int:
    """MTP layers in the checkpoint; MiniMax-M2: num_mtp_modules x mtp_transformer_layers."""
    if t.mtp_keys == ("num_mtp_modules",):
        if f.get("use_mtp") is False:
            return 0
        return f.int_of(t.mtp_keys, default=0, minimum=0) * f.int(
            "mtp_transformer_layers", default=1, minimum=0
        )
    return f.int_of(t.mtp_keys, default=t.mtp_default, minimum=0)
