"""Meta Muse Spark (transformers models/muse_spark: MuseSparkTextModel; the muse_spark wrapper
holds a muse_spark_text config)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from moeplan.model.families import Traits, read_layers
from moeplan.model.fields import Fields

# MuseSparkTextAttention: gate_proj [hidden, heads x head_dim] (sigmoid output gate, counted as
# the output_gate width); q/k and o RMSNorms carry no weight. MuseSparkTopkRouter holds
# e_score_correction_bias.
MUSE_TRAITS = Traits(output_gate=True, score_bias=True, mtp_keys=())

# MuseSparkTextDecoderLayer weights of hidden width: input_layernorm, pre_feedforward_layernorm,
# post_feedforward_layernorm and the two MuseSparkResidualGate gates (post_attention_layernorm
# and the embedding norm are weightless)
NORMS_PER_LAYER = 5


def muse_spark_text(f: Fields, family: str) -> dict[str, Any]:
    """MuseSparkTextModel: GQA (full / sliding per layer_types), MLP per mlp_layer_types:
    MuseSparkTextMLP of intermediate_size, or MuseSparkMoE = router [E, hidden] + score bias,
    pre_expert_proj [hidden, moe_hidden_size] + RMSNorm, routed experts on moe_hidden_size of
    moe_intermediate_size, post_expert_norm (moe_hidden_size) and post_expert_proj
    [moe_hidden_size, hidden]; no shared expert."""
    out = read_layers(f, family, MUSE_TRAITS)
    moe = out["moe"]
    if moe is not None:
        out["moe"] = replace(moe, latent_size=f.int("moe_hidden_size"), latent_norms=2)
    out["norms_per_layer"] = NORMS_PER_LAYER
    return out
