"""llama.cpp's per-tensor type choice for a GGUF file type, reduced to the share of each
moeplan component stored in each block type.

Source: ggml-org/llama.cpp@007dbbf3fd17eefe9b47fee45f48f7ba5e62b714 src/llama-quant.cpp:
``llama_ftype_get_default_type`` (the base type of each file type, ``FTYPE_BASE`` here) and
``llama_tensor_get_type_impl`` (the per-tensor rules, ``tensor_type`` here). What is modelled:

- tensors are visited in layer order (``weight_name_comparer``), name order within a layer
  (``ffn_down`` < ``ffn_down_exps`` < ``ffn_down_shexp``); ``use_more_bits`` picks the first and
  last eighth of the layers and every third layer between;
- attention rules by tensor: ``attn_q``, ``attn_k``, ``attn_v`` (counted by the running index of
  ``attn_v`` tensors), ``attn_output``; MLA checkpoints as converted now store ``attn_q_a/b``,
  ``attn_kv_a_mqa`` and ``attn_k_b``/``attn_v_b``, which no rule names (base type), and
  ``attn_output``, which the rules name;
- FFN rules by the layer index parsed from the name (``layer_info``, a model with experts) or,
  for the IQ1/IQ2 file types, by the running count of ``ffn_down`` tensors, which a layer with
  a shared expert advances twice;
- ``output.weight`` and ``token_embd.weight`` (a tied table takes the output's type);
- an importance matrix for the IQ file types (IQ1/IQ2/IQ3_XXS refuse to quantize without one;
  published IQ4_XS/IQ4_NL files are imatrix files too), none for k-quants and Q4_0/Q8_0.

Not modelled: the shape fallback (a row width not a multiple of the block: gpt-oss's 2880
takes IQ4_NL / Q4_0 / Q5_0 / Q8_0 instead), Falcon's and LLM_TYPE_70B's own rules, fused
``attn_qkv`` tensors, ``--tensor-type`` overrides other than a moeplan mix (a component given its
own format in a mix keeps that format: llama.cpp applies no rule to a manual override), and
tooling that writes its own per-tensor recipe (Unsloth "UD" dynamic quants).
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from dataclasses import dataclass

from moeplan.model.specs import AttentionKind, LayerSpec, ModelSpec

# llama_ftype_get_default_type: file type -> the type every quantizable tensor starts from
FTYPE_BASE: dict[str, str] = {
    "q8_0": "q8_0", "q6_k": "q6_k", "q5_k_m": "q5_k", "q5_k_s": "q5_k",
    "q4_k_m": "q4_k", "q4_k_s": "q4_k", "q4_0": "q4_0",
    "q3_k_l": "q3_k", "q3_k_m": "q3_k", "q3_k_s": "q3_k", "q2_k": "q2_k", "q2_k_s": "q2_k",
    "iq4_xs": "iq4_xs", "iq4_nl": "iq4_nl", "iq3_m": "iq3_s", "iq3_s": "iq3_s",
    "iq3_xs": "iq3_s", "iq3_xxs": "iq3_xxs", "iq2_m": "iq2_s", "iq2_s": "iq2_xs",
    "iq2_xs": "iq2_xs", "iq2_xxs": "iq2_xxs", "iq1_m": "iq1_m", "iq1_s": "iq1_s",
}  # fmt: skip

# the IQ1/IQ2 branch of llama_tensor_get_type_impl
_LOW = frozenset({"iq2_xxs", "iq2_xs", "iq1_s", "iq2_s", "iq2_m", "iq1_m"})
# files made with an importance matrix (see the module docstring)
_IMATRIX = frozenset(f for f in FTYPE_BASE if f.startswith("iq"))
# attn_output -> Q5_K in an 8-expert model
_OUT_Q5K_8EXP = frozenset(
    {"q2_k", "iq3_xs", "iq3_xxs", "q3_k_s", "q3_k_m", "iq4_nl", "q4_k_s", "q4_k_m", "iq3_s"}
    | {"iq3_m", "iq4_xs"}
)


def use_more_bits(i_layer: int, n_layers: int) -> bool:
    """llama-quant.cpp use_more_bits(): the first and last eighth of the layers and every third
    layer in between get the larger type."""
    return (
        i_layer < n_layers // 8
        or i_layer >= 7 * n_layers // 8
        or (i_layer - n_layers // 8) % 3 == 2
    )


@dataclass(frozen=True)
class _Model:
    n_expert: int
    gqa: int


def output_type(ftype: str) -> str:
    """output.weight (and a tied token_embd): Q5_K for the IQ1/IQ2/IQ3_XXS files, Q8_0 kept,
    else Q6_K."""
    if ftype in _LOW or ftype == "iq3_xxs":
        return "q5_k"
    return "q8_0" if FTYPE_BASE[ftype] == "q8_0" else "q6_k"


def embedding_type(ftype: str) -> str:
    """An untied token_embd.weight."""
    if ftype in ("iq2_xxs", "iq2_xs", "iq1_s", "iq1_m"):
        return "q2_k"
    if ftype in ("iq2_s", "iq2_m", "iq3_xxs"):
        return "iq3_s"
    return FTYPE_BASE[ftype]


def tensor_type(
    ftype: str, cat: str, i: int, n: int, m: _Model, imatrix: bool | None = None
) -> str:
    """llama_tensor_get_type_impl for one layer tensor: `cat` one of attn_q, attn_k, attn_v,
    attn_output, ffn_gate, ffn_up, ffn_down; (i, n) the index the rule uses (see the module
    docstring) and the count it is compared with; `imatrix` None: the file type's default."""
    base = FTYPE_BASE[ftype]
    if imatrix is None:
        imatrix = ftype in _IMATRIX
    if ftype in _LOW:
        if cat == "attn_v":
            if m.gqa >= 4 or m.n_expert >= 4:
                return "q4_k"
            return "iq3_s" if ftype in ("iq2_s", "iq2_m") else "q2_k"
        if cat == "attn_k" and m.n_expert == 8:
            return "q4_k"
        if cat == "ffn_down" and i < n // 8:
            return "iq3_s" if ftype in ("iq2_s", "iq2_m") else "q2_k"
        if cat == "attn_output":
            if m.n_expert == 8:
                return "q5_k"
            if ftype in ("iq1_s", "iq1_m"):
                return "iq2_xxs"
            if ftype in ("iq2_s", "iq2_m"):
                return "iq3_s"
        return base
    if cat == "attn_v":
        t = _attn_v(ftype, base, i, n, m, imatrix)
        return "q8_0" if m.n_expert == 8 else t
    if cat == "attn_k":
        if m.n_expert == 8:
            return "q8_0"
        return {"iq3_xs": "iq3_xxs", "iq3_xxs": "iq2_s"}.get(ftype, base)
    if cat == "attn_q":
        return {"iq3_xs": "iq3_xxs", "iq3_xxs": "iq2_s"}.get(ftype, base)
    if cat == "ffn_down":
        return _ffn_down(ftype, base, i, n, m, imatrix)
    if cat == "attn_output":
        if m.n_expert == 8:
            return "q5_k" if ftype in _OUT_Q5K_8EXP else base
        rule = {"q2_k": "q3_k", "iq3_xxs": "iq3_s", "q3_k_m": "q4_k", "q3_k_l": "q5_k"}
        return (rule | {"iq3_m": "q4_k"}).get(ftype, base)
    if cat in ("ffn_gate", "ffn_up") and ftype == "iq3_xs" and n // 8 <= i < 7 * n // 8:
        return "iq3_xxs"
    return base


