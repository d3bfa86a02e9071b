"""Building blocks of the config readers: each reads one aspect of a config from its standard
fields (the FFN plan, the token-mixer plan, attention shapes, the MoE block, recurrent mixers).
A family is a choice of blocks plus, where its names differ, a field mapping (``families.py``).
Layer rules follow the modeling code named in each docstring."""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.fields import Fields, div
from moeplan.model.specs import (
    AttentionKind,
    AttentionSpec,
    IndexerSpec,
    MixerKind,
    MoESpec,
    RecurrentSpec,
    WindowKind,
)

# Aliases of one quantity across families, in the order they are looked for.
NUM_EXPERTS = ("n_routed_experts", "num_experts", "num_local_experts", "moe_num_experts")
TOP_K = ("num_experts_per_tok", "moe_k", "moe_topk", "experts_per_token")
EXPERT_WIDTH = ("moe_intermediate_size", "expert_ffn_hidden_size")
NUM_SHARED = ("n_shared_experts", "num_shared_experts", "moe_num_shared_experts")
SHARED_WIDTH = ("shared_expert_intermediate_size", "moe_shared_expert_intermediate_size")
NUM_LAYERS = ("num_hidden_layers", "num_layers")
DENSE_WIDTH = ("intermediate_size", "ffn_hidden_size")

# Which mixer and window a layer_types entry names (transformers' layer_types convention).
LAYER_TYPES: dict[str, tuple[MixerKind, WindowKind]] = {
    "full_attention": (MixerKind.ATTENTION, WindowKind.FULL),
    "attention": (MixerKind.ATTENTION, WindowKind.FULL),
    "indexed_attention": (MixerKind.ATTENTION, WindowKind.FULL),  # DSA (transformers v5)
    # its pre-v5 name (GLM-5.2 checkpoints; configuration_utils._LEGACY_LAYER_TYPE_REMAP)
    "deepseek_sparse_attention": (MixerKind.ATTENTION, WindowKind.FULL),
    "sliding_attention": (MixerKind.ATTENTION, WindowKind.SLIDING),
    "chunked_attention": (MixerKind.ATTENTION, WindowKind.CHUNKED),
    "linear_attention": (MixerKind.LINEAR_ATTENTION, WindowKind.FULL),
    "mamba": (MixerKind.MAMBA, WindowKind.FULL),
    "mamba2": (MixerKind.MAMBA2, WindowKind.FULL),
}

# Nemotron-H hybrid_override_pattern (NemotronHConfig): one character per block; transformers
# v5 saves layers_block_type instead, where "linear_attention" is the Mamba2 block.
NEMOTRON_BLOCKS: dict[str, tuple[MixerKind, str]] = {
    "M": (MixerKind.MAMBA2, "none"),
    "*": (MixerKind.ATTENTION, "none"),
    "-": (MixerKind.NONE, "dense"),
    "E": (MixerKind.NONE, "moe"),
}
NEMOTRON_BLOCK_TYPES = {
    "linear_attention": "M",
    "mamba": "M",
    "full_attention": "*",
    "attention": "*",
    "mlp": "-",
    "moe": "E",
}


def ffn_plan(f: Fields, n: int, has_moe: bool) -> list[str]:
    """Which layers are MoE, from whichever standard fields the config sets:
    moe_layer_freq as a list (MiMo-V2-Flash: 1 = MoE); first_k_dense_replace + moe_layer_freq
    (DeepseekV2/V3: i >= k and i % freq == 0); decoder_sparse_step + mlp_only_layers
    (Qwen2/3-MoE, Qwen3-Next: (i + 1) % step == 0); moe_layer_start_index/end_index/interval
    (Ernie4_5_MoeDecoderLayer, inclusive); expert_layer_period/offset (Jamba: i % period ==
    offset). Every layer MoE when none is set."""
    if not has_moe:
        return ["dense"] * n
    kinds = f.list("mlp_layer_types")  # transformers v5: "dense" / "sparse" per layer
    if kinds:
        if len(kinds) != n or any(k not in ("dense", "sparse", "moe") for k in kinds):
            raise SpecError(f"{f.where}: field 'mlp_layer_types' must be dense/sparse x {n}")
        return ["dense" if k == "dense" else "moe" for k in kinds]
    freq = f.get("moe_layer_freq")
    if isinstance(freq, list):
        if len(freq) != n or not all(v in (0, 1, True, False) for v in freq):
            raise SpecError(
                f"{f.where}: field 'moe_layer_freq' must list 0/1 for each of {n} layers"
            )
        return ["moe" if v else "dense" for v in freq]
    plan = ["moe"] * n
    first_dense = f.int("first_k_dense_replace", default=0, minimum=0)
    step = f.int("moe_layer_freq", default=1)
    sparse_step = f.int("decoder_sparse_step", default=1)
    mlp_only = set(f.int_list("mlp_only_layers"))
    start = f.int("moe_layer_start_index", default=0, minimum=0)
    end = f.int("moe_layer_end_index", default=n - 1, minimum=-1)
    end = n - 1 if end < 0 else end
    interval = f.int("moe_layer_interval", default=1)
    period = f.int("expert_layer_period", default=1)
    offset = f.int("expert_layer_offset", default=0, minimum=0)
    for i in range(n):
        moe = (
            i >= first_dense
            and i % step == 0
            and (i + 1) % sparse_step == 0
            and i not in mlp_only
            and start <= i <= end
            and (i + 1) % interval == 0
            and i % period == offset
        )
        plan[i] = "moe" if moe else "dense"
    return plan


