"""Qwen4-Exp GGUF files with Per-Layer n-gram Embeddings: the base and divisor read back from
the head sizes and the table (the fixtures qwen4exp-ple / qwen4exp-ple-mtp themselves:
tests/test_gguf_archs.py), and the files that cannot be read say why."""

import math
from pathlib import Path

import pytest

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import GgufFile
from moeplan.model.gguf_q4mtp import TABLE, vocab_base, vocab_divisor
from moeplan.model.readers2026.qwen4_ple import ngram_table_rows
from tests.test_arch_qwen_step_muse import FLASH_PRIMES

pytest.importorskip("gguf")
from tests.test_gguf_archs import load_altered


def _file(rows: int) -> GgufFile:
    return GgufFile(Path("x.gguf"), "qwen4exp", {}, {TABLE: (160, rows)}, 48)


def test_released_base_and_divisor() -> None:
    # Qwen3.8-Flash-Next: 16 head sizes after 19,999,999, 320,001,446 rows padded to 320,001,536
    sizes = list(FLASH_PRIMES)
    rows = math.ceil(sum(sizes) / 128) * 128
    g = _file(rows)
    base, divisor = vocab_base(g, sizes), vocab_divisor(g, sizes, rows)
    assert (base, divisor) == (20_000_003, 128)  # any base in (19,999,993, 20,000,003] does
    assert ngram_table_rows(base, 16, 0, divisor) == ngram_table_rows(20_000_000, 16, 0, 128)
    assert vocab_divisor(g, sizes, sum(sizes)) == 1  # no padding
    odd = sum(sizes) + 1000  # no power of two pads to it: the rows themselves
    assert ngram_table_rows(base, 16, 0, vocab_divisor(g, sizes, odd)) == odd
    with pytest.raises(SpecError, match="consecutive primes"):
        vocab_base(g, [sizes[0], *sizes[2:], 20_000_177])
    with pytest.raises(SpecError, match="fewer than"):
        vocab_divisor(g, sizes, sum(sizes) - 1)


def _load(tmp_path: Path, keys: dict, tensors: dict | None = None) -> None:
    load_altered(tmp_path, "qwen4exp-ple", keys=keys, tensors=tensors)


def test_ple_refusals(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="lists 2 layers"):
        _load(tmp_path, {"ple.layers": ["ARRAY:UINT32", [1, 2]]})
    with pytest.raises(SpecError, match="has not 4 sizes"):
        _load(tmp_path, {"ple.head_vocab_sizes": ["ARRAY:UINT64", [1009, 1013, 1019]]})
    with pytest.raises(SpecError, match="not 16 wide"):
        _load(tmp_path, {}, {TABLE: [8, 4096]})
