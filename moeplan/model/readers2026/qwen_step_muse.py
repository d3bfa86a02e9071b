"""Qwen4-Exp, Step-3.5 / Step-3.7, Muse Spark."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moeplan.model.families import Traits
from moeplan.model.fields import Fields
from moeplan.model.readers2026.muse import muse_spark_text
from moeplan.model.readers2026.qwen4 import qwen4_exp_text
from moeplan.model.readers2026.step import step3p5

READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {
    "step3p5": step3p5,  # the step3p7 wrapper's text_config is a step3p5 config
    "step3p7": step3p5,  # a flattened copy: the text fields at the top level, no text_config
    "muse_spark_text": muse_spark_text,
    "muse_spark": muse_spark_text,  # a wrapper without text_config model_type
    "qwen4_exp_text": qwen4_exp_text,
    "qwen4_exp": qwen4_exp_text,  # a wrapper without text_config model_type
}
TRAITS: dict[str, Traits] = {}
# fields these families' configs carry that change no count (named per field, with why)
HARMLESS: frozenset[str] = frozenset(
    {
        # MuseSparkTextAttention: the query multiplier after the weightless qk norm
        "qk_scale_factor",
        # MuseSparkTopkRouter: multipliers of the routing weights
        "output_multiplier",
        "routed_scaling_factor",
        # MuseSparkTextModel: eps of the post norms, logit softcap, residual gate temperature
        "post_norm_eps",
        "final_logit_softcapping",
        "residual_gate_temperature",
        # MuseSparkTextRotaryEmbedding: rope theta per layer (0 = NoPE), no weights
        "layer_rope_theta",
        # Step3p7: attention scale, routed-output scale, SwiGLU clamps
        "query_pre_attn_scalar",
        "moe_router_scaling_factor",
        "swiglu_limits",
        "swiglu_limits_shared",
    }
)
