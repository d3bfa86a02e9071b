"""Refusals of the DeepSeek-V4-style GGUF derivations (moeplan/model/gguf_dk.py): a field that
cannot be recovered raises SpecError naming the key or tensor."""

from pathlib import Path

import pytest

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import GgufFile
from moeplan.model.gguf_dk import deepseek4, glm5_next, kimi_k3


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


def test_kimi_k3_gates_and_latent_norm_from_tensors():
    fields = {
        "kimi-k3.attention.head_count": 4,
        "kimi-k3.attention.head_count_kv": [0, 1],
        "kimi-k3.attention.key_length_mla": 24,
        "kimi-k3.attention.value_length_mla": 16,
        "kimi-k3.attention.kv_lora_rank": 32,
        "kimi-k3.kda.head_dim": 16,
        "kimi-k3.ssm.conv_kernel": 4,
    }
    shapes = {
        "blk.0.ssm_f_a.weight": (64, 16),
        "blk.1.attn_kv_a_mqa.weight": (64, 40),
        "blk.1.ffn_gate_inp.weight": (64, 4),
    }
    cfg: dict = {}
    kimi_k3(GgufFile(Path("x.gguf"), "kimi-k3", fields, shapes, 2), cfg)
    assert cfg["layer_types"] == ["linear_attention", "full_attention"]
    assert (cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]) == (16, 8, 16)
    assert cfg["linear_attn_config"] == {"use_full_rank_gate": False}
    assert not cfg["mla_use_output_gate"] and not cfg["latent_moe_use_norm"]
    assert cfg["mlp_layer_types"] == ["dense", "sparse"]
    assert cfg["linear_num_heads"] == cfg["num_key_value_heads"] == 4