def mixer_plan(f: Fields, n: int) -> list[tuple[MixerKind, WindowKind]]:
    """Each layer's token mixer, from layer_types (Qwen3.5, gpt-oss), full_attention_interval
    (Qwen3-Next: layer i is full attention when (i + 1) % interval == 0, else Gated DeltaNet),
    hybrid_layer_pattern (MiMo-V2-Flash: 1 = sliding window), attn_layer_period/offset
    (Jamba: attention when i % period == offset, else Mamba); full attention otherwise
    (sliding everywhere when sliding_window is set and use_sliding_window is not false)."""
    types = f.list("layer_types")
    if types:
        if len(types) != n or any(t not in LAYER_TYPES for t in types):
            unknown = sorted({str(t) for t in types} - LAYER_TYPES.keys())
            raise SpecError(
                f"{f.where}: field 'layer_types' must name one of {', '.join(LAYER_TYPES)} for "
                f"each of {n} layers" + (f" (unknown: {', '.join(unknown)})" if unknown else "")
            )
        return [LAYER_TYPES[t] for t in types]
    if f.has("full_attention_interval"):
        k = f.int("full_attention_interval")
        return [
            (MixerKind.ATTENTION, WindowKind.FULL)
            if (i + 1) % k == 0
            else (MixerKind.LINEAR_ATTENTION, WindowKind.FULL)
            for i in range(n)
        ]
    pattern = f.list("hybrid_layer_pattern")
    if pattern:
        if len(pattern) != n:
            raise SpecError(f"{f.where}: field 'hybrid_layer_pattern' must have {n} entries")
        return [
            (MixerKind.ATTENTION, WindowKind.SLIDING if v else WindowKind.FULL) for v in pattern
        ]
    if f.has("attn_layer_period"):
        period = f.int("attn_layer_period")
        offset = f.int("attn_layer_offset", default=0, minimum=0)
        return [
            (MixerKind.ATTENTION, WindowKind.FULL)
            if i % period == offset
            else (MixerKind.MAMBA, WindowKind.FULL)
            for i in range(n)
        ]
    sliding = f.has("sliding_window") and f.get("use_sliding_window", True) is not False
    return [(MixerKind.ATTENTION, WindowKind.SLIDING if sliding else WindowKind.FULL)] * n


def _nemotron_named_blocks(f: Fields, key: str) -> list[tuple[MixerKind, str]]:
    """The blocks a list of block names gives (layers_block_type, mtp_layers_block_type: one
    NEMOTRON_BLOCK_TYPES name each); [] when the field is absent, an unknown name refused."""
    types = f.list(key)
    unknown = sorted({str(t) for t in types} - NEMOTRON_BLOCK_TYPES.keys())
    if unknown:
        raise SpecError(f"{f.where}: field '{key}' names {', '.join(unknown)}")
    return [NEMOTRON_BLOCKS[NEMOTRON_BLOCK_TYPES[t]] for t in types]


