"""Step-3.5 / Step-3.7-Flash (transformers models/step3p7: Step3p7TextModel; the step3p7 wrapper
holds a step3p5 text_config).

Three spellings of one config are read: transformers' Step3p7TextConfig names; the names the
published checkpoints use (StepFun's remote-code Step3p5Config, which Step3p7TextConfig takes
through its attribute_map and __post_init__: num_attention_groups, moe_num_experts, moe_top_k,
moe_layers_enum, attention_other_setting, use_head_wise_attn_gate, use_qk_norm,
use_moe_router_bias); and the flattened step3p7 copy aiconfigurator keeps in its model_configs
(num_experts, first_k_dense_replace, n_shared_experts at the top level, no text_config)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.blocks import gqa
from moeplan.model.fields import Fields
from moeplan.model.specs import AttentionSpec, LayerSpec, MoESpec, QKNorm, WindowKind

# Step3p7TextConfig.attribute_map (num_attention_groups, moe_num_experts, num_local_experts,
# moe_top_k, share_expert_dims) plus the flattened copy's num_experts
KV_ALIASES = ("num_attention_groups",)
EXPERTS = ("n_routed_experts", "moe_num_experts", "num_local_experts", "num_experts")
TOP_K = ("num_experts_per_tok", "moe_top_k")
SHARED_WIDTH = ("share_expert_dim", "share_expert_dims")


def _trimmed(f: Fields, key: str, n: int, padded: int) -> list[Any]:
    """Step3p7TextConfig.__post_init__: legacy hub lists carry num_nextn_predict_layers trailing
    MTP entries, split off before the layers read them."""
    value = f.list(key)
    return value[:n] if len(value) == padded else value


def _attention(f: Fields, hidden: int) -> AttentionSpec:
    """Step3p7Attention: q, k, v, o; per-head q/k RMSNorm unless use_qk_norm is false (StepFun's
    Step3p5Attention; transformers always builds them); g_proj a sigmoid gate per head
    ([hidden, heads]) where gating is true or "per-head", per channel ([hidden, heads x head_dim])
    for another gating value; without gating, the hub's use_head_wise_attn_gate false builds no
    g_proj."""
    gating = f.get("gating")
    if gating is None and not f.bool("use_head_wise_attn_gate", default=True):
        per_head = per_channel = False  # StepFun's Step3p5Attention: no g_proj
    else:
        per_head = gating is None or gating is True or gating == "per-head"
        per_channel = not per_head
    bias = f.bool("attention_bias")
    return gqa(
        f,
        hidden,
        kv_aliases=KV_ALIASES,
        qkv_bias=bias,
        o_bias=bias,
        qk_norm=QKNorm.PER_HEAD if f.bool("use_qk_norm", default=True) else QKNorm.NONE,
        head_gate=per_head,
        output_gate=per_channel,
    )


def _sliding(f: Fields, attention: AttentionSpec) -> AttentionSpec:
    """The "sliding_attention" layers' shape: num_sliding_attention_heads query heads
    (Step3p7TextConfig, a per_layer_config override), else the legacy attention_other_setting's
    num_attention_heads, and its num_attention_groups / head_dim, which StepFun's Step3p5Attention
    and vLLM's step3p5 read for those layers (transformers reads only the heads)."""
    other = f.get("attention_other_setting") or {}
    if not isinstance(other, dict):
        raise SpecError(f"{f.where}: field 'attention_other_setting' must be a mapping")
    where = f"{f.where}: attention_other_setting"
    sub = Fields(other, where)
    heads = f.int(
        "num_sliding_attention_heads",
        default=sub.int("num_attention_heads", default=attention.num_heads),
    )
    kv = sub.int("num_attention_groups", default=attention.num_kv_heads)
    head_dim = sub.int("head_dim", default=attention.head_dim)
    if heads % kv:
        raise SpecError(f"{f.where}: {heads} sliding attention heads are not a multiple of {kv}")
    return replace(
        attention, num_heads=heads, num_kv_heads=kv, head_dim=head_dim, v_head_dim=head_dim
    )


def _sliding_heads_set(f: Fields) -> bool:
    """The config carries the hub's attention_other_setting with a sliding head count."""
    other = f.get("attention_other_setting")
    return isinstance(other, dict) and other.get("num_attention_heads") is not None


def _mlp_types(f: Fields, n: int, padded: int) -> list[str]:
    """mlp_layer_types; else moe_layers_enum (the hub's, a comma-separated string or a list of
    MoE layer indices); else first_k_dense_replace dense layers (the flattened copy); else
    Step3p7TextConfig's default, layers 3..n-1 sparse."""
    mlp = _trimmed(f, "mlp_layer_types", n, padded)
    if mlp:
        return mlp
    moe_set = _moe_layers_enum(f)
    if moe_set is None:
        first_dense = f.int("first_k_dense_replace", default=3, minimum=0)
        moe_set = set(range(first_dense, n))
    return ["sparse" if i in moe_set else "dense" for i in range(n)]


def _moe_layers_enum(f: Fields) -> set[int] | None:
    """The hub's moe_layers_enum (a comma-separated string or a list of MoE layer indices, the
    MTP layers' included), None when absent."""
    enum = f.get("moe_layers_enum")
    if enum is None:
        return None
    items = enum.split(",") if isinstance(enum, str) else enum
    return {int(i) for i in items if str(i).strip()}


