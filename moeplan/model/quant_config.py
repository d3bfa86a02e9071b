"""The checkpoint's own precision (the ``native`` scheme) from its ``quantization_config``,
wherever it sits (top level or inside text_config, at any depth), with the modules it leaves
unquantized. Returns a scheme id that moeplan.memory.quant resolves: a named scheme or a mix
``bf16,GROUP=FORMAT``; ``unmodelled:METHOD`` when the method is not modelled."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.fields import is_whole

WRAPPER_KEYS = ("text_config", "language_config", "llm_config", "thinker_config")

# A module name of each component as HF checkpoints spell it; a component is left in the
# checkpoint's dtype when an ignore entry matches one of its names.
COMPONENT_MODULES: dict[str, tuple[str, ...]] = {
    "attention": ("model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.q_a_proj"),
    "attention_out": ("model.layers.1.self_attn.o_proj",),
    "dense_ffn": ("model.layers.0.mlp.gate_proj", "model.layers.0.mlp.down_proj"),
    "shared_experts": (
        "model.layers.1.mlp.shared_experts.gate_proj",
        "model.layers.1.mlp.shared_expert.gate_proj",
    ),
    "routed_experts": (
        "model.layers.1.mlp.experts.0.gate_proj",
        "model.layers.1.mlp.experts.0.down_proj",
    ),
}
_GROUP_OF = {"routed_experts": "routed_experts", "shared_experts": "shared_experts"}
_NAMED_UNIFORM = ("fp8", "fp8-block", "int8", "int4", "mxfp4", "nvfp4")


def find_quantization_config(cfg: dict[str, Any]) -> dict[str, Any] | None:
    """The quantization_config at the top level, else inside a wrapped text config."""
    q = cfg.get("quantization_config")
    if q is not None and not isinstance(q, dict):
        raise SpecError(f"field 'quantization_config' must be a mapping, got {q!r:.60}")
    if isinstance(q, dict) and q:
        return q
    for key in WRAPPER_KEYS:
        sub = cfg.get(key)
        if isinstance(sub, dict):
            found = find_quantization_config(sub)
            if found:
                return found
    return None


def _dtype(cfg: dict[str, Any]) -> str | None:
    value = cfg.get("torch_dtype") or cfg.get("dtype")
    if value:
        return str(value)
    for key in WRAPPER_KEYS:
        sub = cfg.get(key)
        if isinstance(sub, dict) and _dtype(sub):
            return _dtype(sub)
    return None


def native_quant_of(cfg: dict[str, Any]) -> str:
    """The checkpoint's own precision from quantization_config (DeepSeek block FP8, gpt-oss
    MXFP4 experts, compressed-tensors, ModelOpt, GPTQ/AWQ) or torch_dtype."""
    q = find_quantization_config(cfg) or {}
    method = q.get("quant_method")
    if method == "mxfp4":
        return "bf16,experts=mxfp4"  # modules_to_not_convert: attention, router, embeddings, head
    if method == "fp8":
        base = "fp8-block" if _block_size(q) else "fp8"
        experts = _fp4_experts(q, cfg)
        return f"{base},routed_experts={experts}" if experts else base
    if method in ("gptq", "awq") and q.get("bits") in (4, 8):
        group = _group_size(q, f"quantization_config ({method}):") or 128
        fmt = f"int{q['bits']}" if group in (128, -1) else f"int{q['bits']}-g{group}"
        # transformers' AWQ/GPTQ integrations skip a module when an entry is a substring of it
        return _mix(fmt, q.get("modules_to_not_convert") or [], substring=True)
    if method == "compressed-tensors":
        packed = _compressed_tensors_format(q)
        return _mix(packed, q.get("ignore") or []) if packed else "unmodelled:compressed-tensors"
    if method == "modelopt":
        algo = str(q.get("quant_algo", "")).upper()
        opt = {"FP8": "fp8", "NVFP4": "nvfp4"}.get(algo)
        return _mix(opt, q.get("exclude_modules") or []) if opt else f"unmodelled:modelopt {algo}"
    if method:
        return f"unmodelled:{method}"  # resolve_scheme('native') says so; --quant still works
    dtype = _dtype(cfg) or "bfloat16"
    return {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}.get(dtype, "bf16")


def _valid_group(group: Any) -> bool:
    """A group size: a positive integer, or -1 for one scale per output channel."""
    return is_whole(group) and (group > 0 or group == -1)


def _block_size(q: dict[str, Any]) -> tuple[int, int] | None:
    """FP8 weight_block_size: two positive integers [rows, cols] (transformers'
    FineGrainedFP8Config refuses any other), or null for one scale per tensor."""
    block = q.get("weight_block_size")
    if block is None:
        return None
    if not (
        isinstance(block, list) and len(block) == 2 and all(is_whole(b) and b > 0 for b in block)
    ):
        raise SpecError(
            "quantization_config: field 'weight_block_size' must be two positive integers "
            f"(e.g. [128, 128]) or null, got {block!r:.60}"
        )
    return block[0], block[1]


def _group_size(q: dict[str, Any], where: str) -> int | None:
    """group_size (GPTQ/AWQ, compressed-tensors weights): a positive integer, or -1 for one
    scale per output channel (GPTQConfig refuses any other); None when left out."""
    group = q.get("group_size")
    if group is not None and not _valid_group(group):
        raise SpecError(
            f"{where} field 'group_size' must be a positive integer or -1 (per channel), "
            f"got {group!r:.60}"
        )
    return group


def _fp4_experts(q: dict[str, Any], cfg: dict[str, Any]) -> str | None:
    """DeepSeek-V4's FP4 routed experts beside its block-FP8 weights: expert_dtype "fp4" (top
    level, or in quantization_config from V4.1 on; DeepseekV4Config.__post_init__) is E2M1 with
    a ue8m0 scale per 32 values (transformers integrations/finegrained_fp8.FP8Experts), MXFP4's
    layout; a ModelOpt re-quantization says moe_quant_algo NVFP4 (nvidia/DeepSeek-V4-*-NVFP4)."""
    if str(q.get("moe_quant_algo", "")).upper() == "NVFP4":
        return "nvfp4"
    if (q.get("expert_dtype") or cfg.get("expert_dtype")) == "fp4":
        return "mxfp4"
    return None


def _compressed_tensors_format(q: dict[str, Any]) -> str | None:
    """compressed-tensors config_groups: the weights' num_bits, type, strategy, group_size
    (pack-quantized int4/int8 groups; float-quantized fp8; nvfp4/mxfp4 packs)."""
    groups = q.get("config_groups") or {}
    weights = next((g.get("weights") for g in groups.values() if isinstance(g, dict)), None)
    if not isinstance(weights, dict):
        return None
    bits, kind = weights.get("num_bits"), weights.get("type", "int")
    strategy = weights.get("strategy")
    group = _group_size(weights, "quantization_config (compressed-tensors): weights")
    if strategy == "group" and not (group is not None and group > 0):
        raise SpecError(
            "quantization_config (compressed-tensors): strategy 'group' needs a positive "
            f"integer group_size, got {group!r:.60}"
        )
    if kind == "int" and bits in (4, 8):
        if strategy == "group":  # a positive group size, checked above
            return f"int{bits}" if group == 128 else f"int{bits}-g{group}"
        return f"int{bits}-ch"  # one scale per output channel
    if kind == "float" and bits == 8:
        return "fp8-block" if strategy == "block" else "fp8"
    if kind == "float" and bits == 4:
        return "nvfp4" if group == 16 else "mxfp4"
    return None


def _ignored(entry: str, name: str, substring: bool = False) -> bool:
    """compressed-tensors: "re:" entries are regexes (re.match), others module names or
    suffixes; ModelOpt globs; AWQ/GPTQ substrings."""
    if entry.startswith("re:"):
        return re.match(entry[3:], name) is not None
    return (
        (substring and entry in name)
        or name == entry
        or name.endswith("." + entry)
        or fnmatch.fnmatch(name, entry)
        or fnmatch.fnmatch(name, entry + ".*")
    )


def _mix(fmt: str, ignore: list[Any], substring: bool = False) -> str:
    """The scheme id: FORMAT on every linear component the ignore list does not match."""
    entries = [str(e) for e in ignore]
    quantized = [
        c
        for c, names in COMPONENT_MODULES.items()
        if not any(_ignored(e, n, substring) for e in entries for n in names)
    ]
    if len(quantized) == len(COMPONENT_MODULES) and fmt in _NAMED_UNIFORM:
        return fmt
    if not quantized:
        return "bf16"
    if "attention" in quantized:  # group "attention" covers its output projection too
        quantized = [c for c in quantized if c != "attention_out"]
        every = len(quantized) == len(COMPONENT_MODULES) - 1
    else:
        every = False
    groups = quantized + (["mtp"] if every else [])
    return "bf16," + ",".join(f"{_GROUP_OF.get(c, c)}={fmt}" for c in groups)
