"""Vision and audio encoders of wrapped (multimodal) checkpoints: found at any depth, counted
from their config where its fields are understood, and always named."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moeplan.model.fields import config_int
from moeplan.model.readers2026 import kimi_k3_vision
from moeplan.model.readers2026.gemma_mistral_towers import pixtral_mistral3
from moeplan.model.specs import TowerSpec

TOWER_KEYS = {"vision_config": "vision", "audio_config": "audio"}
NESTED_KEYS = ("thinker_config", "text_config", "language_config", "llm_config")


def find_towers(cfg: dict[str, Any], family: str) -> tuple[TowerSpec, ...]:
    """Every vision_config / audio_config in the config, at any depth of the wrappers."""
    found: list[TowerSpec] = []
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else {}
    for key, name in TOWER_KEYS.items():
        sub = cfg.get(key)
        if isinstance(sub, dict) and sub:
            # widths the projector reads from the wrapper (transformers v5 Kimi-K2.5 keeps
            # projection_hidden_size beside the vision config, MiniMax-M3 projector_hidden_size)
            context = {
                "projection_hidden_size": cfg.get("projection_hidden_size"),
                "text_hidden_size": (text or {}).get("hidden_size"),
            }
            if "projector_hidden_size" in cfg:
                context["projector_hidden_size"] = cfg["projector_hidden_size"]
            wrapper_type = str(cfg.get("model_type") or family)
            found.append(count_tower(name, {**context, **sub}, wrapper_type, cfg))
    for key in NESTED_KEYS:
        sub = cfg.get(key)
        if isinstance(sub, dict):
            found.extend(find_towers(sub, family))
    return tuple(found)


def vit_block_params(hidden: int, intermediate: int) -> int:
    """One pre-norm ViT block with biases: LayerNorm x 2 (weight + bias), fused qkv
    [hidden, 3 x hidden] + bias, proj [hidden, hidden] + bias, ungated MLP fc1 [hidden,
    intermediate] + bias and fc2 [intermediate, hidden] + bias."""
    norms = 2 * 2 * hidden
    attn = hidden * 3 * hidden + 3 * hidden + hidden * hidden + hidden
    mlp = hidden * intermediate + intermediate + intermediate * hidden + hidden
    return norms + attn + mlp


def patch_merger_params(width: int, merged: int, out: int, norm_width: int) -> int:
    """Patch merger (Qwen3-VL PatchMerger, Kimi patchmerger projector): LayerNorm(norm_width)
    with bias, fc1 [merged, merged] + bias, GELU, fc2 [merged, out] + bias; `merged` is the
    tower width times the merge kernel area."""
    del width
    return 2 * norm_width + merged * merged + merged + merged * out + out


def count_tower(
    name: str, cfg: dict[str, Any], family: str, wrapper: dict[str, Any] | None = None
) -> TowerSpec:
    """A tower counted by its family's own function (TOWER_COUNTERS, by the wrapper's and the
    tower's model_type, or any wrapper's), else recognised by its fields: Qwen3-VL / Qwen3.5
    vision (depth, hidden_size, patch_size, temporal_patch_size, spatial_merge_size,
    deepstack_visual_indexes; Qwen3VLMoeVisionModel) and Kimi MoonViT (vt_* fields, or v5
    names, patchmerger projector; modeling_kimi_k25); other towers are named with their
    parameters not counted. ``family`` is the wrapper's model_type."""
    tower_type = str(cfg.get("model_type") or "")
    counter = TOWER_COUNTERS.get((family, tower_type)) or TOWER_COUNTERS.get((ANY, tower_type))
    tower_family = (counter.family if counter else None) or tower_type or family
    try:
        if counter is not None:
            params = counter.count(cfg, wrapper or {})
            return TowerSpec(name, tower_family, params, counter.detail)
        if {"depth", "hidden_size", "intermediate_size", "patch_size"} <= cfg.keys():
            return TowerSpec(name, tower_family, _qwen_vl(cfg), "ViT counted from vision_config")
        if {"vt_hidden_size", "vt_num_hidden_layers", "vt_intermediate_size"} <= cfg.keys():
            return TowerSpec(
                name, tower_family, _moonvit(cfg), "MoonViT counted from vision_config"
            )
        if {"pos_emb_height", "num_hidden_layers", "hidden_size"} <= cfg.keys():  # v5 names
            v5 = {
                "vt_hidden_size": cfg["hidden_size"],
                "vt_num_hidden_layers": cfg["num_hidden_layers"],
                "vt_intermediate_size": cfg.get("intermediate_size"),
                "init_pos_emb_height": cfg["pos_emb_height"],
                "init_pos_emb_width": cfg.get("pos_emb_width"),
                "mm_hidden_size": cfg.get("projection_hidden_size") or cfg["hidden_size"],
                "text_hidden_size": cfg.get("text_hidden_size"),
                "patch_size": cfg.get("patch_size"),
                "merge_kernel_size": cfg.get("merge_kernel_size"),
            }
            return TowerSpec(name, tower_family, _moonvit(v5), "MoonViT counted from vision_config")
        if {"num_hidden_layers", "hidden_size", "intermediate_size"} <= cfg.keys():
            return TowerSpec(
                name,
                tower_family,
                _generic_vit(cfg),
                "approximate: ViT blocks and patch embedding only (adapter/projector not known)",
            )
    except (TypeError, ValueError):
        pass
    return TowerSpec(name, tower_family, None, "fields not understood: parameters not counted")


