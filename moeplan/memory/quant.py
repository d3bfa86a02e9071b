"""Weight storage formats and quantization schemes: bits per weight including scales, and which
tensors each scheme leaves in higher precision.

A scheme id is either a named scheme (``int4``, ``q4_k_m``, ``native``) or a mix written as
``BASE,GROUP=FORMAT,...`` (e.g. ``bf16,experts=mxfp4``: MXFP4 experts, BF16 everything else).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from moeplan.errors import MoeplanError, UnknownNameError
from moeplan.memory.gguf_mix import FTYPE_BASE, embedding_type, output_type, type_shares
from moeplan.model.params import ParamCounts
from moeplan.model.specs import AttentionKind, MixerKind, ModelSpec


@dataclass(frozen=True)
class WeightFormat:
    id: str
    bits_per_weight: float  # including block scales / zero points
    layout: str  # where the bits come from


def _block(bits: int, scale_bits: float, block: int) -> float:
    """Block-scaled format: `bits` per value plus one `scale_bits` scale per `block` values."""
    return bits + scale_bits / block


FORMATS: dict[str, WeightFormat] = {
    f.id: f
    for f in (
        WeightFormat("fp32", 32, "IEEE float32"),
        WeightFormat("bf16", 16, "bfloat16"),
        WeightFormat("fp16", 16, "IEEE float16"),
        WeightFormat("fp8", 8, "FP8 E4M3, one fp32 scale per tensor (ModelOpt/vLLM default)"),
        WeightFormat(
            "fp8-block",
            _block(8, 32, 128 * 128),
            "FP8 E4M3 with an fp32 scale per 128x128 block (DeepSeek-V3 checkpoint)",
        ),
        WeightFormat(
            "int8", _block(8, 16, 128), "int8, fp16 scale per group of 128 (W8A16 group-wise)"
        ),
        WeightFormat(
            "int4", _block(4, 16, 128), "int4, fp16 scale per group of 128 (GPTQ/AWQ symmetric)"
        ),
        WeightFormat(
            "int4-asym", _block(4, 32, 128), "int4, fp16 scale + fp16 zero per group of 128"
        ),
        WeightFormat("mxfp4", _block(4, 8, 32), "OCP MXFP4: E2M1 values, E8M0 scale per 32 values"),
        WeightFormat("nvfp4", _block(4, 8, 16), "NVFP4: E2M1 values, FP8 E4M3 scale per 16 values"),
        # GGUF block types (ggml-common.h block structs: bytes per 32- or 256-value super-block).
        WeightFormat("gguf-f32", 32, "GGUF F32 (norms, router)"),
        WeightFormat("q8_0", 34 * 8 / 32, "GGUF Q8_0: 32 int8 + fp16 scale = 34 bytes / 32"),
        WeightFormat("q6_k", 210 * 8 / 256, "GGUF Q6_K: 210 bytes / 256 values"),
        WeightFormat("q5_k", 176 * 8 / 256, "GGUF Q5_K: 176 bytes / 256 values"),
        WeightFormat("q4_k", 144 * 8 / 256, "GGUF Q4_K: 144 bytes / 256 values"),
        WeightFormat("q4_0", 18 * 8 / 32, "GGUF Q4_0: 16 bytes + fp16 scale = 18 bytes / 32"),
        WeightFormat("q3_k", 110 * 8 / 256, "GGUF Q3_K: 110 bytes / 256 values"),
        WeightFormat("q2_k", 84 * 8 / 256, "GGUF Q2_K: 84 bytes / 256 values"),
        # i-quants (ggml-org/llama.cpp@01243c587feceaa5d6a6c2305535ef2f549c48b8
        # ggml/src/ggml-common.h block_iq*: sizeof per QK_K = 256 values, IQ4_NL per 32)
        WeightFormat("iq4_xs", 136 * 8 / 256, "GGUF IQ4_XS: fp16 d + 2 + 4 scale bytes + 128"),
        WeightFormat("iq4_nl", 18 * 8 / 32, "GGUF IQ4_NL: fp16 d + 16 bytes / 32 values"),
        WeightFormat("iq3_s", 110 * 8 / 256, "GGUF IQ3_S: fp16 d + 64 + 8 + 32 + 4 bytes"),
        WeightFormat("iq3_xxs", 98 * 8 / 256, "GGUF IQ3_XXS: fp16 d + 96 bytes / 256 values"),
        WeightFormat("iq2_s", 82 * 8 / 256, "GGUF IQ2_S: fp16 d + 64 + 8 + 8 bytes / 256"),
        WeightFormat("iq2_xs", 74 * 8 / 256, "GGUF IQ2_XS: fp16 d + 64 + 8 bytes / 256 values"),
        WeightFormat("iq2_xxs", 66 * 8 / 256, "GGUF IQ2_XXS: fp16 d + 64 bytes / 256 values"),
        WeightFormat("iq1_m", 56 * 8 / 256, "GGUF IQ1_M: 32 + 16 + 8 bytes / 256 (no fp16 d)"),
        WeightFormat("iq1_s", 50 * 8 / 256, "GGUF IQ1_S: fp16 d + 32 + 16 bytes / 256 values"),
    )
}

_GROUPWISE_INT = re.compile(r"^int(4|8)-(?:g(\d+)(?:-s(16|32))?|(ch))$")


def weight_format(fid: str) -> WeightFormat:
    """A format by id; group-wise ints of any group size are written ``int4-g32`` (bf16 scale
    per 32 values: compressed-tensors pack-quantized, GPTQ/AWQ), ``int4-g64-s32`` (an FP32
    scale per 64 values: ktransformers V0.2's Marlin re-quantization, 4.5 bits a weight) or
    ``int8-ch`` (one scale per output channel, negligible per weight)."""
    if fid in FORMATS:
        return FORMATS[fid]
    m = _GROUPWISE_INT.match(fid)
    if m is None:
        raise UnknownNameError("weight format", fid, _close(fid, list(FORMATS)))
    bits = int(m.group(1))
    if m.group(4):
        return WeightFormat(fid, bits, f"int{bits}, one scale per output channel")
    group = int(m.group(2))
    if group < 1:
        raise UnknownNameError("weight format", fid, _close(fid, list(FORMATS)))
    scale = int(m.group(3) or 16)
    return WeightFormat(
        fid, _block(bits, scale, group), f"int{bits}, {scale}-bit scale per {group} values"
    )


GGUF_BLOCK_TYPES = (
    *("q8_0", "q6_k", "q5_k", "q4_k", "q4_0", "q3_k", "q2_k"),
    *("iq4_xs", "iq4_nl", "iq3_s", "iq3_xxs", "iq2_s", "iq2_xs", "iq2_xxs", "iq1_m", "iq1_s"),
)
"""The weight formats above that are ggml's integer block types (Q*, IQ*)."""

# The GEMM math a format runs on where the GPU supports it (else BF16, see GPU.peak_flops):
# FP8 checkpoints run W8A8 FP8; MX/NV FP4 run FP4 on Blackwell; llama.cpp's quantized matmul
# (MMQ) runs int8 dot products; int8/int4 group-wise formats are weight-only (dequantize to BF16).
# llama.cpp runs MXFP4 through int8 MMQ too (mmq.cuh, q8_1 activations; native FP4 on Blackwell
# since PR 17906, 2025-12): not modelled, see README (Accuracy, prompt GEMMs).
FORMAT_COMPUTE: dict[str, str] = {
    "fp8": "fp8",
    "fp8-block": "fp8",
    "mxfp4": "fp4",
    "nvfp4": "fp4",
    **dict.fromkeys(GGUF_BLOCK_TYPES, "int8"),
}

# Which ParamCounts components a mix group names.
GROUPS: dict[str, tuple[str, ...]] = {
    "experts": ("routed_experts", "shared_experts"),
    "routed_experts": ("routed_experts",),
    "shared_experts": ("shared_experts",),
    "attention": ("attention", "attention_out", "attention_kv_b"),
    "attention_out": ("attention_out",),
    "attention_kv_b": ("attention_kv_b",),
    "dense_ffn": ("dense_ffn",),
    "embedding": ("embedding",),
    "lm_head": ("lm_head",),
    "router": ("router",),
    "mtp": ("mtp",),
}
_LINEAR = ("attention", "dense_ffn", "routed_experts", "shared_experts", "mtp")
# "attention_out" is not a ParamCounts component: the attention output projection (o_proj, MLA's
# wo), a share of the attention component that a checkpoint may store apart from q/k/v (NVIDIA's
# DeepSeek-R1-0528-FP4-v2: wo NVFP4, the rest of attention BF16); component_bits blends it into
# "attention". Group "attention" sets both; "attention_out" only the output projection.
# "attention_kv_b" likewise: MLA's kv_b_proj (the latent's up-projection to per-head keys and
# values), which ktransformers V0.2 keeps BF16 on the GPU while it re-quantizes the rest of the
# attention (perf/offload_kt_gpu.py); a model without MLA has none (share 0). Unlike
# attention_out it is set only by a mix that names it (or "attention"), else it follows
# "attention".
ATTENTION_PARTS = ("attention_out", "attention_kv_b")
_KEPT_16BIT = ("embedding", "lm_head", "router", "norms")


@dataclass(frozen=True)
class QuantScheme:
    id: str
    description: str
    formats: dict[str, str]  # component -> format id (uniform per component)
    gguf_rule: str = ""  # a llama.cpp file type ("q4_k_m"): its per-tensor mix, see gguf_mix.py
    notes: tuple[str, ...] = field(default=())

    @property
    def expert_compute(self) -> str:
        return FORMAT_COMPUTE.get(self.formats["routed_experts"], "bf16")

    @property
    def dense_compute(self) -> str:
        return FORMAT_COMPUTE.get(self.formats["attention"], "bf16")

    def kept_in_16bit(self) -> list[str]:
        return [
            c
            for c, f in self.formats.items()
            if weight_format(f).bits_per_weight >= 16
            and not (c in ATTENTION_PARTS and f == self.formats.get("attention"))
        ]

    def __post_init__(self) -> None:
        self.formats.setdefault("attention_out", self.formats["attention"])


def _uniform(base: str, description: str) -> QuantScheme:
    """Quantize every linear layer to `base`; embeddings, LM head, router and norms stay BF16."""
    formats = dict.fromkeys(_LINEAR, base) | dict.fromkeys(_KEPT_16BIT, "bf16")
    return QuantScheme(base, description, formats)


def _all(fmt: str, description: str) -> QuantScheme:
    return QuantScheme(fmt, description, dict.fromkeys(_LINEAR + _KEPT_16BIT, fmt))


def _gguf(ftype: str, description: str) -> QuantScheme:
    """A llama.cpp file type (llama-quant.cpp, see gguf_mix): linear layers at its base type
    with its per-tensor rules on top, token_embd and output.weight at the types its rules give
    them, norms and the expert router (ffn_gate_inp) kept F32."""
    base = FTYPE_BASE[ftype]
    formats = dict.fromkeys(_LINEAR, base) | {
        "embedding": embedding_type(ftype),
        "lm_head": output_type(ftype),
        "router": "gguf-f32",
        "norms": "gguf-f32",
    }
    return QuantScheme(ftype, description, formats, gguf_rule=ftype)


SCHEMES: dict[str, QuantScheme] = {
    s.id: s
    for s in (
        _all("bf16", "BF16 everywhere"),
        _all("fp16", "FP16 everywhere"),
        _all("fp32", "FP32 everywhere"),
        _uniform("fp8", "FP8 linear layers (per-tensor scale)"),
        _uniform("fp8-block", "FP8 linear layers, 128x128 block scales"),
        _uniform("int8", "int8 linear layers, group-128 scales"),
        _uniform("int4", "int4 linear layers, group-128 fp16 scales"),
        _uniform("int4-asym", "int4 linear layers, group-128 scales and zeros"),
        _uniform("mxfp4", "MXFP4 linear layers"),
        _uniform("nvfp4", "NVFP4 linear layers"),
        *(_gguf(f, f"GGUF {f.upper()}") for f in FTYPE_BASE),
    )
}

MAIN_LEVELS = ("bf16", "fp8", "int8", "int4", "mxfp4", "q4_k_m")


def scheme_ids() -> list[str]:
    return [*SCHEMES, "native"]


def resolve_scheme(quant: str, spec: ModelSpec | None = None) -> QuantScheme:
    """A named scheme, ``native`` (the checkpoint's own mix), or ``BASE,GROUP=FORMAT,...``."""
    key = quant.strip().lower()
    if key == "native":
        if spec is None:
            raise MoeplanError("quant 'native' needs a model")
        if spec.native_quant.startswith("unmodelled:"):
            method = spec.native_quant.split(":", 1)[1]
            raise MoeplanError(
                f"{spec.name}: the checkpoint's quant_method '{method}' is not "
                "modelled; pass --quant explicitly"
            )
        native = resolve_scheme(spec.native_quant)
        return QuantScheme(
            "native",
            f"checkpoint as published: {spec.native_quant}",
            native.formats,
            native.gguf_rule,
        )
    base, *overrides = [part.strip() for part in key.split(",")]
    if base not in SCHEMES:
        raise UnknownNameError("quant", quant, _close(base, scheme_ids()))
    scheme = SCHEMES[base]
    if not overrides:
        return scheme
    pairs = tuple((group, fmt) for group, _, fmt in (i.partition("=") for i in overrides))
    groups = [group for group, _ in pairs]
    twice = next((g for g in groups if groups.count(g) > 1), None)
    if twice is not None:
        raise MoeplanError(f"quant '{quant}': group '{twice}' is given twice: give it once")
    return with_formats(scheme, pairs, key, f"{scheme.description} with {', '.join(overrides)}")


def with_formats(
    scheme: QuantScheme,
    overrides: tuple[tuple[str, str], ...],
    scheme_id: str | None = None,
    description: str | None = None,
) -> QuantScheme:
    """`scheme` with each (GROUP, FORMAT) of `overrides` applied in order (a mix's
    ``GROUP=FORMAT`` items; an engine's GPU-side formats, perf/offload_placement.py)."""
    if not overrides:
        return scheme
    formats = dict(scheme.formats)
    for group, fmt in overrides:
        if group not in GROUPS:
            raise MoeplanError(
                f"quant '{scheme_id or scheme.id}': unknown group '{group}' "
                f"(groups: {', '.join(GROUPS)})"
            )
        weight_format(fmt)  # raises for an unknown format
        for component in GROUPS[group]:
            formats[component] = fmt
    items = ",".join(f"{g}={f}" for g, f in overrides)
    return QuantScheme(
        scheme_id or f"{scheme.id},{items}",
        description or f"{scheme.description} with {items}",
        formats,
        scheme.gguf_rule,
    )


def is_native(scheme: QuantScheme, spec: ModelSpec) -> bool:
    """The scheme stores the weights as the checkpoint already does (`native`, or the same
    formats named otherwise), so serving it needs no other checkpoint or on-load quantization."""
    if scheme.id == "native":
        return True
    if spec.native_quant.startswith("unmodelled:"):
        return False
    native = resolve_scheme(spec.native_quant)
    return scheme.formats == native.formats and scheme.gguf_rule == native.gguf_rule


def _close(name: str, names: list[str]) -> list[str]:
    return difflib.get_close_matches(name, names, n=3, cutoff=0.4)


def gguf_component_bits(
    scheme: QuantScheme, spec: ModelSpec, counts: ParamCounts
) -> dict[str, float]:
    """Average bits per weight per component for a llama.cpp file type: each component's share
    in each block type (gguf_mix.type_shares) x that type's bits. A component a mix gives a
    format of its own keeps it (llama.cpp applies no rule to a --tensor-type override)."""
    bits = {c: weight_format(f).bits_per_weight for c, f in scheme.formats.items()}
    named = SCHEMES[scheme.gguf_rule].formats
    shares = type_shares(scheme.gguf_rule, spec, counts.breakdown.get("attention", 0))
    for component, types in shares.items():
        if scheme.formats[component] == named[component]:
            bits[component] = sum(s * FORMATS[t].bits_per_weight for t, s in types.items())
    return bits


def routed_expert_type_shares(
    scheme: QuantScheme, spec: ModelSpec, counts: ParamCounts
) -> dict[str, float]:
    """Share of the routed-expert weights in each block type: the scheme's one format, or for a
    llama.cpp file type the types its rules give the expert tensors (gguf_mix.type_shares;
    Q4_K_M keeps ffn_down_exps in Q6_K)."""
    fmt = scheme.formats["routed_experts"]
    if not scheme.gguf_rule or fmt != SCHEMES[scheme.gguf_rule].formats["routed_experts"]:
        return {fmt: 1.0}
    shares = type_shares(scheme.gguf_rule, spec, counts.breakdown.get("attention", 0))
    used = {t: s for t, s in shares["routed_experts"].items() if s > 0}
    return used or {fmt: 1.0}


def widest_routed_expert_bits(scheme: QuantScheme, spec: ModelSpec, counts: ParamCounts) -> float:
    """Bits per weight of the widest routed-expert tensor a file holds (routed_expert_type_shares:
    the scheme's format, or the widest block type a llama.cpp file type gives an expert tensor)."""
    shares = routed_expert_type_shares(scheme, spec, counts)
    return max(weight_format(t).bits_per_weight for t in shares)


def attention_out_share(spec: ModelSpec, counts: ParamCounts) -> float:
    """The output projection's share of the attention weights: num_layers x heads x v_head_dim
    x hidden over the attention component (MLA: wo is 117.4M of DeepSeek-V3's 187.1M a layer)."""
    total = counts.breakdown.get("attention", 0)
    if not total:
        return 0.0
    attn = spec.attention
    out = spec.num_layers * attn.num_heads * attn.v_head_dim * spec.hidden_size
    return min(1.0, out / total)


def kv_b_proj_share(spec: ModelSpec, counts: ParamCounts) -> float:
    """MLA's kv_b_proj share of the attention weights: over the MLA layers, kv_lora_rank x heads
    x (qk_nope_head_dim + v_head_dim) (params.attention_params; DeepSeek-V3: 512 x 128 x 256 =
    16.8M of 187.1M a layer); 0 for a model without MLA."""
    total = counts.breakdown.get("attention", 0)
    kv_b = 0
    for layer in spec.layers:
        attn = spec.layer_attention(layer)
        mla = attn.kind is AttentionKind.MLA and layer.mixer is MixerKind.ATTENTION
        if mla and layer.recurrent is None and attn.kv_lora_rank:
            width = (attn.qk_nope_head_dim or 0) + attn.v_head_dim
            kv_b += attn.kv_lora_rank * attn.num_heads * width
    return min(1.0, kv_b / total) if total else 0.0


_PART_SHARE = {"attention_out": attention_out_share, "attention_kv_b": kv_b_proj_share}


def component_bits(scheme: QuantScheme, spec: ModelSpec, counts: ParamCounts) -> dict[str, float]:
    """Bits per weight of each component under a scheme; an `attention_out` or `attention_kv_b`
    format apart from the attention one is blended into "attention" by that projection's share
    (attention_out_share, kv_b_proj_share); Qwen4-Exp n-gram tables with a ple_embedding_dtype
    into "embedding" likewise, in the checkpoint's own format (is_native)."""
    if scheme.gguf_rule:
        bits = gguf_component_bits(scheme, spec, counts)
    else:
        bits = {c: weight_format(f).bits_per_weight for c, f in scheme.formats.items()}
    table = counts.lookup_tables
    if table and spec.ngram_ple and spec.ngram_ple.table_format and is_native(scheme, spec):
        # Qwen4-Exp n-gram tables stored as ple_embedding_dtype says (the FP8 / NVFP4 ports)
        share = table / counts.breakdown["embedding"]
        fmt = weight_format(spec.ngram_ple.table_format).bits_per_weight
        bits["embedding"] += share * (fmt - bits["embedding"])
    rest = bits["attention"]
    for part in ATTENTION_PARTS:
        part_bits = bits.pop(part, None)
        if part_bits is not None and scheme.formats[part] != scheme.formats["attention"]:
            bits["attention"] += _PART_SHARE[part](spec, counts) * (part_bits - rest)
    return bits
