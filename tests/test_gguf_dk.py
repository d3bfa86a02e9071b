"""Refusals of the DeepSeek-V4-style GGUF derivations (moeplan/model/gguf_dk.py): a field that
cannot be recovered raises SpecError naming the key or tensor."""

from pathlib import Path

import pytest

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import GgufFile
from moeplan.model.gguf_dk import deepseek4, glm5_next


def _file(fields: dict, shapes: dict, main: int) -> GgufFile:
    return GgufFile(Path("x.gguf"), "deepseek4", fields, shapes, main)


def test_deepseek4_ratios_read_per_main_block():
    fields = {"deepseek4.block_count": 3, "deepseek4.attention.compress_ratios": [0, 4, 128, 0]}
    cfg: dict = {}
    deepseek4(_file(fields, {"blk.0.attn_norm.weight": (8,)}, 3), cfg)
    assert cfg["compress_ratios"] == [0, 4, 128]


@pytest.mark.parametrize(
    ("ratios", "message"),
    [(None, "compress_ratios' is missing"), ([0, 4], "malformed"), ([0, 8, 4], "other than")],
)
def test_deepseek4_ratio_refusals(ratios, message):
    fields = {"deepseek4.block_count": 3, "deepseek4.attention.compress_ratios": ratios}
    with pytest.raises(SpecError, match=message):
        deepseek4(_file(fields, {"blk.0.attn_norm.weight": (8,)}, 3), {})


def test_deepseek4_mtp_only_draft_refused():
    fields = {"deepseek4.block_count": 4, "deepseek4.attention.compress_ratios": [0] * 4}
    with pytest.raises(SpecError, match="MTP-only"):
        deepseek4(_file(fields, {"blk.3.nextn.eh_proj.weight": (16, 8)}, 3), {})


def test_glm5_next_needs_per_block_kv_heads():
    fields = {"glm5-next.attention.head_count": 4}
    g = GgufFile(Path("x.gguf"), "glm5-next", fields, {}, 4)
    with pytest.raises(SpecError, match="head_count_kv' is missing"):
        glm5_next(g, {})
