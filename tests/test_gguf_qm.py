"""GGUF files of the gguf_qm architectures that cannot be sized say which key is at fault (the
fixtures themselves: tests/test_gguf_archs.py)."""

from pathlib import Path

import pytest

from moeplan.errors import SpecError

pytest.importorskip("gguf")
from tests.test_gguf_archs import load_altered


def _load(tmp_path: Path, name: str, **keys: list) -> None:
    load_altered(tmp_path, name, keys=keys)


def test_qwen4exp_without_compress_ratio_is_refused(tmp_path):
    # transformers >= 5 rewrites full_attention to indexed_attention on load: a converter run
    # with it writes every ratio 0
    with pytest.raises(SpecError, match="compress_ratios"):
        _load(tmp_path, "qwen4exp", **{"attention.compress_ratios": ["ARRAY:UINT32", [0] * 4]})


def test_qwen4exp_ple_needs_its_keys(tmp_path):
    # PLE is read back (tests/test_gguf_q4mtp.py); a ple.layers key alone names what is missing
    with pytest.raises(SpecError, match=r"ple\.ngram_size' is missing"):
        _load(tmp_path, "qwen4exp", **{"ple.layers": ["ARRAY:UINT32", [1]]})