def _generic_vit(cfg: dict[str, Any]) -> int:
    """A ViT of num_hidden_layers blocks (vit_block_params) plus a patch embedding
    (num_channels x patch^2 -> hidden) when patch_size is given: a lower bound."""
    h = config_int(cfg, "hidden_size")
    patch = config_int(cfg, "patch_size", 0)
    embed = config_int(cfg, "num_channels", 3) * patch * patch * h
    blocks = config_int(cfg, "num_hidden_layers") * vit_block_params(
        h, config_int(cfg, "intermediate_size")
    )
    return embed + blocks


def _qwen_vl(cfg: dict[str, Any]) -> int:
    """Qwen3VLMoeVisionModel: Conv3d patch embedding (in_channels x temporal_patch x patch^2
    -> hidden, bias), learned position table [num_position_embeddings, hidden], depth ViT
    blocks, a merger (norm over hidden) and one merger per deepstack index (norm over the
    merged width)."""
    h = config_int(cfg, "hidden_size")
    patch = config_int(cfg, "patch_size")
    embed = (
        config_int(cfg, "in_channels", 3)
        * config_int(cfg, "temporal_patch_size", 1)
        * patch
        * patch
        * h
    )
    pos = config_int(cfg, "num_position_embeddings", 0) * h
    blocks = config_int(cfg, "depth") * vit_block_params(h, config_int(cfg, "intermediate_size"))
    merged = h * config_int(cfg, "spatial_merge_size", 2) ** 2
    out = config_int(cfg, "out_hidden_size", h)
    deepstack = len(cfg.get("deepstack_visual_indexes") or [])
    mergers = patch_merger_params(h, merged, out, h) + deepstack * patch_merger_params(
        h, merged, out, merged
    )
    return embed + h + pos + blocks + mergers


# Qwen4ExpVisionConfig's defaults (transformers 5.23 configuration_qwen4_exp.py), which
# Qwen4ExpConfig fills into a vision_config that omits them
QWEN4_EXP_VISION = {
    "depth": 27,
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "in_channels": 3,
    "patch_size": 16,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "out_hidden_size": 3584,
    "num_position_embeddings": 2304,
}


def _qwen4_exp_vision(cfg: dict[str, Any]) -> int:
    """Qwen4ExpVisionModel: the Qwen3-VL ViT (_qwen_vl) with pos_embed
    [num_position_embeddings, hidden] and one merger, no deepstack mergers (the class has
    none, whatever deepstack_visual_indexes says); absent fields take QWEN4_EXP_VISION."""
    fields = {k: v for k, v in cfg.items() if v is not None and k != "deepstack_visual_indexes"}
    return _qwen_vl({**QWEN4_EXP_VISION, **fields})


