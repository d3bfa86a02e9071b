"""Qwen4-Exp's Per-Layer n-gram Embeddings (PLE) read back from a GGUF: the keys llama.cpp's
converter (Qwen4ExpTextModel.set_gguf_parameters) writes under ``{arch}.ple.*`` and the one
table it writes as ``per_layer_token_embd`` (the checkpoint's ngram_embedding shards,
concatenated by _place_ple_shard), as llama.cpp's loader (models/qwen4exp.cpp,
load_hparams / load_tensors) reads them. The converter writes no MTP block (no_mtp)."""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import GgufFile
from moeplan.model.readers2026.qwen4_ple import head_vocab_sizes

TABLE = "per_layer_token_embd.weight"


def _head_sizes(g: GgufFile, heads: int) -> list[int]:
    """ple.head_vocab_sizes: one per n-gram head, (ngram_size - 1) x heads_per_ngram of them
    (the loader's qwen4exp_require_arr_len)."""
    sizes = [int(v) for v in g.need("ple.head_vocab_sizes")]
    if len(sizes) != heads:
        raise SpecError(f"{g.path}: GGUF key '{g.arch}.ple.head_vocab_sizes' has not {heads} sizes")
    return sizes


def vocab_base(g: GgufFile, sizes: list[int]) -> int:
    """ngram_vocab_size_base: head h of the first PLE layer hashes into the (h + 1)-th prime
    after base - 1 (modeling_qwen4_exp._find_nth_prime_after), so the first size itself is a
    base that gives it (any base in (previous prime, first size] does). Checked: moeplan's
    prime search from that base must reproduce every written size, else the file's sizes
    follow another rule."""
    base = sizes[0]
    if head_vocab_sizes(base, len(sizes), 0) != sizes:
        raise SpecError(
            f"{g.path}: GGUF key '{g.arch}.ple.head_vocab_sizes' are not consecutive primes"
        )
    return base


def vocab_divisor(g: GgufFile, sizes: list[int], rows: int) -> int:
    """make_ngram_vocab_size_divisible_by: the table's rows are sum(sizes) padded up to a
    multiple of it (Qwen4ExpTextNGramEmbedding.__init__); the smallest power of two that
    reproduces the rows (128 for the release: 90 pad rows), else the rows themselves."""
    total = sum(sizes)
    if rows < total:
        raise SpecError(f"{g.path}: GGUF tensor '{TABLE}' has {rows} rows, fewer than the heads'")
    divisor = 1
    while divisor < rows:
        if -(-total // divisor) * divisor == rows:
            return divisor
        divisor *= 2
    return rows


def ple_fields(g: GgufFile, cfg: dict[str, Any]) -> None:
    """The PLE fields of Qwen4ExpTextConfig from a file that holds ple.layers (zero-based
    blocks; the loader supports one): ple_layer_ids one-indexed, ngram_size, heads_per_ngram,
    ple_conv_kernel_size, ple_embed_dim = embedding_length_per_layer_input (the table's row
    width, the loader's ple_head_dim) x heads, and the base and divisor that give the table's
    [row width, rows] (vocab_base, vocab_divisor)."""
    layers = [int(v) for v in g.need("ple.layers")]
    if len(layers) != 1:
        raise SpecError(
            f"{g.path}: GGUF key '{g.arch}.ple.layers' lists {len(layers)} layers; one "
            f"'{TABLE}' table holds one PLE layer's"
        )
    ngram, per_ngram = int(g.need("ple.ngram_size")), int(g.need("ple.heads_per_ngram"))
    heads = (ngram - 1) * per_ngram
    width = int(g.need("embedding_length_per_layer_input"))
    table = g.shape(TABLE)
    if table[0] != width:
        raise SpecError(f"{g.path}: GGUF tensor '{TABLE}' rows are not {width} wide")
    sizes = _head_sizes(g, heads)
    base, divisor = vocab_base(g, sizes), vocab_divisor(g, sizes, table[1])
    cfg.update(
        ple_layer_ids=[layers[0] + 1],
        ngram_size=ngram,
        heads_per_ngram=per_ngram,
        ple_conv_kernel_size=int(g.need("ple.conv_kernel")),
        ple_embed_dim=width * heads,
        ngram_vocab_size_base=base,
        make_ngram_vocab_size_divisible_by=divisor,
    )
