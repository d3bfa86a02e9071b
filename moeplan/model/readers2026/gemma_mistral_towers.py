"""Vision towers of the Gemma 4 / Mistral group, counted from their config to the parameter
(registered in ``towers.TOWER_COUNTERS`` by the wrapper's and the tower's model_type)."""

from __future__ import annotations

from typing import Any

from moeplan.model.fields import config_int


def pixtral_mistral3(vision: dict[str, Any], wrapper: dict[str, Any]) -> int:
    """PixtralVisionModel + the Mistral3-style projector (MistralLarge4MultiModalProjector):
    patch_conv [channels x patch^2 -> hidden] without bias, ln_pre RMSNorm; per layer
    attention_norm + ffn_norm, q/k/v/o [hidden, hidden], gated FFN [hidden, intermediate] x 3;
    projector: RMSNorm(hidden), patch_merger [hidden x merge^2 -> hidden], linear_1
    [hidden x feature layers -> text hidden] and linear_2 [text hidden, text hidden] (biases
    with multimodal_projector_bias)."""
    h = config_int(vision, "hidden_size")
    patch = config_int(vision, "patch_size")
    inter = config_int(vision, "intermediate_size")
    layer = 4 * h * h + 3 * h * inter + 2 * h
    tower = config_int(vision, "num_channels", 3) * patch * patch * h + h
    tower += config_int(vision, "num_hidden_layers") * layer
    text = wrapper.get("text_config") or {}
    text_h = config_int(text, "hidden_size")
    merge = config_int(wrapper, "spatial_merge_size", 2)
    feature = wrapper.get("vision_feature_layer", -1)
    n_feature = len(feature) if isinstance(feature, list) else 1
    bias = 2 * text_h if wrapper.get("multimodal_projector_bias") else 0
    projector = h + h * merge * merge * h + h * n_feature * text_h + text_h * text_h + bias
    return tower + projector