def _moonvit(cfg: dict[str, Any]) -> int:
    """Kimi MoonViT (Kimi-K2.5, Muse Spark's v5 names): Kimi-K3's MoonViT3d (kimi_k3_vision) at
    its defaults, LayerNorm and biases, qkv width = hidden: Conv2d patch embedding, learned 2-D
    position table, ViT blocks, final LayerNorm; and its projector, patchmerger unless the
    config names another (LayerNorm(mm_hidden), merged -> merged -> text_hidden_size)."""
    return kimi_k3_vision.moonvit3d_params(cfg) + kimi_k3_vision.projector_params(
        {"mm_projector_type": "patchmerger", **cfg}
    )


def _ernie_vl(cfg: dict[str, Any]) -> int:
    """Ernie4_5_VLMoeVisionTransformerPretrainedModel: patch embedding Linear(3 x patch^2 ->
    hidden) without bias, depth ViT blocks (vit_block_params), final LayerNorm; and
    Ernie4_5_VLMoeVariableResolutionResamplerModel: spatial_linear (fc1 [m, m], fc2 [m, m],
    LayerNorm(m); m = hidden x spatial_merge^2), temporal_linear (fc1 [m x temporal_merge,
    m], fc2 [m, m], LayerNorm(m)), mlp [m, text hidden] (all with biases), after_norm RMSNorm
    over the text hidden size."""
    h = config_int(cfg, "hidden_size")
    patch = config_int(cfg, "patch_size")
    vit = config_int(cfg, "in_channels", 3) * patch * patch * h + 2 * h
    vit += config_int(cfg, "depth") * vit_block_params(h, config_int(cfg, "intermediate_size"))
    m = h * config_int(cfg, "spatial_merge_size", 2) ** 2
    t = m * config_int(cfg, "temporal_merge_size", 2)
    text = config_int(cfg, "text_hidden_size")
    spatial = 2 * (m * m + m) + 2 * m
    temporal = t * m + m + m * m + m + 2 * m
    return vit + spatial + temporal + m * text + text + text


def _minimax_m3(cfg: dict[str, Any]) -> int:
    """MiniMaxM3VLVisionModel: Conv3d patch embedding without bias (num_channels x
    temporal_patch x patch^2 -> hidden), pre_layrnorm LayerNorm, ViT blocks (q/k/v/out with
    biases, vit_block_params); MiniMaxM3VLMultiModalProjector: linear_1 [hidden, projector]
    and linear_2 [projector, text_hidden], then merge_linear_1 [text_hidden x merge^2,
    projector] and merge_linear_2 [projector, text_hidden], all with biases."""
    h = config_int(cfg, "hidden_size")
    patch = config_int(cfg, "patch_size")
    embed = (
        config_int(cfg, "num_channels", 3)
        * config_int(cfg, "temporal_patch_size", 1)
        * patch
        * patch
        * h
    )
    blocks = config_int(cfg, "num_hidden_layers") * vit_block_params(
        h, config_int(cfg, "intermediate_size")
    )
    text = config_int(cfg, "text_hidden_size")
    proj = config_int(cfg, "projector_hidden_size")
    merged = text * config_int(cfg, "spatial_merge_size", 2) ** 2
    projector = (h + 1) * proj + (proj + 1) * text + (merged + 1) * proj + (proj + 1) * text
    return embed + 2 * h + blocks + projector


def _minimax_m3_clip(cfg: dict[str, Any]) -> int:
    """MiniMax-M3's hub vision_config (clip_vision_model) read as MiniMaxM3VLVisionConfig: the
    patch sizes from img_token_compression_config over that class's defaults."""
    compression = cfg.get("img_token_compression_config") or {}
    return _minimax_m3({"temporal_patch_size": 2, "spatial_merge_size": 2, **compression, **cfg})


