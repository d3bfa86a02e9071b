"""DeepSeek-V4 (transformers models/deepseek_v4: DeepseekV4Config, DeepseekV4ForCausalLM).

Every layer: a shared-KV MQA with a 128-token sliding window, low-rank queries, per-head sinks
and a grouped low-rank output projection (DeepseekV4Attention), plus on CSA / HCA layers a KV
compressor (DeepseekV4CSACompressor with its Lightning Indexer, DeepseekV4HCACompressor); an
MoE block whose router is a token-id hash on the first layers (DeepseekV4HashRouter) and a
sqrt-softplus top-k router with correction bias after (DeepseekV4TopKRouter), beside one
shared expert; hyper-connection residual streams (DeepseekV4HyperConnection / HyperHead)."""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.fields import Fields
from moeplan.model.specs import (
    AttentionKind,
    AttentionSpec,
    CompressorSpec,
    LayerSpec,
    MoESpec,
    WindowKind,
)

CSA, HCA, SWA = (
    "compressed_sparse_attention",
    "heavily_compressed_attention",
    "sliding_attention",
)
_RATIO_TO_TYPE = {0: SWA, 4: CSA, 128: HCA}  # DeepseekV4Config legacy compress_ratios


def _layer_types(f: Fields, n: int) -> list[str]:
    """DeepseekV4Config.__post_init__: layer_types, else legacy compress_ratios (0/4/128), else
    two HCA layers then CSA on odd, HCA on even indices of the rest."""
    types = f.list("layer_types")
    if not types and f.list("compress_ratios"):
        ratios = f.list("compress_ratios")
        if any(r not in _RATIO_TO_TYPE for r in ratios):
            raise SpecError(f"{f.where}: field 'compress_ratios' must hold 0, 4 or 128")
        types = [_RATIO_TO_TYPE[r] for r in ratios]
    if not types:
        rest = [CSA if i % 2 else HCA for i in range(max(n - 2, 0))]
        types = [HCA] * min(n, 2) + rest
    types = types[:n]
    if len(types) != n or any(t not in (CSA, HCA, SWA) for t in types):
        raise SpecError(f"{f.where}: field 'layer_types' must name {CSA}/{HCA}/{SWA} x {n}")
    return types


def _hash_layers(f: Fields, n: int) -> list[bool]:
    """mlp_layer_types ("hash_moe" / "moe"), else num_hash_layers (default 3) hash layers."""
    kinds = f.list("mlp_layer_types")
    if not kinds:
        n_hash = f.int("num_hash_layers", default=3, minimum=0)
        kinds = ["hash_moe"] * min(n, n_hash) + ["moe"] * max(0, n - n_hash)
    kinds = kinds[:n]
    if len(kinds) != n or any(k not in ("hash_moe", "moe") for k in kinds):
        raise SpecError(f"{f.where}: field 'mlp_layer_types' must name hash_moe/moe x {n}")
    return [k == "hash_moe" for k in kinds]


def _rates(f: Fields) -> dict[str, int]:
    rates = f.get("compress_rates") or {}
    if not isinstance(rates, dict):
        raise SpecError(f"{f.where}: field 'compress_rates' must map layer types to rates")
    out = {CSA: f.int("compress_rate_csa", default=4), HCA: f.int("compress_rate_hca", default=128)}
    for key in (CSA, HCA):
        value = rates.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpecError(f"{f.where}: compress_rates['{key}'] must be a positive integer")
            out[key] = value
    return out


def deepseek_v4(f: Fields, family: str) -> dict[str, Any]:
    """DeepseekV4ForCausalLM as its modeling code builds it (shapes in params.py)."""
    hidden = f.int("hidden_size")
    n = f.int("num_hidden_layers")
    heads = f.int("num_attention_heads")
    head_dim = f.int("head_dim")
    groups = f.int("o_groups")
    if (heads * head_dim) % groups:
        raise SpecError(f"{f.where}: heads x head_dim is not a multiple of o_groups {groups}")
    if f.bool("mlp_bias"):
        raise SpecError(f"{f.where}: mlp_bias (biased shared expert) is not modelled")
    # kv_proj emits one head whatever num_key_value_heads says (num_key_value_groups = heads)
    base = AttentionSpec(
        AttentionKind.GQA,
        heads,
        1,
        head_dim,
        head_dim,
        sinks=True,
        q_lora_rank=f.int("q_lora_rank"),
        single_kv=True,
        o_groups=groups,
        o_lora_rank=f.int("o_lora_rank"),
    )
    rates = _rates(f)
    shapes = {
        SWA: base,
        HCA: AttentionSpec(**{**base.__dict__, "compressor": CompressorSpec(rates[HCA], head_dim)}),
        CSA: AttentionSpec(
            **{
                **base.__dict__,
                "compressor": CompressorSpec(
                    rates[CSA],
                    head_dim,
                    overlap=True,
                    index_heads=f.int("index_n_heads"),
                    index_head_dim=f.int("index_head_dim"),
                    index_topk=f.int("index_topk"),
                ),
            }
        ),
    }
    window = f.int("sliding_window")
    layers = tuple(
        LayerSpec(
            "moe",
            WindowKind.SLIDING,
            window,
            attention=None if t == SWA else shapes[t],
            hash_router=hashed,
        )
        for t, hashed in zip(_layer_types(f, n), _hash_layers(f, n), strict=True)
    )
    width = f.int("moe_intermediate_size")
    # DeepseekV4SparseMoeBlock builds one shared DeepseekV4MLP of moe_intermediate_size
    # whatever n_shared_experts says; DeepseekV4TopKRouter always holds the correction bias
    moe = MoESpec(
        f.int("n_routed_experts"),
        f.int("num_experts_per_tok"),
        width,
        num_shared_experts=1,
        shared_intermediate_size=width,
        router_score_bias=True,
    )
    hc = f.int("hc_mult")
    notes = []
    if f.int("num_nextn_predict_layers", default=0, minimum=0):
        notes.append(
            "the checkpoint's MTP layer is not counted (transformers does not build it; its "
            "shapes are not in the config)"
        )
    return dict(
        hidden_size=hidden,
        attention=base,
        layers=layers,
        moe=moe,
        dense_intermediate_size=0,
        hc_mult=hc,
        hc_mixes=(2 + hc) * hc,  # DeepseekV4HyperConnection fn: pre, post and comb weights
        hc_scales=3,
        reader_notes=tuple(notes),
    )