def _attn_v(ftype: str, base: str, i: int, n: int, m: _Model, imatrix: bool) -> str:
    gqa4 = m.gqa >= 4
    if ftype == "q2_k":
        return "q4_k" if gqa4 else "q3_k"
    if ftype == "q2_k_s" and gqa4:
        return "q4_k"
    if ftype == "iq3_xxs":
        return "q4_k" if gqa4 else ("iq3_xxs" if imatrix else "iq3_s")
    if ftype in ("iq3_xs", "iq3_s") and gqa4:
        return "q4_k"
    if ftype == "iq3_m":
        return "q4_k"
    if ftype == "q3_k_m":
        return "q5_k" if i < 2 else "q4_k"
    if ftype == "q3_k_l":
        return "q5_k"
    if ftype in ("iq4_nl", "iq4_xs") and gqa4:
        return "q5_k"
    if ftype in ("q4_k_m", "q5_k_m") and use_more_bits(i, n):
        return "q6_k"
    if ftype == "q4_k_s" and i < 4:
        return "q5_k"
    return base


def _ffn_down(ftype: str, base: str, i: int, n: int, m: _Model, imatrix: bool) -> str:
    if ftype == "q2_k":
        return "q3_k"
    if ftype == "q2_k_s":
        return "q4_k" if i < n // 8 else base
    if ftype == "iq3_xxs" and not imatrix:
        return "q4_k" if i < n // 8 else "q3_k"
    if ftype == "q3_k_m":
        return "q5_k" if i < n // 16 else "q4_k"  # non-Falcon: Q4_K whether or not more bits
    if ftype == "iq3_m":
        if i < n // 8 or (m.n_expert == 8 and use_more_bits(i, n)):
            return "q4_k"
        return base
    if ftype == "q3_k_l":
        return "q5_k"
    if ftype == "q4_k_m":
        return "q6_k" if use_more_bits(i, n) else base
    if i < n // 8 and ftype in ("iq4_nl", "iq4_xs") and not imatrix:
        return "q5_k"
    if ftype == "q5_k_m" and use_more_bits(i, n):
        return "q6_k"
    if ftype == "q4_k_s" and i < n // 8:
        return "q5_k"
    return base