def _glm5_next_vision(cfg: dict[str, Any]) -> int:
    """Glm5NextVisionModel: Conv3d patch embedding (in_channels x temporal_patch x patch^2 ->
    hidden, bias); depth blocks of RMSNorm x 2, qkv [hidden, 3 x hidden] and proj [hidden,
    hidden] (biases with attention_bias), q/k RMSNorm [head_dim], SwiGLU MLP gate/up [hidden,
    intermediate] and down (biases with attention_bias); post_layernorm RMSNorm; downsample
    Conv2d (hidden -> out_hidden, merge x merge kernel, bias); merger proj [out, out], LayerNorm
    (out) with bias, SwiGLU gate/up [out, projection_intermediate] and down, no biases."""
    h, out = config_int(cfg, "hidden_size"), config_int(cfg, "out_hidden_size")
    inter, proj = (
        config_int(cfg, "intermediate_size"),
        config_int(cfg, "projection_intermediate_size"),
    )
    patch, merge = config_int(cfg, "patch_size"), config_int(cfg, "spatial_merge_size", 2)
    bias = cfg.get("attention_bias", True) is True
    embed = (
        config_int(cfg, "in_channels", 3) * config_int(cfg, "temporal_patch_size", 1) * patch**2 * h
        + h
    )
    attn = 4 * h * h + (4 * h if bias else 0) + 2 * (h // config_int(cfg, "num_heads"))
    mlp = 3 * h * inter + ((2 * inter + h) if bias else 0)
    blocks = config_int(cfg, "depth") * (2 * h + attn + mlp)
    downsample = h * out * merge * merge + out
    merger = out * out + 2 * out + 3 * out * proj
    return embed + blocks + h + downsample + merger


@dataclass(frozen=True)
class TowerCounter:
    """A tower family's own count: ``count(tower config, wrapper config)`` over the tower's
    fields, the detail shown beside it, and the family name shown
    when it is not the tower config's model_type."""

    count: Callable[[dict[str, Any], dict[str, Any]], int]
    detail: str
    family: str | None = None


def _tower_only(
    count: Callable[[dict[str, Any]], int],
) -> Callable[[dict[str, Any], dict[str, Any]], int]:
    """A count that reads the tower's config alone (the wrapper's widths are merged into it)."""
    return lambda tower, wrapper: count(tower)


ANY = "*"  # a tower model_type counted the same under any wrapper
_VIT = "ViT counted from vision_config"

# (wrapper model_type or ANY, tower model_type or "" when it has none) -> its counter
TOWER_COUNTERS: dict[tuple[str, str], TowerCounter] = {
    (ANY, "ernie4_5_vl_moe_vision"): TowerCounter(
        _tower_only(_ernie_vl),
        "Ernie4_5_VLMoe vision transformer and resampler counted from vision_config",
    ),
    (ANY, "minimax_m3_vl_vision"): TowerCounter(_tower_only(_minimax_m3), _VIT),
    # MiniMax-M3's hub config (remote code) names its ViT clip_vision_model and keeps the patch
    # sizes in img_token_compression_config, whose defaults MiniMaxM3VLVisionConfig holds
    ("minimax_m3_vl", "clip_vision_model"): TowerCounter(
        _tower_only(_minimax_m3_clip), _VIT, family="minimax_m3_vl_vision"
    ),
    (ANY, "glm5_next_vision"): TowerCounter(_tower_only(_glm5_next_vision), _VIT),
    # Qwen3.8-Flash-Next's vision_config says model_type "qwen4_exp" (Qwen4ExpConfig renames it
    # qwen4_exp_vision); a config without one is the wrapper's tower too
    (ANY, "qwen4_exp_vision"): TowerCounter(_tower_only(_qwen4_exp_vision), _VIT),
    ("qwen4_exp", "qwen4_exp"): TowerCounter(
        _tower_only(_qwen4_exp_vision), _VIT, family="qwen4_exp_vision"
    ),
    ("qwen4_exp", ""): TowerCounter(
        _tower_only(_qwen4_exp_vision), _VIT, family="qwen4_exp_vision"
    ),
    # Kimi-K3's vision_config has no model_type: found by the wrapper's
    ("kimi_k3", ""): TowerCounter(
        _tower_only(kimi_k3_vision.kimi_k3_vision), kimi_k3_vision.DETAIL
    ),
    ("mistral_large4", "pixtral"): TowerCounter(
        pixtral_mistral3, "Pixtral ViT and Mistral3 projector counted from vision_config"
    ),
}