def nemotron_plan(f: Fields) -> list[tuple[MixerKind, str]]:
    """NemotronHConfig.hybrid_override_pattern: M = Mamba2, * = attention, - = MLP, E = MoE;
    each block is one mixer or one FFN, with one norm (or layers_block_type, one name each)."""
    named = _nemotron_named_blocks(f, "layers_block_type")
    if named:
        return named
    pattern = f.str("hybrid_override_pattern")
    n = f.int("num_hidden_layers")
    if len(pattern) != n or any(c not in NEMOTRON_BLOCKS for c in pattern):
        raise SpecError(
            f"{f.where}: field 'hybrid_override_pattern' must have {n} characters of "
            f"{''.join(NEMOTRON_BLOCKS)}"
        )
    return [NEMOTRON_BLOCKS[c] for c in pattern]


def nemotron_mtp_plan(f: Fields) -> list[tuple[MixerKind, str]]:
    """The blocks of one Nemotron-H MTP step: mtp_layers_block_type (names as layers_block_type)
    or mtp_hybrid_override_pattern (characters as hybrid_override_pattern); NemotronHConfig's
    default ["full_attention", "moe"] when neither is set. vLLM's NemotronHMultiTokenPredictor
    builds one block per entry (attention or MoE, each with its own norm); the step's first block
    also holds enorm, hnorm and eh_proj, its last the final_layernorm."""
    named = _nemotron_named_blocks(f, "mtp_layers_block_type")
    if named:
        return named
    pattern = f.str("mtp_hybrid_override_pattern", "*E")
    if not pattern or any(c not in NEMOTRON_BLOCKS for c in pattern):
        raise SpecError(
            f"{f.where}: field 'mtp_hybrid_override_pattern' must be characters of "
            f"{''.join(NEMOTRON_BLOCKS)}"
        )
    return [NEMOTRON_BLOCKS[c] for c in pattern]


def gqa(
    f: Fields, hidden: int, prefix: str = "", kv_aliases: tuple[str, ...] = (), **kw: Any
) -> AttentionSpec:
    """Multi-head / grouped-query attention from {prefix}num_attention_heads,
    {prefix}num_key_value_heads (or the first of `kv_aliases` set: StepFun's
    num_attention_groups), {prefix}head_dim and {prefix}v_head_dim (MiMo-V2-Flash's sliding
    layers use the swa_ prefix)."""
    heads = f.int(prefix + "num_attention_heads")
    kv = f.int_of((prefix + "num_key_value_heads", *kv_aliases), default=heads)
    head_dim = f.int(prefix + "head_dim", default=0, minimum=0) or div(hidden, heads, f, "head_dim")
    v_dim = f.int(prefix + "v_head_dim", default=head_dim)
    if heads % kv:
        raise SpecError(
            f"{f.where}: {prefix}num_attention_heads {heads} is not a multiple of "
            f"{prefix}num_key_value_heads {kv}"
        )
    return AttentionSpec(AttentionKind.GQA, heads, kv, head_dim, v_dim, **kw)


def mla(f: Fields, **kw: Any) -> AttentionSpec:
    """DeepSeek MLA (q_lora_rank optional) with the DSA indexer when index_n_heads is set."""
    heads = f.int("num_attention_heads")
    nope = f.int("qk_nope_head_dim")
    rope = f.int("qk_rope_head_dim")
    indexer = None
    if f.has("index_n_heads"):
        indexer = IndexerSpec(
            f.int("index_n_heads"), f.int("index_head_dim"), f.int("index_topk", default=2048)
        )
    return AttentionSpec(
        AttentionKind.MLA,
        heads,
        heads,
        nope + rope,
        f.int("v_head_dim"),
        qkv_bias=f.bool("attention_bias"),
        q_lora_rank=f.opt_int("q_lora_rank"),
        kv_lora_rank=f.int("kv_lora_rank"),
        qk_rope_head_dim=rope,
        qk_nope_head_dim=nope,
        indexer=indexer,
        **kw,
    )


def moe_block(
    f: Fields,
    width_keys: tuple[str, ...] = EXPERT_WIDTH,
    score_bias: bool = False,
    shared_gate: bool = False,
) -> MoESpec | None:
    # moe_latent_size (Nemotron-H latent MoE): experts work in a smaller latent width
    """The MoE block from the aliases above; shared experts are n_shared x width (the width
    field of the family, else the routed expert width); None when the config has no experts."""
    n = f.int_of(NUM_EXPERTS, default=0, minimum=0)
    if not n:
        return None
    zero_kind = f.str("zero_expert_type", "identity")
    if zero_kind != "identity":
        raise SpecError(f"{f.where}: zero_expert_type '{zero_kind}' is not modelled (identity is)")
    width = f.int_of(width_keys)
    n_shared = f.int_of(NUM_SHARED, default=0, minimum=0)
    shared_width = f.int_of(SHARED_WIDTH, default=0, minimum=0)
    if shared_width and not n_shared:
        n_shared = 1
    return MoESpec(
        n,
        f.int_of(TOP_K),
        width,
        num_shared_experts=n_shared,
        num_zero_experts=f.int("zero_expert_num", default=0, minimum=0),
        shared_intermediate_size=(shared_width or width) if n_shared else 0,
        shared_expert_gate=shared_gate and bool(n_shared),
        router_score_bias=score_bias,
        latent_size=f.opt_int("moe_latent_size"),
    )


