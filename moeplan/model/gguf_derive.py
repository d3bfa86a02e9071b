"""Fields of an HF config.json that a GGUF file holds only in other keys or in its tensor table
(names and shapes), derived as llama.cpp's loader (``src/llama-model.cpp``, ``src/models/*.cpp``)
reads them; the table of architectures using them: ``gguf_archs.py``. Shapes are GGML order:
``ne[0]`` (the input dimension) first. A field that cannot be recovered raises SpecError naming
the key or tensor missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moeplan.errors import SpecError


@dataclass(frozen=True)
class GgufFile:
    """What a derivation reads: the metadata (full key names) and each tensor's shape."""

    path: Path
    arch: str
    fields: Mapping[str, Any]
    shapes: Mapping[str, tuple[int, ...]]
    main_layers: int  # blocks before the trailing MTP (nextn) blocks

    def key(self, name: str) -> Any:
        """The value of ``{arch}.{name}``, or None."""
        return self.fields.get(f"{self.arch}.{name}")

    def need(self, name: str) -> Any:
        value = self.key(name)
        if value is None:
            raise SpecError(f"{self.path}: GGUF key '{self.arch}.{name}' is missing")
        return value

    def shape(self, tensor: str) -> tuple[int, ...]:
        if tensor not in self.shapes:
            raise SpecError(f"{self.path}: GGUF tensor '{tensor}' is missing")
        return self.shapes[tensor]

    def has(self, tensor: str) -> bool:
        return tensor in self.shapes

    def layers_with(self, suffix: str) -> list[int]:
        """Main layers i that hold tensor ``blk.{i}.{suffix}``."""
        return [i for i in range(self.main_layers) if f"blk.{i}.{suffix}" in self.shapes]

    def first(self, suffix: str) -> int | None:
        """The first main layer holding ``blk.{i}.{suffix}``, or None."""
        found = self.layers_with(suffix)
        return found[0] if found else None


Derive = Callable[[GgufFile, dict[str, Any]], None]

LLAMA4_CHUNK = 8192
"""Llama 4's attention chunk in tokens: llama.cpp's loader sets n_swa = 8192 (models/llama4.cpp),
as Scout's and Maverick's config.json say (attention_chunk_size); no GGUF key holds it."""


# ---- derivations shared by several architectures ----------------------------------------


def attention_bias(g: GgufFile, cfg: dict[str, Any]) -> None:
    """attention_bias: the q projection of a full-attention layer has a bias tensor."""
    layer = g.first("attn_q.weight")
    cfg["attention_bias"] = layer is not None and g.has(f"blk.{layer}.attn_q.bias")


def qk_norm(g: GgufFile, cfg: dict[str, Any]) -> None:
    """use_qk_norm: the layers hold attn_q_norm."""
    cfg["use_qk_norm"] = g.first("attn_q_norm.weight") is not None


def dense_layers(g: GgufFile, cfg: dict[str, Any]) -> None:
    """mlp_only_layers (Qwen-style): the main layers without a router (ffn_gate_inp)."""
    cfg["mlp_only_layers"] = [
        i for i in range(g.main_layers) if not g.has(f"blk.{i}.ffn_gate_inp.weight")
    ]
    cfg["decoder_sparse_step"] = 1


def recurrent_layer_types(g: GgufFile, cfg: dict[str, Any]) -> None:
    """layer_types from ``{arch}.attention.recurrent_layers`` (one flag per block, MTP blocks
    included: convert_hf_to_gguf Qwen3NextModel writes layer_types == "linear_attention")."""
    flags = g.need("attention.recurrent_layers")
    if not isinstance(flags, list) or len(flags) < g.main_layers:
        raise SpecError(f"{g.path}: GGUF key '{g.arch}.attention.recurrent_layers' is malformed")
    cfg["layer_types"] = [
        "linear_attention" if flag else "full_attention" for flag in flags[: g.main_layers]
    ]


def per_layer_scalars(g: GgufFile, cfg: dict[str, Any]) -> None:
    """A per-layer array (hybrid models write head_count_kv, feed_forward_length, ... per block,
    0 where the block has none) as the one nonzero value the HF field holds."""
    for hf_key, value in list(cfg.items()):
        if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
            nonzero = {v for v in value if v}
            if len(nonzero) > 1:
                raise SpecError(
                    f"{g.path}: GGUF per-layer '{hf_key}' values differ ({sorted(nonzero)}); "
                    "the HF config holds one"
                )
            cfg[hf_key] = nonzero.pop() if nonzero else 0


