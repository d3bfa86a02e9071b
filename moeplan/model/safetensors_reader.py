"""Safetensors checkpoints: exact parameters and bytes from the tensor headers.

Headers are parsed with huggingface_hub (``get_local_safetensors_metadata`` for a file or a
folder with or without ``model.safetensors.index.json``; ``get_safetensors_metadata`` reads only
the headers of a Hub repo, by HTTP range requests). Packed tensors are unpacked by their declared
format: int4 packed eight to an int32 (compressed-tensors ``weight_packed``, GPTQ/AWQ ``qweight``),
MXFP4 ``*_blocks`` two values to a byte (gpt-oss). A file shorter than its header says (a
truncated download) is refused, naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.checkpoint import CheckpointWeights, tally

INSTALL_HINT = "reading checkpoints needs the checkpoint extra: pip install 'moeplan[checkpoint]'"

_DTYPE_BYTES = {
    "F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2,
    "U16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I8": 1, "U8": 1, "BOOL": 1,
    "F4": 1, "F6_E2M3": 1, "F6_E3M2": 1,
}  # fmt: skip


def values_per_element(name: str, dtype: str, packed_bits: int, fp4: bool = False) -> int:
    """Weights stored in one element: int4 in int32 (32 / bits); FP4 two to a byte: gpt-oss
    MXFP4 ``*_blocks``, compressed-tensors nvfp4 ``weight_packed`` (its int packs are int32),
    and ModelOpt NVFP4 ``weight`` in a checkpoint whose config says FP4 (`fp4`)."""
    if dtype in ("I32", "U32") and name.endswith(("weight_packed", "qweight")):
        return 32 // packed_bits
    if dtype == "U8" and name.endswith(("_blocks", "weight_packed")):
        return 2
    if dtype == "U8" and fp4 and name.endswith("weight"):
        return 2
    return 1


def tensor_quant(tensors: list[tuple[str, str, int, int]], bits: int) -> str:
    """The scheme the tensors show (for a config without quantization_config): FP8 weights
    (block scales when weight_scale_inv tensors are present), packed int / FP4 weights, else the
    dtype holding most bytes (bf16/fp16/fp32); "" when none of these."""
    names = {(name, dtype) for name, dtype, _, _ in tensors}
    if any(d.startswith("F8_") and n.endswith("weight") for n, d in names):
        return "fp8-block" if any(n.endswith("weight_scale_inv") for n, _ in names) else "fp8"
    if any(d == "U8" and n.endswith("_blocks") for n, d in names):
        return "bf16,experts=mxfp4"
    if any(d == "U8" and n.endswith("weight_packed") for n, d in names):
        return "nvfp4"
    if any(d in ("I32", "U32") and n.endswith(("weight_packed", "qweight")) for n, d in names):
        return f"int{bits}" if bits in (4, 8) else ""
    by_dtype: dict[str, int] = {}
    for _, dtype, _, nbytes in tensors:
        by_dtype[dtype] = by_dtype.get(dtype, 0) + nbytes
    top = max(by_dtype, key=lambda d: by_dtype[d], default="")
    return {"BF16": "bf16", "F16": "fp16", "F32": "fp32"}.get(top, "")


def packed_bits_of(config: dict[str, Any] | None) -> int:
    """Bits of a packed integer weight from quantization_config (default 4)."""
    qc = (config or {}).get("quantization_config")
    if not isinstance(qc, dict):
        return 4
    bits = qc.get("bits") or qc.get("w_bit")
    groups = qc.get("config_groups")
    if bits is None and isinstance(groups, dict):
        for group in groups.values():
            weights = group.get("weights") if isinstance(group, dict) else None
            if isinstance(weights, dict) and isinstance(weights.get("num_bits"), int):
                bits = weights["num_bits"]
                break
    return bits if isinstance(bits, int) and bits in (2, 3, 4, 8) else 4


def read_local(path: Path, config: dict[str, Any] | None = None) -> CheckpointWeights:
    """A .safetensors file, an index .json, or a folder holding either."""
    try:
        from huggingface_hub import get_local_safetensors_metadata
    except ImportError:
        raise SpecError(f"{path}: {INSTALL_HINT}") from None
    target = path.parent if path.suffix == ".json" else path
    _check_shards(target)
    try:
        meta = get_local_safetensors_metadata(target)
    except Exception as exc:  # huggingface_hub raises its own parsing and OS errors
        raise SpecError(f"{path}: cannot read safetensors headers: {_one_line(exc)}") from None
    files = sorted(meta.files_metadata)
    folder = target if target.is_dir() else target.parent
    for name, file_meta in meta.files_metadata.items():
        _check_length(folder / name if target.is_dir() else target, file_meta)
    return _weights(meta, tuple(files), config)


def read_hub(repo_id: str, revision: str | None, config: dict[str, Any]) -> CheckpointWeights:
    """Only the headers of a Hub repo's safetensors files (range reads, never the weights)."""
    from huggingface_hub import get_safetensors_metadata

    meta = get_safetensors_metadata(repo_id, revision=revision)
    return _weights(meta, tuple(sorted(meta.files_metadata)), config)


def has_safetensors(folder: Path) -> bool:
    return any(folder.glob("*.safetensors")) or (folder / "model.safetensors.index.json").is_file()


def _weights(meta: Any, files: tuple[str, ...], config: dict[str, Any] | None) -> CheckpointWeights:
    from moeplan.model.quant_config import native_quant_of

    bits = packed_bits_of(config)
    fp4 = "fp4" in native_quant_of(config or {})
    tensors = []
    for file_meta in meta.files_metadata.values():
        for name, info in file_meta.tensors.items():
            numel = info.parameter_count
            nbytes = info.data_offsets[1] - info.data_offsets[0]
            values = numel * values_per_element(name, info.dtype, bits, fp4)
            tensors.append((name, info.dtype, values, nbytes))
    dtypes = "+".join(sorted({t[1] for t in tensors}))
    quant = tensor_quant(tensors, bits)
    return tally("safetensors", files, tensors, file_type=dtypes, tensor_quant=quant)


def _check_shards(target: Path) -> None:
    index = target / "model.safetensors.index.json" if target.is_dir() else None
    if index is None or not index.is_file():
        return
    from moeplan.yamlio import load_document

    try:
        weight_map = load_document(index).get("weight_map", {})
    except AttributeError as exc:
        raise SpecError(f"{index}: malformed safetensors index: {_one_line(exc)}") from None
    missing = sorted({f for f in weight_map.values() if not (target / f).is_file()})
    if missing:
        raise SpecError(f"{index}: missing shard(s): {', '.join(missing)}")


def _check_length(file: Path, file_meta: Any) -> None:
    """The data the header describes must be in the file (a truncated download is not)."""
    try:
        with file.open("rb") as fh:
            header_len = int.from_bytes(fh.read(8), "little")
        size = file.stat().st_size
    except OSError as exc:
        raise SpecError(f"{file}: cannot read: {exc.strerror}") from None
    end = max((t.data_offsets[1] for t in file_meta.tensors.values()), default=0)
    if size < 8 + header_len + end:
        raise SpecError(
            f"{file}: truncated: the header describes {8 + header_len + end:,} bytes, "
            f"the file has {size:,}"
        )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
