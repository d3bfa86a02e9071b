"""Step-3.5 / Step-3.7-Flash (transformers models/step3p7: Step3p7TextModel; the step3p7 wrapper
holds a step3p5 text_config)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.blocks import gqa
from moeplan.model.fields import Fields
from moeplan.model.specs import LayerSpec, MoESpec, QKNorm, WindowKind


def _trimmed(f: Fields, key: str, n: int, padded: int) -> list[Any]:
    """Step3p7TextConfig.__post_init__: legacy hub lists carry num_nextn_predict_layers trailing
    MTP entries, split off before the layers read them."""
    value = f.list(key)
    return value[:n] if len(value) == padded else value


def step3p5(f: Fields, family: str) -> dict[str, Any]:
    """Step3p7TextModel: Step3p7Attention is GQA with per-head q/k RMSNorm and g_proj, a sigmoid
    gate per head ([hidden, heads]; per channel [hidden, heads x head_dim] when gating is neither
    true nor "per-head"); "sliding_attention" layers take num_sliding_attention_heads query heads
    (per_layer_config; legacy attention_other_setting) and keep sliding_window tokens. MLP per
    mlp_layer_types (legacy moe_layers_enum, default layers 3..n-1 sparse): Step3p7MLP of
    intermediate_size, or Step3p7SparseMoeBlock = router [E, hidden] + e_score_correction_bias,
    routed experts of moe_intermediate_size and one shared Step3p7MLP of share_expert_dim.
    The num_nextn_predict_layers MTP layers are not built (filtered out of the checkpoint load)."""
    del family
    hidden = f.int("hidden_size")
    n = f.int("num_hidden_layers")
    mtp = f.int("num_nextn_predict_layers", default=0, minimum=0)
    padded = n + mtp
    gating = f.get("gating", True)
    per_head = gating is True or gating == "per-head"
    kw: dict[str, Any] = dict(
        qkv_bias=f.bool("attention_bias"),
        o_bias=f.bool("attention_bias"),
        qk_norm=QKNorm.PER_HEAD,
        head_gate=per_head,
        output_gate=not per_head,
    )
    attention = gqa(f, hidden, **kw)
    other = f.get("attention_other_setting") or {}
    sliding_heads = f.int(
        "num_sliding_attention_heads",
        default=other.get("num_attention_heads", attention.num_heads),
    )
    if sliding_heads % attention.num_kv_heads:
        raise SpecError(
            f"{f.where}: num_sliding_attention_heads {sliding_heads} is not a multiple of "
            f"num_key_value_heads {attention.num_kv_heads}"
        )
    sliding = replace(attention, num_heads=sliding_heads)
    types = _trimmed(f, "layer_types", n, padded) or ["full_attention"] * n
    mlp = _trimmed(f, "mlp_layer_types", n, padded)
    if not mlp:
        enum = f.get("moe_layers_enum")
        if enum is not None:
            items = enum.split(",") if isinstance(enum, str) else enum
            moe_set = {int(i) for i in items if str(i).strip()}
        else:
            moe_set = set(range(3, n))
        mlp = ["sparse" if i in moe_set else "dense" for i in range(n)]
    if len(types) != n or any(t not in ("full_attention", "sliding_attention") for t in types):
        raise SpecError(f"{f.where}: field 'layer_types' must be full/sliding_attention x {n}")
    if len(mlp) != n or any(k not in ("dense", "sparse") for k in mlp):
        raise SpecError(f"{f.where}: field 'mlp_layer_types' must be dense/sparse x {n}")
    window = f.opt_int("sliding_window")
    if "sliding_attention" in types and window is None:
        raise SpecError(f"{f.where}: sliding layers need field 'sliding_window'")
    layers = []
    for kind, ffn in zip(types, mlp, strict=True):
        ffn_kind = "moe" if ffn == "sparse" else "dense"
        if kind == "sliding_attention":
            attn = None if sliding == attention else sliding
            layers.append(LayerSpec(ffn_kind, WindowKind.SLIDING, window, attention=attn))
        else:
            layers.append(LayerSpec(ffn_kind))
    width = f.int("moe_intermediate_size")
    moe = MoESpec(
        f.int("n_routed_experts"),
        f.int("num_experts_per_tok"),
        width,
        num_shared_experts=1,
        shared_intermediate_size=f.int("share_expert_dim", default=width),
        router_score_bias=True,
    )
    if f.bool("mlp_bias") and "sparse" in mlp:  # the shared Step3p7MLP would carry biases
        raise SpecError(f"{f.where}: mlp_bias with MoE layers (a biased shared expert)")
    has_dense = "dense" in mlp
    return dict(
        hidden_size=hidden,
        attention=attention,
        layers=tuple(layers),
        moe=moe,
        dense_intermediate_size=f.int("intermediate_size") if has_dense else 0,
        mlp_bias=f.bool("mlp_bias"),
        mtp_layers=0,
    )