def swa_layers(g: GgufFile, default_period: int, dense_first: bool = False) -> list[bool]:
    """Which main layers use the sliding window, as llama.cpp's load_swa_pattern reads them:
    the ``attention.sliding_window_pattern`` array, or its period n (layer i slides when
    i % n < n - 1; with dense_first when i % n != 0), else the period the architecture's loader
    passes."""
    pattern = g.key("attention.sliding_window_pattern")
    if isinstance(pattern, list):
        return [bool(v) for v in pattern[: g.main_layers]]
    n = pattern if isinstance(pattern, int) and pattern > 0 else default_period
    if dense_first:
        return [i % n != 0 for i in range(g.main_layers)]
    return [i % n < n - 1 for i in range(g.main_layers)]


def layer_types(g: GgufFile, cfg: dict[str, Any], default_period: int, dense_first: bool) -> None:
    """layer_types (sliding where swa_layers says so and the file has a window, else full) and
    mlp_layer_types (sparse where the block has a router, ffn_gate_inp)."""
    slides = swa_layers(g, default_period, dense_first) if g.key("attention.sliding_window") else []
    cfg["layer_types"] = [
        "sliding_attention" if i < len(slides) and slides[i] else "full_attention"
        for i in range(g.main_layers)
    ]
    cfg["mlp_layer_types"] = mlp_layer_types(g)


