"""GLM-5.3-Flash (transformers models/glm5_next: Glm5NextTextConfig, Glm5NextTextModel).

Layers alternate Kimi Delta Attention (Glm5NextTextLinearAttention, three of every four by
default) and MLA without RoPE under a DSA indexer with k-pool scoring (Glm5NextTextAttention,
Glm5NextTextIndexer; "shared" layers reuse the previous top-k and hold no indexer); dense MLPs
on the first layers then MoE with one shared MLP and a sigmoid router with correction bias
(Glm5NextTextMoE); hyper-connection residual streams collapsed by a plain mean at the end
(Glm5NextTextHyperConnection / HyperHead). The vision tower is read by model/towers.py.

MTP (num_nextn_predict_layers, 1 in GLM-5.3-Flash): transformers builds none (it drops
``layers.45.`` and ``shared_head.`` on load), but the released checkpoint holds
model.language_model.layers.{N}: one single-stream DSA decoder layer (the MLA with a full
indexer, input/post-attention norms, a MoE block like the main model's) plus enorm, hnorm,
eh_proj [hidden, 2 hidden] and shared_head.norm; no hc_* weights, no own embed_tokens or
shared_head.head (it uses the model's). That is params.mtp_layer_params of the full-indexer
attention; llama.cpp's glm5-next loader creates the same block (nextn block: no hc tensors,
indexer always full)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.blocks import ffn_plan, mixer_plan, moe_block
from moeplan.model.families import indexer_sharing
from moeplan.model.fields import Fields
from moeplan.model.specs import (
    AttentionKind,
    AttentionSpec,
    IndexerSpec,
    LayerSpec,
    MixerKind,
    RecurrentSpec,
)


def glm5_next(f: Fields, family: str) -> dict[str, Any]:
    """Glm5NextTextModel as its modeling code builds it (shapes in params.py)."""
    hidden = f.int("hidden_size")
    n = f.int("num_hidden_layers")
    if f.bool("attention_bias"):
        raise SpecError(f"{f.where}: attention_bias (biased MLA projections) is not modelled")
    heads = f.int("num_attention_heads")
    nope, rope = f.int("qk_nope_head_dim"), f.int("qk_rope_head_dim", default=0, minimum=0)
    indexer = IndexerSpec(
        f.int("index_n_heads"),
        f.int("index_head_dim"),
        f.int("index_topk"),
        kpool=f.int("index_kpool", default=16),
    )
    attn = AttentionSpec(
        AttentionKind.MLA,
        heads,
        heads,
        nope + rope,
        f.int("v_head_dim"),
        q_lora_rank=f.int("q_lora_rank"),
        kv_lora_rank=f.int("kv_lora_rank"),
        qk_rope_head_dim=rope,
        qk_nope_head_dim=nope,
        indexer=indexer,
    )
    shared_attn = replace(attn, indexer=replace(indexer, shared=True))
    kda_heads, kda_dim = f.int("linear_num_heads"), f.int("linear_head_dim")
    kda = RecurrentSpec(
        MixerKind.LINEAR_ATTENTION,
        num_heads=kda_heads,
        head_dim=kda_dim,
        state_size=kda_dim,
        conv_kernel=f.int("linear_conv_kernel_dim"),
        num_key_heads=kda_heads,
        kda=True,
        gate_rank=kda_dim,  # Glm5NextTextForgetGate f_a/f_b and g_a/g_b: linear_head_dim
    )
    moe = moe_block(f, score_bias=True)  # Glm5NextTextTopkRouter: e_score_correction_bias
    ffns = ffn_plan(f, n, moe is not None)
    shared = indexer_sharing(f, n)
    layers = []
    for i, ((mixer, _kind), ffn) in enumerate(zip(mixer_plan(f, n), ffns, strict=True)):
        if mixer is MixerKind.LINEAR_ATTENTION:
            layers.append(LayerSpec(ffn, mixer=mixer, recurrent=kda))
        elif mixer is MixerKind.ATTENTION:
            layers.append(LayerSpec(ffn, attention=shared_attn if shared[i] else None))
        else:
            raise SpecError(f"{f.where}: layer_types must be linear_attention/indexed_attention")
    hc = f.int("hc_mult")
    return dict(
        hidden_size=hidden,
        attention=attn,
        layers=tuple(layers),
        moe=moe,
        dense_intermediate_size=f.int("intermediate_size") if "dense" in ffns else 0,
        hc_mult=hc,
        hc_mixes=(2 + hc) * hc,  # Glm5NextTextHyperConnection fn: pre, post and comb
        hc_scales=3,
        hc_mean_head=True,
        mtp_layers=f.int("num_nextn_predict_layers", default=0, minimum=0),
    )
