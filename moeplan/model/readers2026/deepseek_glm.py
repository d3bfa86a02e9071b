"""DeepSeek-V4 (deepseek_v4.py) and GLM-5.3 (glm5_next.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moeplan.model.families import Traits
from moeplan.model.fields import Fields
from moeplan.model.readers2026.deepseek_v4 import deepseek_v4
from moeplan.model.readers2026.glm5_next import glm5_next

READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {
    "deepseek_v4": deepseek_v4,
    # SGLang's name for DeepSeek-V4's config (its remote-code config class, as in
    # sgl-project/DeepSeek-V4-*-FP8): the deepseek_v4 fields less a few defaults
    # (tie_word_embeddings, attention_bias, mlp_bias: all false) and with the legacy
    # compress_ratios; architectures names DeepseekV4ForCausalLM
    "deepseek_ref": deepseek_v4,
    "glm5_next_text": glm5_next,
    "glm5_next": glm5_next,  # a flat (text-only) checkpoint: text fields at the top level
}
TRAITS: dict[str, Traits] = {}
# fields these families' configs carry that change no count (named per field, with why)
HARMLESS: frozenset[str] = frozenset(
    {
        # GLM-5.2 (glm_moe_dsa): the MTP layer's draft steps reuse the top-k its indexer chose
        # (SGLang / vLLM serving); its weights are there either way, and transformers'
        # GlmMoeDsaConfig does not read it
        "index_share_for_mtp_iteration",
    }
)
