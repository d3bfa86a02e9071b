"""Specs from what users have: a checkpoint folder (config.json + safetensors shards), a GGUF
file, or a Hugging Face repo id. The architecture comes from the config (or the GGUF metadata);
the exact weights from the tensor headers (``ModelSpec.checkpoint``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from moeplan.errors import SpecError
from moeplan.memory.gguf_mix import FTYPE_BASE
from moeplan.model.checkpoint import CheckpointWeights
from moeplan.model.hf_config import spec_from_config
from moeplan.model.specs import ModelSpec

# llama.cpp file types (LlamaFileType) -> the scheme moeplan models for the analytic estimate
# beside the exact header bytes; other file types are compared with bf16.
GGUF_FILE_TYPES = {
    **{f.upper(): f for f in FTYPE_BASE},
    "BF16": "bf16", "F16": "fp16", "ALL_F32": "fp32", "MXFP4_MOE": "q8_0,experts=mxfp4",
    "NVFP4": "nvfp4",
}  # fmt: skip


def with_checkpoint(
    spec: ModelSpec,
    weights: CheckpointWeights | None,
    notes: tuple[str, ...] = (),
    config: dict[str, Any] | None = None,
) -> ModelSpec:
    """The spec with its checkpoint's weights; a config.json without quantization_config takes
    the quantization its tensors show (FP8, packed int/FP4; their float dtype only when the
    config names no torch_dtype)."""
    from moeplan.model.quant_config import find_quantization_config

    native = spec.native_quant
    if (
        weights is not None
        and weights.tensor_quant
        and weights.tensor_quant != native
        and config is not None
        and find_quantization_config(config) is None
        # float tensors: the config's torch_dtype is what engines load them as ("auto")
        and not (weights.tensor_quant in ("bf16", "fp16", "fp32") and _has_dtype(config))
    ):
        native = weights.tensor_quant
        notes += (f"quantization from the tensors: {native} (config.json has none)",)
    return replace(
        spec, checkpoint=weights, native_quant=native, reader_notes=spec.reader_notes + notes
    )


def _has_dtype(config: dict[str, Any]) -> bool:
    text = config.get("text_config")
    keys = ("torch_dtype", "dtype")
    return any(config.get(k) for k in keys) or (
        isinstance(text, dict) and any(text.get(k) for k in keys)
    )


def spec_from_folder(
    folder: Path,
    name: str,
    load_config: Callable[[Path, str], tuple[ModelSpec, dict[str, Any]]],
) -> ModelSpec:
    """config.json (read once by `load_config`, the catalog's reader, which returns the spec
    and the parsed document) plus its safetensors shards; a folder holding one GGUF file and
    no config.json is that GGUF."""
    from moeplan.model.safetensors_reader import has_safetensors, read_local

    config_path = folder / "config.json"
    if not config_path.is_file():
        ggufs = sorted(folder.glob("*.gguf"))
        if ggufs:
            return spec_from_gguf(ggufs[0], name)
        raise SpecError(f"{name}: folder has no config.json")
    spec, config = load_config(config_path, name)
    if not has_safetensors(folder):
        return spec
    return with_checkpoint(spec, read_local(folder, config), config=config)


def spec_from_gguf(path: Path, name: str) -> ModelSpec:
    from moeplan.model.gguf_reader import read_gguf

    config, weights = read_gguf(path)
    native = GGUF_FILE_TYPES.get(weights.file_type.removeprefix("MOSTLY_"), "bf16")
    spec = spec_from_config(config, name, native_quant=native)
    note = f"architecture from GGUF metadata ({config['model_type']}), {weights.file_type}"
    return with_checkpoint(spec, weights, (note,))


def spec_from_hub(repo_id: str, revision: str | None) -> ModelSpec:
    """`org/name`, or `org/name@revision` (a revision where no --revision can be given, as in a
    budget file)."""
    from moeplan.model.hub import load_hub

    repo_id, at, pinned = repo_id.partition("@")
    if at:
        if not pinned or (revision and revision != pinned):
            raise SpecError(f"hf:{repo_id}@{pinned}: give one revision (@REV or --revision)")
        revision = pinned
    config, weights, notes = load_hub(repo_id, revision)
    spec = spec_from_config(config, f"hf:{repo_id}")
    return with_checkpoint(spec, weights, notes, config)