def _mtp_block(
    f: Fields, n: int, mtp: int, window: int | None, sliding: AttentionSpec
) -> LayerSpec:
    """The MTP layers' decoder block (vLLM Step3p5AMultiTokenPredictorLayer: enorm, hnorm,
    eh_proj, one Step3p5 decoder layer, shared_head norm; the shared_head output is the
    lm_head): its attention and MLP kind from mtp_layer_types / mtp_mlp_layer_types
    (Step3p7TextConfig), else the entries past num_hidden_layers of the hub's padded
    layer_types / moe_layers_enum, else full attention with a dense MLP. The released
    Step-3.5-Flash's three are full-attention dense layers (moe_layers_enum 3..44). One block
    for all: the count takes each MTP layer alike."""
    padded = n + mtp
    types = f.list("mtp_layer_types") or f.list("layer_types")[n:padded]
    mlp = f.list("mtp_mlp_layer_types") or f.list("mlp_layer_types")[n:padded]
    moe_set = None if mlp else _moe_layers_enum(f)
    if moe_set is not None:
        mlp = ["sparse" if i in moe_set else "dense" for i in range(n, padded)]
    blocks = set()
    for i in range(mtp):
        kind = types[i] if i < len(types) else "full_attention"
        ffn = "moe" if i < len(mlp) and mlp[i] == "sparse" else "dense"
        if kind == "sliding_attention":
            blocks.add(LayerSpec(ffn, WindowKind.SLIDING, window, attention=sliding))
        else:
            blocks.add(LayerSpec(ffn))
    if len(blocks) != 1:
        raise SpecError(f"{f.where}: the {mtp} MTP layers differ in attention or MLP kind")
    return blocks.pop()


def step3p5(f: Fields, family: str) -> dict[str, Any]:
    """Step3p7TextModel: Step3p7Attention (``_attention``) on every layer, with its own head
    count on "sliding_attention" layers (``_sliding``), which keep sliding_window tokens. MLP
    per layer (``_mlp_types``): Step3p7MLP of intermediate_size, or Step3p7SparseMoeBlock = router
    [E, hidden] + e_score_correction_bias (none where the hub's use_moe_router_bias is false),
    routed experts of moe_intermediate_size and one shared Step3p7MLP of share_expert_dim.
    The num_nextn_predict_layers MTP layers (transformers leaves them out of the model, the
    released checkpoints hold them as model.layers.{45,46,47}) count as mtp (``_mtp_blocks``)."""
    del family
    hidden = f.int("hidden_size")
    n = f.int("num_hidden_layers")
    mtp = f.int("num_nextn_predict_layers", default=0, minimum=0)
    padded = n + mtp
    attention = _attention(f, hidden)
    sliding = _sliding(f, attention)
    types = _trimmed(f, "layer_types", n, padded) or ["full_attention"] * n
    mlp = _mlp_types(f, n, padded)
    if len(types) != n or any(t not in ("full_attention", "sliding_attention") for t in types):
        raise SpecError(f"{f.where}: field 'layer_types' must be full/sliding_attention x {n}")
    if len(mlp) != n or any(k not in ("dense", "sparse") for k in mlp):
        raise SpecError(f"{f.where}: field 'mlp_layer_types' must be dense/sparse x {n}")
    window = f.opt_int("sliding_window")
    if "sliding_attention" in types and window is None:
        raise SpecError(f"{f.where}: sliding layers need field 'sliding_window'")
    notes: tuple[str, ...] = ()
    if (
        "sliding_attention" in types
        and not f.has("num_sliding_attention_heads")
        and not _sliding_heads_set(f)
    ):
        notes = (
            f"sliding_attention layers read with num_attention_heads ({attention.num_heads}): the "
            "config names no sliding head count (attention_other_setting); the published "
            "Step-3.5/3.7-Flash checkpoints give those layers 96 query heads",
        )
    layers = []
    for kind, ffn in zip(types, mlp, strict=True):
        ffn_kind = "moe" if ffn == "sparse" else "dense"
        if kind == "sliding_attention":
            attn = None if sliding == attention else sliding
            layers.append(LayerSpec(ffn_kind, WindowKind.SLIDING, window, attention=attn))
        else:
            layers.append(LayerSpec(ffn_kind))
    if f.int("n_shared_experts", default=1, minimum=0) != 1:
        raise SpecError(f"{f.where}: n_shared_experts must be 1 (one shared Step3p7MLP)")
    width = f.int("moe_intermediate_size")
    moe = MoESpec(
        f.int_of(EXPERTS),
        f.int_of(TOP_K),
        width,
        num_shared_experts=1,
        shared_intermediate_size=f.int_of(SHARED_WIDTH, default=width),
        router_score_bias=f.bool("use_moe_router_bias", default=True),
    )
    if f.bool("mlp_bias") and "sparse" in mlp:  # the shared Step3p7MLP would carry biases
        raise SpecError(f"{f.where}: mlp_bias with MoE layers (a biased shared expert)")
    blocks = (_mtp_block(f, n, mtp, window, sliding),) if mtp else ()
    has_dense = "dense" in mlp or any(b.ffn == "dense" for b in blocks)
    return dict(
        hidden_size=hidden,
        attention=attention,
        layers=tuple(layers),
        moe=moe,
        dense_intermediate_size=f.int("intermediate_size") if has_dense else 0,
        mlp_bias=f.bool("mlp_bias"),
        mtp_layers=mtp,
        mtp_blocks=blocks,
        reader_notes=notes,
    )