def head_dim_from_q(g: GgufFile, cfg: dict[str, Any]) -> None:
    """head_dim where the converter writes no key_length: attn_q [hidden, heads x head_dim] of
    the first layer over its head count."""
    heads = g.need("attention.head_count")
    heads = heads[0] if isinstance(heads, list) else heads
    cfg.setdefault("head_dim", g.shape("blk.0.attn_q.weight")[1] // int(heads))


def router_bias(g: GgufFile) -> bool:
    """The router has a score-correction bias: ``blk.N.exp_probs_b.bias``, as llama.cpp's
    loaders name it (tn(LLM_TENSOR_FFN_EXP_PROBS_B, "bias", i)), or ``blk.N.exp_probs_b``
    without the suffix, as models/hy-v3.cpp does and convert_hf_to_gguf writes it from a
    checkpoint name without one (HYV3Model: model.layers.N.mlp.expert_bias)."""
    return any(g.first(name) is not None for name in ("exp_probs_b.bias", "exp_probs_b"))


def per_block(g: GgufFile, value: Any) -> list[Any]:
    """A key written per block (a list, MTP blocks included) or once for all, per main layer."""
    return value[: g.main_layers] if isinstance(value, list) else [value] * g.main_layers


def sliding_flags(g: GgufFile) -> list[bool]:
    """The per-block ``attention.sliding_window_pattern`` flags (MTP blocks left out), for the
    loaders that require the key (granite-swa, step35, dots3note)."""
    return [bool(v) for v in per_block(g, g.need("attention.sliding_window_pattern"))]


def shared_expert_width(g: GgufFile) -> int | None:
    """The shared MLP's width: ffn_up_shexp [hidden, width] of the first block holding one;
    None when no block does."""
    layer = g.first("ffn_up_shexp.weight")
    return None if layer is None else g.shape(f"blk.{layer}.ffn_up_shexp.weight")[1]


def mlp_layer_types(g: GgufFile) -> list[str]:
    """mlp_layer_types: sparse where the block has a router (ffn_gate_inp), else dense."""
    routed = g.layers_with("ffn_gate_inp.weight")
    return ["sparse" if i in routed else "dense" for i in range(g.main_layers)]


def ssm_head_dim(g: GgufFile) -> int:
    """A Mamba2 / Gated DeltaNet head's width: the converters write ssm.inner_size = heads x
    head_dim and ssm.time_step_rank = heads."""
    return int(g.need("ssm.inner_size")) // int(g.need("ssm.time_step_rank"))


def mamba_biases(g: GgufFile) -> tuple[bool, bool]:
    """(conv1d bias, in_proj bias) of the Mamba blocks, seen on the first one (ssm_in)."""
    mamba = g.first("ssm_in.weight")
    if mamba is None:
        return False, False
    return g.has(f"blk.{mamba}.ssm_conv1d.bias"), g.has(f"blk.{mamba}.ssm_in.bias")


# ---- per-architecture derivations ---------------------------------------------------------


def gated_deltanet(g: GgufFile, cfg: dict[str, Any]) -> None:
    """Qwen3NextModel writes ssm.inner_size = linear_value_head_dim * linear_num_value_heads
    and ssm.time_step_rank = linear_num_value_heads."""
    cfg["linear_value_head_dim"] = ssm_head_dim(g)
    recurrent_layer_types(g, cfg)
    dense_layers(g, cfg)


def bias_and_qk_norm(g: GgufFile, cfg: dict[str, Any]) -> None:
    """attention_bias and use_qk_norm, which GLM-4.5's and Hunyuan's converters do not write,
    seen in the tensors."""
    attention_bias(g, cfg)
    qk_norm(g, cfg)


def minimax_m2(g: GgufFile, cfg: dict[str, Any]) -> None:
    """MiniMaxM2Model writes no use_routing_bias: the router's bias is the exp_probs_b tensor."""
    cfg["use_routing_bias"] = router_bias(g)


def llama4(g: GgufFile, cfg: dict[str, Any]) -> None:
    """Llama4Model writes intermediate_size_mlp as feed_forward_length and the expert width as
    expert_feed_forward_length, no attention_chunk_size and no moe_layers; llama.cpp's loader
    (models/llama4.cpp) takes chunks of LLAMA4_CHUNK tokens on 3 of every 4 layers unless
    {arch}.attention.sliding_window is 0. The MoE layers are those with a router."""
    window = g.key("attention.sliding_window")
    cfg["attention_chunk_size"] = None if window == 0 else LLAMA4_CHUNK
    # no_rope_layers: 1 where a layer uses RoPE and chunks, 0 on the global NoPE layers
    chunked = [False] * g.main_layers if window == 0 else swa_layers(g, 4)
    cfg["no_rope_layers"] = [int(c) for c in chunked]
    cfg["moe_layers"] = g.layers_with("ffn_gate_inp.weight")


def nemotron_h(g: GgufFile, cfg: dict[str, Any]) -> None:
    """NemotronHModel (GraniteHybridModel) writes per-block arrays and no block pattern: each
    block is Mamba2 (ssm_in), attention (attn_q), MoE (ffn_gate_inp) or MLP (ffn_up), as the
    tensors show; mamba_head_dim = ssm.inner_size / ssm.time_step_rank."""
    per_layer_scalars(g, cfg)
    pattern = []
    for i in range(g.main_layers):
        kinds = [
            c
            for c, t in (("M", "ssm_in"), ("*", "attn_q"), ("E", "ffn_gate_inp"))
            if g.has(f"blk.{i}.{t}.weight")
        ]
        if not kinds and g.has(f"blk.{i}.ffn_up.weight"):
            kinds = ["-"]
            cfg["intermediate_size"] = g.shape(f"blk.{i}.ffn_up.weight")[1]
        if len(kinds) != 1:
            raise SpecError(f"{g.path}: GGUF block {i} is not one Nemotron-H block: {kinds}")
        pattern.append(kinds[0])
    cfg["hybrid_override_pattern"] = "".join(pattern)
    # llama.cpp builds Nemotron-H experts and MLPs ungated with relu^2 (ffn_up, ffn_down)
    gated = g.first("ffn_gate_exps.weight") is not None or g.first("ffn_gate.weight") is not None
    cfg["mlp_hidden_act"] = "silu" if gated else "relu2"
    cfg["mamba_head_dim"] = ssm_head_dim(g)
    cfg["use_conv_bias"], cfg["mamba_proj_bias"] = mamba_biases(g)
    attention_bias(g, cfg)
    cfg.setdefault("moe_latent_size", None)


def granite_hybrid(g: GgufFile, cfg: dict[str, Any]) -> None:
    """GraniteHybridModel: a block is attention where it holds attn_q, else Mamba2 (the
    converter's head_count_kv array is 0 on Mamba2 blocks, and on every block when
    it did not recognise the config's layer_types); mamba_d_head = ssm.inner_size /
    ssm.time_step_rank, mamba_expand = inner / hidden."""
    attention = g.layers_with("attn_q.weight")
    cfg["layer_types"] = ["attention" if i in attention else "mamba" for i in range(g.main_layers)]
    per_layer_scalars(g, cfg)
    if attention and not cfg.get("num_key_value_heads"):
        q, k = (
            g.shape(f"blk.{attention[0]}.attn_q.weight"),
            g.shape(f"blk.{attention[0]}.attn_k.weight"),
        )
        head_dim = q[1] // int(g.need("attention.head_count"))
        cfg["num_key_value_heads"] = k[1] // head_dim
    cfg["mamba_d_head"] = ssm_head_dim(g)
    cfg["mamba_expand"] = int(g.need("ssm.inner_size")) // int(g.need("embedding_length"))
    cfg["mamba_conv_bias"], cfg["mamba_proj_bias"] = mamba_biases(g)
    attention_bias(g, cfg)
    cfg.setdefault("num_local_experts", 0)
    cfg.setdefault("shared_intermediate_size", 0)


def ernie(g: GgufFile, cfg: dict[str, Any]) -> None:
    """Ernie4_5MoeModel writes moe_layer_start_index (leading_dense_block_count) and the interval
    but not moe_layer_end_index: the last layer with a router."""
    routed = g.layers_with("ffn_gate_inp.weight")
    if not routed:
        raise SpecError(f"{g.path}: GGUF ernie4_5-moe file has no MoE layer (ffn_gate_inp)")
    cfg["moe_layer_end_index"] = routed[-1]
    cfg["use_bias"] = g.has("blk.0.attn_q.bias")
    cfg["moe_use_aux_free"] = router_bias(g)


def lfm2(g: GgufFile, cfg: dict[str, Any]) -> None:
    """Lfm2MoeModel: a block is a short convolution where head_count_kv is 0."""
    kv = per_block(g, g.need("attention.head_count_kv"))
    cfg["layer_types"] = ["full_attention" if n else "conv" for n in kv]
    per_layer_scalars(g, cfg)
    conv = g.first("shortconv.conv.weight")
    cfg["conv_bias"] = conv is not None and g.has(f"blk.{conv}.shortconv.conv.bias")
    cfg["use_expert_bias"] = router_bias(g)


def granitemoe(g: GgufFile, cfg: dict[str, Any]) -> None:
    """GraniteMoeModel writes granitemoeshared as granitemoe: shared experts when ffn_up_shexp
    is there (the model_type the tensors say)."""
    cfg["model_type"] = (
        "granitemoeshared" if g.first("ffn_up_shexp.weight") is not None else "granitemoe"
    )
    attention_bias(g, cfg)


def jamba(g: GgufFile, cfg: dict[str, Any]) -> None:
    """JambaModel writes head_count_kv per layer (0 on Mamba layers) and no layer periods: the
    attention layers hold attn_q, the MoE layers a router; mamba_expand = ssm.inner_size /
    hidden. Offsets and periods are read back from those layer lists."""
    per_layer_scalars(g, cfg)
    n = g.main_layers
    for kind, tensor in (("attn", "attn_q.weight"), ("expert", "ffn_gate_inp.weight")):
        found = g.layers_with(tensor)
        period = found[1] - found[0] if len(found) > 1 else n
        offset = found[0] if found else n
        if found != list(range(offset, n, period)):
            raise SpecError(f"{g.path}: GGUF jamba {kind} layers {found} are not periodic")
        cfg[f"{kind}_layer_period"], cfg[f"{kind}_layer_offset"] = period, offset
    cfg["mamba_expand"] = int(g.need("ssm.inner_size")) // int(g.need("embedding_length"))
    cfg["mamba_conv_bias"], cfg["mamba_proj_bias"] = mamba_biases(g)


def phimoe(g: GgufFile, cfg: dict[str, Any]) -> None:
    attention_bias(g, cfg)
    cfg["lm_head_bias"] = g.has("output.bias")


def afmoe(g: GgufFile, cfg: dict[str, Any]) -> None:
    """AfmoeModel writes the window but not the layer pattern: llama.cpp's loader
    (models/afmoe.cpp) takes 3 sliding and 1 full layer (global_attn_every_n_layers 4)."""
    if g.key("attention.sliding_window"):
        slides = swa_layers(g, 4)
        cfg["layer_types"] = ["sliding_attention" if s else "full_attention" for s in slides]
    else:
        cfg["layer_types"] = ["full_attention"] * g.main_layers
