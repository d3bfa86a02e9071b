"""Safetensors checkpoints: exact parameters and bytes from the tensor headers.

Headers are parsed with huggingface_hub (``get_local_safetensors_metadata`` for a file or a
folder with or without ``model.safetensors.index.json``; ``get_safetensors_metadata`` reads only
the headers of a Hub repo, by HTTP range requests). Packed tensors are unpacked by their declared
format: int4 packed eight to an int32 (compressed-tensors ``weight_packed``, GPTQ/AWQ ``qweight``),
MXFP4 ``*_blocks`` two values to a byte (gpt-oss). A file shorter than its header says (a
truncated download) is refused, naming the file.

What huggingface_hub returns is checked before it is counted, as safetensors' own loader checks
it: each tensor's dtype is one safetensors knows, its shape a list of non-negative integers
(at most MAX_TENSOR_ELEMENTS elements), its data_offsets [begin, end] with end - begin the
dtype's bytes x elements, inside the file; ``__metadata__`` a mapping of strings; an index's
weight_map a mapping of tensor name to shard file name; every file holds a tensor. A shard that
is not a regular file (a FIFO would block the read forever) is refused before it is opened.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.checkpoint import CheckpointWeights, tally
from moeplan.model.fields import is_whole

INSTALL_HINT = "reading checkpoints needs the checkpoint extra: pip install 'moeplan[checkpoint]'"

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"

# Bits of one element of each safetensors dtype (safetensors' Dtype::bitsize, 0.6: F4 and F6
# are packed below a byte; C64 is two F32).
DTYPE_BITS = {
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8,
    "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32,
    "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}  # fmt: skip

# The most elements one tensor may hold: 2**40 (1.1e12). The largest tensors of published
# checkpoints (one layer's merged routed experts, a 256k x 16k embedding) hold ~1e10.
MAX_TENSOR_ELEMENTS = 2**40


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
    if not files:
        raise SpecError(f"{path}: no safetensors files (no tensors to count)")
    folder = target if target.is_dir() else target.parent
    for name, file_meta in meta.files_metadata.items():
        file = folder / name if target.is_dir() else target
        check_header(str(file), file_meta, _data_bytes(file))
    return _weights(meta, tuple(files), config)


def read_hub(repo_id: str, revision: str | None, config: dict[str, Any]) -> CheckpointWeights:
    """Only the headers of a Hub repo's safetensors files (range reads, never the weights)."""
    from huggingface_hub import get_safetensors_metadata

    meta = get_safetensors_metadata(repo_id, revision=revision)
    files = tuple(sorted(meta.files_metadata))
    if not files:
        raise SpecError(f"hf:{repo_id}: no safetensors files (no tensors to count)")
    for name, file_meta in meta.files_metadata.items():
        check_header(f"hf:{repo_id}/{name}", file_meta, None)
    return _weights(meta, files, config)


def has_safetensors(folder: Path) -> bool:
    return any(folder.glob("*.safetensors")) or os.path.lexists(folder / INDEX_FILE)


def _weights(meta: Any, files: tuple[str, ...], config: dict[str, Any] | None) -> CheckpointWeights:
    from moeplan.model.quant_config import native_quant_of

    bits = packed_bits_of(config)
    fp4 = "fp4" in native_quant_of(config or {})
    tensors = []
    for file_meta in meta.files_metadata.values():
        for name, info in file_meta.tensors.items():
            numel = math.prod(info.shape)  # checked: a list of non-negative integers
            nbytes = info.data_offsets[1] - info.data_offsets[0]
            values = numel * values_per_element(name, info.dtype, bits, fp4)
            tensors.append((name, info.dtype, values, nbytes))
    dtypes = "+".join(sorted({t[1] for t in tensors}))
    quant = tensor_quant(tensors, bits)
    return tally("safetensors", files, tensors, file_type=dtypes, tensor_quant=quant)


def _check_shards(target: Path) -> None:
    """Every file huggingface_hub will open is a regular file (a FIFO would block forever) and
    an index names its shards as a mapping of tensor name to file name, all present."""
    if not target.is_dir():
        check_regular_file(target)
        return
    single = target / SINGLE_FILE
    if os.path.lexists(single):
        check_regular_file(single)
    index = target / INDEX_FILE
    if not os.path.lexists(index):
        return
    shards = read_index(index)
    missing = []
    for shard in sorted(shards):
        if (target / shard).exists():  # a link to a deleted blob is missing
            check_regular_file(target / shard)
        else:
            missing.append(shard)
    if missing:
        raise SpecError(f"{index}: missing shard(s): {', '.join(missing)}")


