"""dots.llm1 / dots3, ERNIE-4.5-VL, Hunyuan-A13B, FlexOlmo, Aria and other
older families."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.blocks import mla
from moeplan.model.families import Traits, read_layers
from moeplan.model.fields import Fields
from moeplan.model.specs import LayerSpec, QKNorm, WindowKind


def _dots1(f: Fields, family: str) -> dict[str, Any]:
    """Dots1ForCausalLM: Qwen3Attention (per-head q/k RMSNorm; attention_bias on q, k, v and
    o) in DeepseekV3DecoderLayer (MoE from first_k_dense_replace on: DeepseekV3TopkRouter with
    its e_score_correction_bias, n_shared_experts x moe_intermediate_size shared MLP);
    layer_types sliding from max_window_layers on. The default config (n_routed_experts None)
    does not build in transformers: refused here too."""
    if f.get("n_routed_experts") is None or f.get("n_shared_experts") is None:
        raise SpecError(f"{f.where}: dots1 needs n_routed_experts and n_shared_experts")
    out = read_layers(f, family, Traits(qk_norm=QKNorm.PER_HEAD, score_bias=True))
    bias = f.bool("attention_bias")
    out["attention"] = replace(out["attention"], qkv_bias=bias, o_bias=bias)
    return out


def _layer_overrides(f: Fields, n: int) -> list[dict[str, Any]]:
    """Dots3NoteTextConfig.per_layer_config: {layer index (as a string, zero-padded in
    to_dict): fields that differ from the model's} for the layers whose attention differs."""
    raw = f.get("per_layer_config") or {}
    if not isinstance(raw, dict):
        raise SpecError(f"{f.where}: field 'per_layer_config' must map layer indices to fields")
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    for key, values in raw.items():
        i = int(key)
        if not 0 <= i < n or not isinstance(values, dict):
            raise SpecError(f"{f.where}: per_layer_config entry {key!r} is not a layer's fields")
        out[i] = values
    return out


def _dots3_note(f: Fields, family: str) -> dict[str, Any]:
    """Dots3NoteTextModel: DeepseekV32-style decoder whose Dots3NoteTextAttention is MLA of
    each layer's own shape (per_layer_config: sliding layers 64 heads, kv_lora 1024, nope 192)
    with a per-head sigmoid gate g_proj [hidden, heads] and an RMSNorm on the rope key; the
    GlmMoeDsaIndexer only on indexed_attention layers; DeepseekV32MoE (score-correction bias)
    with one shared MLP of n_shared_experts x shared_experts_intermediate_size on the sparse
    mlp_layer_types. The MTP module (``_dots3_mtp``) counts as mtp where the config names it."""
    out = read_layers(f, family, Traits(score_bias=True))
    n = len(out["layers"])
    moe = out["moe"]
    if moe is not None:
        shared = f.int("shared_experts_intermediate_size", default=moe.expert_intermediate_size)
        out["moe"] = replace(moe, shared_intermediate_size=shared)
    types = f.list("layer_types") or ["indexed_attention"] * n
    overrides = _layer_overrides(f, n)
    base = None
    layers = []
    for i, layer in enumerate(out["layers"]):
        lf = Fields({**f.cfg, **overrides[i]}, f"{f.where}: layer {i}")
        attn = replace(mla(lf), head_gate=True, rope_key_norm=True)
        if types[i] != "indexed_attention":
            attn = replace(attn, indexer=None)
        base = base or attn
        layers.append(replace(layer, attention=attn))
    if base is not None:
        out["attention"] = base
        layers = [replace(x, attention=None) if x.attention == base else x for x in layers]
    out["layers"] = tuple(layers)
    out.update(_dots3_mtp(f, layers))
    return out


def _dots3_mtp(f: Fields, layers: list[LayerSpec]) -> dict[str, Any]:
    """dots3-note's MTP module, which the released checkpoint holds beside its 46 layers
    (transformers drops model.layers.46.* and model.mtp.* on load; vLLM Dot3NoteMTP,
    llama.cpp Dots3NoteModel): enorm, hnorm, eh_proj, one decoder layer with the sliding
    layers' MLA and a dense MLP of intermediate_size, the shared head's norm (the head is the
    lm_head), and its own token embedding model.mtp.embed_tokens. One layer, which every
    speculative step reuses (the model card: "1 shared layer, 1.13B"). config.json names none:
    counted where num_nextn_predict_layers is set (vLLM sets it; so does a GGUF's
    nextn_predict_layers)."""
    steps = f.int("num_nextn_predict_layers", default=0, minimum=0)
    if not steps:
        return {"mtp_layers": 0}
    sliding = next((x for x in layers if x.window_kind is WindowKind.SLIDING), None)
    if sliding is None:
        raise SpecError(f"{f.where}: the MTP layer takes the sliding layers' MLA; none is sliding")
    block = replace(sliding, ffn="dense")
    return {
        "mtp_layers": 1,
        "mtp_blocks": (block,),
        "mtp_embedding": True,
        "dense_intermediate_size": f.int("intermediate_size"),
    }


def _ernie_vl(f: Fields, family: str) -> dict[str, Any]:
    """Ernie4_5_VLMoeTextModel: Ernie4_5_MoeAttention (use_bias on q/k/v/o), mlp_layer_types;
    a sparse layer holds text_moe (moe_intermediate_size[0]) and vision_moe
    (moe_intermediate_size[1]), each moe_num_experts experts top-moe_k with its own router
    and Ernie4_5_MoeStatics bias, beside one shared MLP of moe_num_shared_experts x
    moe_intermediate_size[0]."""
    widths = f.get("moe_intermediate_size")
    if not (isinstance(widths, list) and len(widths) == 2):
        raise SpecError(f"{f.where}: field 'moe_intermediate_size' must list [text, vision] widths")
    text = Fields({**f.cfg, "moe_intermediate_size": widths[0]}, f.where)
    out = read_layers(text, family, Traits(score_bias=True, qkv_bias_key="use_bias"))
    if f.bool("use_bias") and out["moe"] is not None and out["moe"].num_shared_experts:
        raise SpecError(f"{f.where}: use_bias with shared experts (biased shared MLP) not modelled")
    out["mlp_bias"] = f.bool("use_bias")
    if out["moe"] is not None:
        vision = Fields({"w": widths[1]}, f.where).int("w")
        out["moe"] = replace(out["moe"], vision_expert_intermediate_size=vision)
    if f.get("tie_word_embeddings") is None:
        out["tie_word_embeddings"] = True
    return out


def _hunyuan(f: Fields, family: str) -> dict[str, Any]:
    """HunYuanMoEV1DecoderLayer: LlamaAttention (attention_bias on q/k/v/o) with per-head
    query/key RMSNorm; every layer HunYuanMoEV1Moe: num_experts MixtralExperts of
    intermediate_size (top moe_topk; router wg without bias) plus one shared_mlp of
    intermediate_size. Per-layer lists of num_experts / moe_topk are read when all equal."""
    cfg = dict(f.cfg)
    for key in ("num_experts", "moe_topk"):
        value = cfg.get(key)
        if isinstance(value, list):
            if not value or len(set(value)) != 1:
                raise SpecError(f"{f.where}: per-layer '{key}' of different values not modelled")
            cfg[key] = value[0]
    g = Fields(cfg, f.where)
    traits = Traits(qk_norm=QKNorm.PER_HEAD, expert_width_keys=("intermediate_size",))
    out = read_layers(g, family, traits)
    bias = g.bool("attention_bias")
    out["attention"] = replace(out["attention"], qkv_bias=bias, o_bias=bias)
    if out["moe"] is not None:
        width = g.int("intermediate_size")
        out["moe"] = replace(out["moe"], num_shared_experts=1, shared_intermediate_size=width)
    out["dense_intermediate_size"] = 0
    return out


def _flex_olmo(f: Fields, family: str) -> dict[str, Any]:
    """FlexOlmoDecoderLayer: Olmo2Attention (q/k RMSNorm over all heads' channels;
    attention_bias on q/k/v/o), post-attention and post-feedforward RMSNorms (no input norm),
    every layer OlmoeSparseMoeBlock: num_experts experts of intermediate_size, router
    without bias."""
    traits = Traits(qk_norm=QKNorm.FULL, expert_width_keys=("intermediate_size",))
    out = read_layers(f, family, traits)
    bias = f.bool("attention_bias")
    out["attention"] = replace(out["attention"], qkv_bias=bias, o_bias=bias)
    out["dense_intermediate_size"] = 0
    return out


def _aria_text(f: Fields, family: str) -> dict[str, Any]:
    """AriaTextDecoderLayer: LlamaAttention (attention_bias on q/k/v/o), every layer
    AriaTextMoELayer: moe_num_experts AriaGroupedExpertsGemm experts of intermediate_size
    (top moe_topk; router weight without bias) plus one AriaSharedExpertsMLP of
    moe_num_shared_experts x intermediate_size."""
    if f.bool("mlp_bias"):
        raise SpecError(f"{f.where}: mlp_bias (biased shared-experts MLP) not modelled")
    if f.where.endswith(": text_config"):  # AriaForConditionalGeneration
        raise SpecError(f"{f.where}: the Aria wrapper (vision tower, cross-attention projector)")
    out = read_layers(f, family, Traits(expert_width_keys=("intermediate_size",)))
    bias = f.bool("attention_bias")
    out["attention"] = replace(out["attention"], qkv_bias=bias, o_bias=bias)
    out["dense_intermediate_size"] = 0
    return out


READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {
    "dots1": _dots1,
    "dots3_note_text": _dots3_note,
    "ernie4_5_vl_moe_text": _ernie_vl,
    "hunyuan_v1_moe": _hunyuan,
    "flex_olmo": _flex_olmo,
    "aria_text": _aria_text,
}
TRAITS: dict[str, Traits] = {}
# fields these families' configs carry that change no count (named per field, with why)
HARMLESS: frozenset[str] = frozenset()