def check_expert_count(f: Fields) -> None:
    """An expert count of 0 is a dense model only where no expert is routed to: set to 0 beside
    a top-k above 0 it is refused, not read as dense (as the readers that ask for at least 1
    expert refuse it). Called once for every family, by hf_config, when no MoE was read."""
    key = f.first(*NUM_EXPERTS)
    top_k_key = f.first(*TOP_K)
    if key is None or top_k_key is None or f.get(key) != 0 or isinstance(f.get(key), bool):
        return
    top_k = f.int(top_k_key, minimum=0)
    if top_k:
        raise SpecError(
            f"{f.where}: field '{key}' is 0 but '{top_k_key}' routes {top_k} experts per "
            "token: a MoE needs at least 1 routed expert (a dense config sets both to 0)"
        )


# output_gate_type (Qwen3.6 configs; Qwen4ExpTextConfig documents it): the activation of the
# gated RMSNorm on the Gated DeltaNet output (Qwen4ExpTextGatedDeltaNet.norm; hidden_act when
# unset; Qwen3_5RMSNormGated fixes silu). An activation changes no weight; any other value
# could name another gate shape, and is refused.
GATE_ACTIVATIONS = ("swish", "silu", "sigmoid")


def gated_deltanet(f: Fields) -> RecurrentSpec:
    """Qwen3NextGatedDeltaNet / Qwen3_5 GatedDeltaNet shapes (output_gate_type checked)."""
    gate = f.str("output_gate_type", "silu")
    if gate not in GATE_ACTIVATIONS:
        raise SpecError(
            f"{f.where}: output_gate_type '{gate:.40}' is not modelled "
            f"(an activation: {', '.join(GATE_ACTIVATIONS)})"
        )
    return RecurrentSpec(
        MixerKind.LINEAR_ATTENTION,
        num_heads=f.int("linear_num_value_heads"),
        head_dim=f.int("linear_value_head_dim"),
        state_size=f.int("linear_key_head_dim"),
        conv_kernel=f.int("linear_conv_kernel_dim"),
        num_key_heads=f.int("linear_num_key_heads"),
    )


def mamba2(f: Fields) -> RecurrentSpec:
    """NemotronHMamba2Mixer: d_inner = mamba_num_heads x mamba_head_dim."""
    return RecurrentSpec(
        MixerKind.MAMBA2,
        num_heads=f.int("mamba_num_heads"),
        head_dim=f.int("mamba_head_dim"),
        state_size=f.int("ssm_state_size"),
        conv_kernel=f.int("conv_kernel"),
        n_groups=f.int("n_groups", default=1),
        conv_bias=f.bool("use_conv_bias", default=True),
        proj_bias=f.bool("mamba_proj_bias"),
    )


def mamba1(f: Fields, hidden: int) -> RecurrentSpec:
    """JambaMambaMixer: d_inner = mamba_expand x hidden; dt_rank 'auto' = ceil(hidden / 16)."""
    dt_rank = f.get("mamba_dt_rank")
    rank = -(-hidden // 16) if dt_rank in (None, "auto") else f.int("mamba_dt_rank")
    return RecurrentSpec(
        MixerKind.MAMBA,
        num_heads=1,
        head_dim=f.int("mamba_expand", default=2) * hidden,
        state_size=f.int("mamba_d_state"),
        conv_kernel=f.int("mamba_d_conv"),
        dt_rank=rank,
        conv_bias=f.bool("mamba_conv_bias", default=True),
        proj_bias=f.bool("mamba_proj_bias"),
        # JambaMambaMixer always builds dt/B/C RMSNorms (transformers v5 has no such field)
        inner_layernorms=f.bool("mamba_inner_layernorms", default=True),
    )