def check_regular_file(file: Path) -> None:
    """A file that exists and is not a regular file (a FIFO, a device, a folder) is refused
    before it is opened; a symbolic link is followed (the Hugging Face cache links to blobs)."""
    try:
        mode = file.stat().st_mode
    except FileNotFoundError:
        return  # the reader names a missing file
    except OSError as exc:
        raise SpecError(f"{file}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise SpecError(f"{file}: not a regular file (a FIFO, device or folder)")


def read_index(index: Path) -> set[str]:
    """The shard file names of a model.safetensors.index.json, whose weight_map must map each
    tensor name to the name of a file beside the index."""
    from moeplan.yamlio import load_document

    check_regular_file(index)
    doc = load_document(index)
    weight_map = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(weight_map, dict):
        raise SpecError(
            f"{index}: malformed safetensors index: 'weight_map' must be a mapping of tensor "
            f"name to shard file name, got {weight_map!r:.60}"
        )
    if not weight_map:
        raise SpecError(f"{index}: 'weight_map' is empty: no tensors")
    for tensor, shard in weight_map.items():
        if not _is_shard_name(shard):
            raise SpecError(
                f"{index}: weight_map['{tensor:.80}'] must be the file name of a shard beside "
                f"the index, got {shard!r:.60}"
            )
    return set(weight_map.values())


def _is_shard_name(name: Any) -> bool:
    if not isinstance(name, str) or not name or "\0" in name:
        return False
    path = Path(name)
    return not path.is_absolute() and ".." not in path.parts


def _data_bytes(file: Path) -> int:
    """Bytes after the header: file size - 8 - header length."""
    try:
        with file.open("rb") as fh:
            header_len = int.from_bytes(fh.read(8), "little")
        size = file.stat().st_size
    except OSError as exc:
        raise SpecError(f"{file}: cannot read: {exc.strerror}") from None
    return size - 8 - header_len


def check_header(file: str, file_meta: Any, data_bytes: int | None) -> None:
    """What huggingface_hub parsed from one file's header is a safetensors header: a mapping of
    strings as __metadata__, and at least one tensor, each with a known dtype, a shape and the
    data_offsets that dtype and shape take (inside the `data_bytes` after the header, when the
    file's size is known). Refused with one line naming the file and the tensor."""
    metadata = file_meta.metadata
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
    ):
        raise SpecError(
            f"{file}: '__metadata__' must be a mapping of strings, got {metadata!r:.60}"
        )
    if not file_meta.tensors:
        raise SpecError(f"{file}: the header holds no tensors")
    end = 0
    for name, info in file_meta.tensors.items():
        end = max(end, _check_tensor(f"{file}: tensor '{name:.120}'", info))
    if data_bytes is not None and data_bytes < end:
        raise SpecError(
            f"{file}: truncated: the header describes {end:,} bytes of data, the file has "
            f"{max(data_bytes, 0):,}"
        )


def _check_tensor(where: str, info: Any) -> int:
    """One tensor's dtype, shape and data_offsets; returns where its data ends."""
    dtype, shape, offsets = info.dtype, info.shape, info.data_offsets
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        raise SpecError(
            f"{where}: unknown dtype {dtype!r:.40} (safetensors dtypes: {', '.join(DTYPE_BITS)})"
        )
    if not isinstance(shape, list) or not all(is_whole(d) and d >= 0 for d in shape):
        raise SpecError(
            f"{where}: shape must be a list of non-negative integers, got {shape!r:.60}"
        )
    elements = 1
    for d in shape:  # stops at the bound: a long list of large dimensions is not multiplied out
        elements *= d
        if elements > MAX_TENSOR_ELEMENTS:
            raise SpecError(
                f"{where}: shape {shape!r:.60} holds more than {MAX_TENSOR_ELEMENTS:,} elements"
            )
    if not (
        isinstance(offsets, (list, tuple))
        and len(offsets) == 2
        and all(is_whole(o) for o in offsets)
        and 0 <= offsets[0] <= offsets[1]
    ):
        raise SpecError(
            f"{where}: data_offsets must be two integers 0 <= begin <= end, "
            f"got {_shown(offsets)!r:.60}"
        )
    bits = elements * DTYPE_BITS[dtype]
    if bits % 8 or offsets[1] - offsets[0] != bits // 8:
        takes = f"{bits // 8:,}" if bits % 8 == 0 else f"{bits / 8:,}"
        raise SpecError(
            f"{where}: data_offsets {list(offsets)} hold {offsets[1] - offsets[0]:,} bytes; "
            f"{dtype} x {shape!r:.60} takes {takes}"
        )
    return int(offsets[1])


def _shown(value: Any) -> Any:
    """A value as the header spells it (huggingface_hub turns data_offsets into a tuple)."""
    return list(value) if isinstance(value, tuple) else value


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
