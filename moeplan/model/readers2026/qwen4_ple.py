"""Qwen4-Exp Per-Layer Embeddings (PLE): hashed n-gram tables on the decoder layers that
ple_layer_ids names (transformers 5.23 models/qwen4_exp/modeling_qwen4_exp.py,
Qwen4ExpTextNGramEmbedding and Qwen4ExpTextPLELayer; configuration_qwen4_exp.py for the
fields and their defaults)."""

from __future__ import annotations

import math

from moeplan.errors import SpecError
from moeplan.model.fields import Fields
from moeplan.model.specs import NGramPLESpec

# Deterministic Miller-Rabin witnesses: correct for every n < 3.3e24 (Sorenson & Webster 2015),
# so for every 64-bit integer.
_WITNESSES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)

# Qwen4ExpTextConfig defaults (configuration_qwen4_exp.py)
_DEFAULTS = {
    "ple_conv_kernel_size": 4,
    "ngram_size": 3,
    "heads_per_ngram": 8,
    "ngram_vocab_size_base": 20_000_000,
    "make_ngram_vocab_size_divisible_by": 128,
}
# ple_embedding_dtype values the ports read: FP8 tables of 160 bytes a 160-wide row, NVFP4 of
# 90 (80 + one FP8 scale per 16 values), as the vLLM port's ple_layer.py dispatches on
_DTYPES = {
    "float8_e4m3fn": "fp8",
    "nvfp4": "nvfp4",
    "bfloat16": "bf16",
    "float16": "fp16",
    "float32": "fp32",
}


def is_prime(n: int) -> bool:
    """Primality, the answer modeling_qwen4_exp._is_prime (trial division) gives, by
    deterministic Miller-Rabin with the first twelve prime bases."""
    if n < 2:
        return False
    for p in _WITNESSES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in _WITNESSES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def nth_prime_after(start: int, count: int) -> int:
    """modeling_qwen4_exp._find_nth_prime_after: the count-th prime greater than start."""
    prime = start
    for _ in range(count):
        prime += 1
        while not is_prime(prime):
            prime += 1
    return prime


def head_vocab_sizes(base: int, heads: int, ple_layer_index: int) -> list[int]:
    """The heads' table sizes of one PLE layer (Qwen4ExpTextNGramEmbedding.__init__): head h
    of the layer at position i in ple_layer_ids hashes into the (i x heads + h + 1)-th prime
    after base - 1; the primes of consecutive heads are consecutive, those numbered
    i x heads + 1 ... (i + 1) x heads."""
    sizes = [nth_prime_after(base - 1, ple_layer_index * heads + 1)]
    for _ in range(heads - 1):
        sizes.append(nth_prime_after(sizes[-1], 1))
    return sizes


def ngram_table_rows(base: int, heads: int, ple_layer_index: int, divisor: int) -> int:
    """Rows of one PLE layer's ngram_embedding: its heads' tables (head_vocab_sizes) stacked
    and padded up to a multiple of make_ngram_vocab_size_divisible_by."""
    return math.ceil(sum(head_vocab_sizes(base, heads, ple_layer_index)) / divisor) * divisor


def read_ngram_ple(f: Fields, hidden_size: int, layer_types: list[str]) -> NGramPLESpec | None:
    """The PLE layers of a Qwen4ExpTextConfig (None without ple_layer_ids): one-indexed,
    deduplicated and sorted (__post_init__), each on a linear_attention layer
    (validate_architecture); ple_embed_dim defaults to hidden_size and must split evenly over
    the (ngram_size - 1) x heads_per_ngram heads. ple_embedding_dtype (not a transformers
    field: vLLM / SGLang ports and the FP8 / NVFP4 checkpoints set it) is kept as the table's
    storage format where moeplan knows it."""
    ids = sorted(set(f.int_list("ple_layer_ids")))
    if not ids:
        return None
    if ids[0] < 1 or ids[-1] > len(layer_types):
        raise SpecError(f"{f.where}: ple_layer_ids are one-indexed layers, got {ids}")
    if any(layer_types[i - 1] != "linear_attention" for i in ids):
        raise SpecError(f"{f.where}: Qwen4-Exp PLE layers must be linear_attention layers")
    n = {k: f.int(k, default=v, minimum=1) for k, v in _DEFAULTS.items()}
    heads = (n["ngram_size"] - 1) * n["heads_per_ngram"]
    embed = f.int("ple_embed_dim", default=hidden_size, minimum=1)
    if heads < 1 or embed % heads:
        raise SpecError(f"{f.where}: ple_embed_dim {embed} must split over {heads} n-gram heads")
    dtype = f.str("ple_embedding_dtype", default="")
    if dtype and dtype not in _DTYPES:
        raise SpecError(f"{f.where}: ple_embedding_dtype {dtype!r} is not modelled")
    f.read |= {"split_ngram_parts", "seed"}  # checkpoint sharding, hash multipliers: no count
    base, divisor = n["ngram_vocab_size_base"], n["make_ngram_vocab_size_divisible_by"]
    rows = tuple(ngram_table_rows(base, heads, i, divisor) for i in range(len(ids)))
    return NGramPLESpec(
        layer_ids=tuple(ids),
        table_rows=rows,
        row_width=embed // heads,
        embed_dim=embed,
        conv_kernel=n["ple_conv_kernel_size"],
        ngram_size=n["ngram_size"],
        table_format=_DTYPES.get(dtype, ""),
    )
