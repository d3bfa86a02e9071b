"""Kimi-K3's vision tower and projector (moonshotai/Kimi-K3 modeling_kimi_k3.py, not in
transformers): MoonViT3dPretrainedModel and the mm_projector of KimiK3ForConditionalGeneration,
counted from the wrapper's vision_config (no model_type of its own: ``towers.TOWER_COUNTERS``
finds it by the wrapper's, kimi_k3). A field the tower does not model is refused, naming it."""

from __future__ import annotations

from typing import Any

from moeplan.model.fields import config_int
from moeplan.model.known_fields import unknown_count_fields

# vision_config fields of KimiK3Config that VisionTowerConfig / ProjectorConfig read, plus the
# two widths towers.find_towers adds from the wrapper; activation_func, projector_hidden_act,
# *_eps, pos_emb_interpolation_mode, init_pos_emb_time (a sin/cos buffer, not persistent),
# video_attn_type and _attn_implementation change no weight
KNOWN = frozenset(
    {
        "patch_size",
        "init_pos_emb_height",
        "init_pos_emb_width",
        "init_pos_emb_time",
        "pos_emb_type",
        "pos_emb_interpolation_mode",
        "vt_num_attention_heads",
        "vt_num_hidden_layers",
        "vt_hidden_size",
        "vt_intermediate_size",
        "qkv_hidden_size",
        "norm_type",
        "mlp_type",
        "attn_bias",
        "linear_bias",
        "patch_embed_proj_bias",
        "merge_kernel_size",
        "merge_type",
        "mm_projector_type",
        "mm_hidden_size",
        "text_hidden_size",
        "projection_hidden_size",
        "video_attn_type",
        "activation_func",
        "_attn_implementation",
    }
)


def _int(cfg: dict[str, Any], key: str, default: int | None = None) -> int:
    return config_int(cfg, key, default, minimum=1)  # every MoonViT3d width is at least 1


def _flag(cfg: dict[str, Any], key: str, default: bool) -> bool:
    value = cfg.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(key)
    return value


def _norm(cfg: dict[str, Any], width: int) -> int:
    """MoonViTEncoderLayer / MoonViT3dEncoder norms: nn.LayerNorm (weight + bias, the default
    norm_type) or nn.RMSNorm (weight)."""
    kind = cfg.get("norm_type", "layernorm")
    if kind not in ("layernorm", "rmsnorm"):
        raise ValueError("norm_type")
    return 2 * width if kind == "layernorm" else width


def moonvit3d_params(cfg: dict[str, Any]) -> int:
    """MoonViT3dPretrainedModel: MoonVision3dPatchEmbed proj Conv2d(3 -> hidden, patch x patch,
    bias with patch_embed_proj_bias) and Learnable2DInterpPosEmbDivided_fixed weight
    [init_pos_emb_height, init_pos_emb_width, hidden]; vt_num_hidden_layers
    MoonViTEncoderLayer, each norm0 + norm1, wqkv [hidden, 3 x qkv_hidden_size] and wo
    [qkv_hidden_size, hidden] (biases with attn_bias), MLP2 fc0 [hidden, vt_intermediate_size]
    and fc1 back (biases with linear_bias); MoonViT3dEncoder final_layernorm. The 2-D RoPE
    (Rope2DPosEmbRepeated) and the sd2_tpool merge hold no weights. Defaults are
    VisionTowerConfig's."""
    if cfg.get("pos_emb_type", "divided_fixed") != "divided_fixed":
        raise ValueError("pos_emb_type")
    if cfg.get("mlp_type", "mlp2") != "mlp2" or cfg.get("merge_type", "sd2_tpool") != "sd2_tpool":
        raise ValueError("mlp_type / merge_type")
    h, patch = _int(cfg, "vt_hidden_size"), _int(cfg, "patch_size")
    qkv = cfg.get("qkv_hidden_size") or h
    qkv = _int({"qkv": qkv}, "qkv")
    inter = _int(cfg, "vt_intermediate_size")
    embed = 3 * patch * patch * h + (h if _flag(cfg, "patch_embed_proj_bias", True) else 0)
    pos = _int(cfg, "init_pos_emb_height") * _int(cfg, "init_pos_emb_width") * h
    attn = 3 * h * qkv + qkv * h + (3 * qkv + h if _flag(cfg, "attn_bias", True) else 0)
    mlp = 2 * h * inter + (inter + h if _flag(cfg, "linear_bias", True) else 0)
    block = 2 * _norm(cfg, h) + attn + mlp
    return embed + pos + _int(cfg, "vt_num_hidden_layers") * block + _norm(cfg, h)


def projector_params(cfg: dict[str, Any]) -> int:
    """KimiK3ForConditionalGeneration mm_projector (ProjectorConfig: mm_hidden_size, the text
    model's hidden size, the merge kernel): PatchMergerMLPV2 = proj [m, m] and [m, text] without
    biases, post_norm RMSNorm(text); PatchMergerMLP = pre_norm LayerNorm(mm_hidden) and the same
    projections with biases; MLP = LayerNorm(mm_hidden), [mm_hidden, text] and [text, text] with
    biases; IdentityMap none (m = mm_hidden x merge kernel area)."""
    kind = cfg.get("mm_projector_type", "patchmergerv2")
    mm = _int(cfg, "mm_hidden_size", _int(cfg, "vt_hidden_size"))
    text = _int(cfg, "text_hidden_size")
    kernel = cfg.get("merge_kernel_size") or [2, 2]
    m = mm * _int({"k": kernel[0]}, "k") * _int({"k": kernel[1]}, "k")
    if kind == "patchmergerv2":
        return m * m + m * text + text
    if kind == "patchmerger":
        return 2 * mm + m * m + m + m * text + text
    if kind == "mlp":
        return 2 * mm + mm * text + text + text * text + text
    if kind == "identity":
        return 0
    raise ValueError("mm_projector_type")


def kimi_k3_vision(cfg: dict[str, Any]) -> int:
    """The tower and its projector; a vision_config field outside KNOWN that looks like a shape
    leaves the tower uncounted (named by towers.count_tower as not understood)."""
    unknown = [k for k in unknown_count_fields(cfg) if k not in KNOWN]
    if unknown:
        raise ValueError(", ".join(unknown))
    return moonvit3d_params(cfg) + projector_params(cfg)


DETAIL = "MoonViT3d and its projector counted from vision_config (modeling_kimi_k3.py)"