# ffn_down tensors of a layer in name order, with the moeplan component each belongs to
def _down_tensors(layer: LayerSpec, shared: bool) -> list[str]:
    names = []
    if layer.has_dense_ffn:
        names.append("dense_ffn")
    if layer.is_moe:
        names.append("routed_experts")
        if shared:
            names.append("shared_experts")
    return names


def type_shares(
    ftype: str, spec: ModelSpec, attention_total: int, imatrix: bool | None = None
) -> dict[str, dict[str, float]]:
    """_type_shares, memoised (a pure function of its arguments; planners and `validate` ask for
    the same model and file type many times); a copy the caller may change."""
    shares = _type_shares(ftype, spec, attention_total, imatrix)
    return {component: dict(types) for component, types in shares.items()}


@functools.lru_cache(maxsize=256)
def _type_shares(
    ftype: str, spec: ModelSpec, attention_total: int, imatrix: bool | None = None
) -> dict[str, dict[str, float]]:
    """For the components the rules reach (dense_ffn, routed_experts, shared_experts,
    attention, embedding, lm_head): the share of the component's weights in each block type.
    `attention_total`: the attention component's weights (recurrent mixers and norms in it
    stay at the base type)."""
    moe = spec.moe
    attn = spec.attention
    m = _Model(moe.num_experts if moe else 1, attn.num_heads // attn.num_kv_heads)
    n = spec.num_layers
    shared = bool(moe and moe.num_shared_experts)
    down_share = 1 / 3 if spec.ffn_gated else 1 / 2
    ffn: dict[str, dict[str, float]] = {
        c: defaultdict(float) for c in ("dense_ffn", "routed_experts", "shared_experts")
    }
    layers: Counter[str] = Counter()
    i_down = 0
    for i_layer, layer in enumerate(spec.layers):
        for comp in _down_tensors(layer, shared):
            i = i_down if (ftype in _LOW or m.n_expert <= 1) else i_layer
            ffn[comp][tensor_type(ftype, "ffn_down", i, n, m, imatrix)] += down_share
            for cat in ("ffn_gate", "ffn_up") if spec.ffn_gated else ("ffn_up",):
                ffn[comp][tensor_type(ftype, cat, i_layer, n, m)] += (1 - down_share) / (
                    2 if spec.ffn_gated else 1
                )
            layers[comp] += 1
            i_down += 1
    shares = {c: _normed(t, layers[c]) for c, t in ffn.items() if layers[c]}
    shares["attention"] = _attention_shares(ftype, spec, m, attention_total, imatrix)
    head = output_type(ftype)
    shares["lm_head"] = {head: 1.0}
    embd = head if spec.tie_word_embeddings else embedding_type(ftype)
    shares["embedding"] = {embd: 1.0}
    return shares


def _normed(types: dict[str, float], count: int) -> dict[str, float]:
    return {t: v / count for t, v in types.items()}


def _attention_shares(
    ftype: str, spec: ModelSpec, m: _Model, total: int, imatrix: bool | None
) -> dict[str, float]:
    base = FTYPE_BASE[ftype]
    shares: dict[str, float] = defaultdict(float)
    if not total:
        return {base: 1.0}
    attn_layers = [spec.layer_attention(x) for x in spec.layers if x.keeps_kv]
    n_v = sum(1 for a in attn_layers if a.kind is not AttentionKind.MLA)
    i_v = 0
    h = spec.hidden_size
    for i_layer, a in enumerate(attn_layers):
        out = a.num_heads * a.v_head_dim * h
        shares[tensor_type(ftype, "attn_output", i_layer, spec.num_layers, m)] += out / total
        if a.kind is AttentionKind.MLA:
            continue
        gate = a.num_heads * a.v_head_dim if a.output_gate else 0
        q = h * (a.num_heads * a.head_dim + gate)
        k = h * a.num_kv_heads * a.head_dim
        v = h * a.num_kv_heads * a.v_head_dim
        shares[tensor_type(ftype, "attn_q", i_layer, spec.num_layers, m)] += q / total
        shares[tensor_type(ftype, "attn_k", i_layer, spec.num_layers, m)] += k / total
        shares[tensor_type(ftype, "attn_v", i_v, n_v, m, imatrix)] += v / total
        i_v += 1
    shares[base] += max(0.0, 1.0 - sum(shares.values()))
    return shares
