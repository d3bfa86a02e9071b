"""Normalize a Hugging Face ``config.json`` (or a catalog ``config:`` block) into a ModelSpec.

Each family's reading follows its modeling code in transformers (named per function); a field
that is missing or invalid raises SpecError naming it, nothing is guessed silently.
"""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model import readers2026
from moeplan.model.blocks import NUM_LAYERS, check_expert_count
from moeplan.model.families import TRAITS as _TRAITS_2025
from moeplan.model.families import Traits, read_layers
from moeplan.model.fields import Fields
from moeplan.model.known_fields import unknown_count_fields, unread_shape_fields
from moeplan.model.quant_config import WRAPPER_KEYS, native_quant_of
from moeplan.model.readers import READERS as _READERS_2025
from moeplan.model.readers2026.grok import grok_as_git
from moeplan.model.specs import (
    ModelSpec,
)
from moeplan.model.towers import find_towers

_FAMILIES = {**_READERS_2025, **readers2026.READERS}
TRAITS = {**_TRAITS_2025, **readers2026.TRAITS}


def supported_families() -> list[str]:
    return sorted({*_FAMILIES, *TRAITS})


def _family(cfg: dict[str, Any], where: str) -> str:
    family = cfg.get("model_type")
    if family is None and {"emb_size", "num_experts"} <= cfg.keys():
        family = "grok-1"
    if grok_as_git(cfg):
        family = "grok"
    archs = cfg.get("architectures")
    # no model_type, or one naming no family moeplan reads (Grok-2's config.json says "git"):
    # the family its architectures entry names, where known
    unread = family is None or (
        isinstance(family, str) and family not in _FAMILIES and family not in TRAITS
    )
    if unread and isinstance(archs, list) and len(archs) == 1:
        family = readers2026.FAMILY_OF_ARCHITECTURE.get(str(archs[0]), family)
    if family is None:
        raise SpecError(f"{where}: missing field 'model_type'")
    if not isinstance(family, str):
        raise SpecError(f"{where}: field 'model_type' must be a string, got {family!r:.60}")
    return family


def _read_family(f: Fields, family: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Fields of a known family, or of an unknown one whose fields are all standard (with a
    note that the family was inferred); refused, naming the fields, otherwise."""
    if family in _FAMILIES:
        return _FAMILIES[family](f, family), ()
    if family in TRAITS:
        fields = read_layers(f, family, TRAITS[family])
        unread = [k for k in unread_shape_fields(f) if k not in readers2026.HARMLESS]
        if unread:
            return fields, (f"fields not read (check they change no count): {', '.join(unread)}",)
        return fields, ()
    unknown = unknown_count_fields(f.cfg)
    if unknown:
        raise SpecError(
            f"{f.where}: unsupported model_type '{family}' with fields that change the counts "
            f"and are not understood: {', '.join(unknown)} "
            f"(supported: {', '.join(supported_families())})"
        )
    if not f.has("hidden_size") or f.first(*NUM_LAYERS) is None:
        raise SpecError(
            f"{f.where}: unsupported model_type '{family}' "
            f"(supported: {', '.join(supported_families())})"
        )
    note = (
        f"model_type '{family}' is not a known family: read from its standard fields "
        "(family inferred; check the counts against the publisher's)"
    )
    return read_layers(f, family, Traits()), (note,)


def _language_config(cfg: dict[str, Any], name: str) -> tuple[dict[str, Any], str]:
    """The language model's fields: text_config (or a thinker/LLM wrapper's) at any depth,
    with the wrapper's model_type when the text config has none."""
    where = name
    while True:
        key = next((k for k in WRAPPER_KEYS if isinstance(cfg.get(k), dict) and cfg[k]), None)
        if key is None:
            return cfg, where
        inner = {**cfg[key]}
        inner.setdefault("model_type", cfg.get("model_type"))
        if cfg.get("tie_word_embeddings") is not None:  # the wrapper's setting wins (v5)
            inner["tie_word_embeddings"] = cfg["tie_word_embeddings"]
        cfg, where = inner, f"{where}: {key}"


def spec_from_config(cfg: Any, name: str, **extra: Any) -> ModelSpec:
    """Build a ModelSpec from a config mapping. Wrapped checkpoints: the language model is read
    from text_config at any depth, vision/audio towers are counted beside it, and the
    quantization_config is found wherever it sits. A field of a type no reader expects is one
    SpecError naming the config, never a crash."""
    if not isinstance(cfg, dict):
        raise SpecError(f"{name}: config must be a mapping of fields")
    try:
        spec = _spec_from_config(cfg, name, **extra)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        raise SpecError(
            f"{name}: a config field has a type or value the reader cannot use "
            f"({type(exc).__name__}: {str(exc)[:120]})"
        ) from None
    moe = spec.moe
    if moe is None and spec.num_moe_layers:
        raise SpecError(
            f"{name}: {spec.num_moe_layers} MoE layers but the config has no routed experts "
            "(an expert count of 0)"
        )
    if moe is not None and moe.top_k > moe.num_experts + moe.num_zero_experts:
        raise SpecError(
            f"{name}: top-k {moe.top_k} (num_experts_per_tok) exceeds the "
            f"{moe.num_experts + moe.num_zero_experts} routed experts"
        )
    return spec


def _spec_from_config(cfg: dict[str, Any], name: str, **extra: Any) -> ModelSpec:
    top = cfg
    cfg, where = _language_config(cfg, name)
    family = _family(cfg, where)
    f = Fields(cfg, where)
    fields, notes = _read_family(f, family)
    if fields.get("moe") is None:
        check_expert_count(f)
    fields.setdefault("vocab_size", f.int("vocab_size"))
    fields.setdefault("max_position_embeddings", f.opt_int("max_position_embeddings"))
    tie = cfg.get("tie_word_embeddings", top.get("tie_word_embeddings"))
    if tie is not None and not isinstance(tie, bool):
        raise SpecError(f"{where}: field 'tie_word_embeddings' must be true/false, got {tie!r:.40}")
    if tie is not None and "tie_word_embeddings" not in fields:
        fields["tie_word_embeddings"] = tie
    towers = find_towers(top, str(top.get("model_type") or family))
    if towers:
        fields["towers"] = towers
    if notes:  # after the reader's own notes, not in their place
        fields["reader_notes"] = (*fields.get("reader_notes", ()), *notes)
    fields.update(extra)
    try:
        fields.setdefault("native_quant", native_quant_of(top))
    except SpecError as exc:
        raise SpecError(f"{name}: {exc}") from None
    return ModelSpec(name=name, family=family, **fields)
