"""GGUF files (llama.cpp): exact parameters and bytes from the tensor table, the architecture
from the metadata.

Read with the ``gguf`` package (the reader llama.cpp ships). Each tensor's element count and
stored bytes come from its GGML type (a Q4_K_M file mixes Q4_K, Q6_K, ... per tensor). Split
files (``-00001-of-0000N.gguf``) are read together. The metadata keys
(``{arch}.block_count``, ``{arch}.attention.head_count_kv``, ...) are mapped to the HF
config.json fields of the same architecture, so KV bytes, latency, plan and check work on a GGUF
file as on any model (key names: llama.cpp ``gguf-py/gguf/constants.py``, ``Keys.LLM`` and
``Keys.Attention``; the table per architecture: ``gguf_archs.py``). Multi-token-prediction
layers are the last ``{arch}.nextn_predict_layers`` of ``{arch}.block_count`` blocks (llama.cpp's
convert_hf_to_gguf.py writes GLM-4.5 with block_count = num_hidden_layers +
num_nextn_predict_layers): their tensors count as ``mtp``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.checkpoint import CheckpointWeights, tally
from moeplan.model.gguf_archs import ARCHS
from moeplan.model.gguf_derive import GgufFile
from moeplan.model.safetensors_reader import INSTALL_HINT

_SPLIT = re.compile(r"^(?P<stem>.*)-(?P<i>\d{5})-of-(?P<n>\d{5})\.gguf$")


def split_files(path: Path) -> list[Path]:
    """All parts of a split GGUF (any part may be given), else just the file."""
    m = _SPLIT.match(path.name)
    if not m:
        return [path]
    n = int(m["n"])
    parts = [path.with_name(f"{m['stem']}-{i:05d}-of-{n:05d}.gguf") for i in range(1, n + 1)]
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        raise SpecError(f"{path}: missing split part(s): {', '.join(missing)}")
    return parts


def read_gguf(path: Path) -> tuple[dict[str, Any], CheckpointWeights]:
    """(an HF-style config for the architecture, the exact weights) of a GGUF file."""
    try:
        from gguf import GGUFReader
    except ImportError:
        raise SpecError(f"{path}: {INSTALL_HINT}") from None
    parts = split_files(path)
    tensors: list[tuple[str, str, int, int]] = []
    shapes: dict[str, tuple[int, ...]] = {}
    fields: dict[str, Any] = {}
    for part in parts:
        try:
            reader = GGUFReader(part)
            if not fields:
                fields = {k: _value(f) for k, f in reader.fields.items()}
            tensors += [
                (t.name, t.tensor_type.name, int(t.n_elements), int(t.n_bytes))
                for t in reader.tensors
            ]
            shapes.update((t.name, tuple(int(n) for n in t.shape)) for t in reader.tensors)
        except SpecError:
            raise
        except Exception as exc:  # gguf raises ValueError, struct/numpy errors, OSError
            raise SpecError(f"{part}: not a readable GGUF file: {_one_line(exc)}") from None
    arch = str(fields.get("general.architecture", ""))
    file_type = _file_type(fields.get("general.file_type"))
    main = _main_layers(arch, fields)
    labelled = [(_mtp_label(n, main), dtype, count, size) for n, dtype, count, size in tensors]
    weights = tally("gguf", tuple(p.name for p in parts), labelled, file_type=file_type)
    blocks = fields.get(f"{arch}.block_count")
    layers = main if main is not None else blocks if isinstance(blocks, int) else 0
    gguf_file = GgufFile(path, arch, fields, shapes, layers)
    return _config(gguf_file, weights, main), weights


def _nextn(arch: str, fields: Mapping[str, Any]) -> int:
    value = fields.get(f"{arch}.nextn_predict_layers")
    return value if isinstance(value, int) and value > 0 else 0


def _main_layers(arch: str, fields: Mapping[str, Any]) -> int | None:
    """Blocks before the trailing MTP (nextn) blocks; None when the file has none."""
    blocks, nextn = fields.get(f"{arch}.block_count"), _nextn(arch, fields)
    return blocks - nextn if isinstance(blocks, int) and nextn and blocks > nextn else None


def _mtp_label(name: str, main_layers: int | None) -> str:
    """`blk.{i}.x` of an MTP block i >= main_layers reads as `mtp.blk.{i}.x` (component mtp)."""
    m = re.match(r"blk\.(\d+)\.", name)
    if main_layers is None or m is None or int(m[1]) < main_layers:
        return name
    return "mtp." + name


def _config(g: GgufFile, weights: CheckpointWeights, main: int | None) -> dict[str, Any]:
    """The HF config of the file's architecture; `main`: the blocks before the MTP blocks
    (_main_layers), None when the file declares none."""
    if g.arch not in ARCHS:
        raise SpecError(
            f"{g.path}: GGUF architecture '{g.arch}' is not mapped to a model family "
            f"(read: {weights.total_params:,} parameters, {weights.total_bytes:,} bytes; "
            f"mapped: {', '.join(sorted(ARCHS))})"
        )
    entry = ARCHS[g.arch]
    cfg: dict[str, Any] = {"model_type": entry.model_type}
    for hf_key, gguf_key in entry.keys.items():
        value = g.key(gguf_key)
        if value is not None:  # "attn_config.kv_n_heads": a field of a nested mapping
            *outer, leaf = hf_key.split(".")
            target = cfg
            for part in outer:
                target = target.setdefault(part, {})
            target[leaf] = value
    cfg["vocab_size"] = _vocab(g)
    cfg["tie_word_embeddings"] = not g.has("output.weight")
    if g.arch == "llama" and "num_local_experts" not in cfg:
        raise SpecError(f"{g.path}: a llama GGUF without experts is a dense model, not a MoE")
    if main is not None:  # block_count holds the MTP blocks too
        cfg["num_hidden_layers"] = main
        # MimoV2Model declares 3 nextn blocks whether or not the checkpoint holds them (a
        # trunk-only file, as llama.cpp's loader calls it): count the blocks the file holds
        held = any(name.startswith(f"blk.{main}.") for name in g.shapes)
        cfg["num_nextn_predict_layers"] = _nextn(g.arch, g.fields) if held else 0
    else:  # no MTP blocks in the file (Qwen3-Next's config names none, yet defaults to one)
        cfg.setdefault("num_nextn_predict_layers", 0)
    for derive in entry.derive:
        derive(g, cfg)
    return cfg


def _vocab(g: GgufFile) -> int | None:
    """The rows of token_embd (GGML shape [hidden, vocab]), else {arch}.vocab_size, else the
    token list's length."""
    if g.has("token_embd.weight") and len(g.shapes["token_embd.weight"]) == 2:
        return g.shapes["token_embd.weight"][1]
    tokens = g.fields.get("tokenizer.ggml.tokens")
    vocab = g.key("vocab_size") or (len(tokens) if isinstance(tokens, list) else None)
    return vocab if isinstance(vocab, int) else None


def _value(field: Any) -> Any:
    try:
        value = field.contents()
    except Exception:  # a field gguf cannot decode: not needed for sizing
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _file_type(value: Any) -> str:
    """general.file_type as llama.cpp names it (LlamaFileType), e.g. MOSTLY_Q4_K_M."""
    if not isinstance(value, int):
        return ""
    try:
        from gguf import LlamaFileType

        return LlamaFileType(value).name
    except (ImportError, ValueError):
        return f"file_type {value}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
