"""llama.cpp file types: block sizes from ggml-common.h, the per-tensor rules of
llama-quant.cpp by hand, and whole files against published GGUF sizes."""

from __future__ import annotations

import pytest

from moeplan.memory.estimate import weights_bytes_by_component
from moeplan.memory.gguf_mix import FTYPE_BASE, type_shares
from moeplan.memory.quant import FORMATS, SCHEMES, resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.model.params import count_params
from moeplan.model.sources import GGUF_FILE_TYPES

GIB = 2**30


def _bytes(model: str, quant: str) -> dict[str, int]:
    spec = load_model(model)
    return weights_bytes_by_component(spec, resolve_scheme(quant, spec))


def _total(model: str, quant: str) -> int:
    return sum(v for k, v in _bytes(model, quant).items() if k != "mtp")


def test_iquant_block_sizes():
    """sizeof(block_*) per 256 values (IQ4_NL per 32), from the structs' fields; the bpw in
    ggml-common.h's own comments where it gives one."""
    bpw = {
        "iq4_xs": (2 + 2 + 256 // 64 + 256 // 2) * 8 / 256,  # 136 B: 4.25
        "iq4_nl": (2 + 32 // 2) * 8 / 32,  # 18 B: 4.5
        "iq3_s": (2 + 13 * 256 // 32 + 256 // 64) * 8 / 256,  # 110 B: 3.4375
        "iq3_xxs": (2 + 3 * 256 // 8) * 8 / 256,  # 98 B: 3.0625
        "iq2_s": (2 + 256 // 4 + 256 // 16) * 8 / 256,  # 82 B: 2.5625
        "iq2_xs": (2 + 256 // 8 * 2 + 256 // 32) * 8 / 256,  # 74 B: 2.3125
        "iq2_xxs": (2 + 256 // 8 * 2) * 8 / 256,  # 66 B: 2.0625
        "iq1_m": (256 // 8 + 256 // 16 + 256 // 32) * 8 / 256,  # 56 B: 1.75
        "iq1_s": (2 + 256 // 8 + 256 // 16) * 8 / 256,  # 50 B: 1.5625
    }
    for fid, bits in bpw.items():
        assert FORMATS[fid].bits_per_weight == bits
    assert [bpw[f] for f in ("iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s", "iq1_s")] == [
        2.0625,
        2.3125,
        2.5625,
        3.0625,
        3.4375,
        1.5625,
    ]
    assert bpw["iq1_m"] == 1.75 and bpw["iq4_xs"] == 4.25


def test_every_file_type_is_a_scheme_and_read_from_gguf():
    for ftype, base in FTYPE_BASE.items():
        assert SCHEMES[ftype].formats["routed_experts"] == base
        assert GGUF_FILE_TYPES[ftype.upper()] == ftype
    # MXFP4_MOE: 3-D expert tensors MXFP4, every other quantized tensor Q8_0
    assert GGUF_FILE_TYPES["MXFP4_MOE"] == "q8_0,experts=mxfp4"


def test_qwen3_30b_iq2_xxs_by_hand():
    """IQ2_XXS: the first n/8 ffn_down tensors (48 layers, no shared expert: layers 0-5) Q2_K,
    the rest IQ2_XXS; token_embd Q2_K, output Q5_K. 128 experts of 2048 x 768 a matrix."""
    w = _bytes("qwen3-30b-a3b", "iq2_xxs")
    m = 2048 * 768
    gate_up = 2 * m * 66 // 256  # 811,008 B
    first = gate_up + m * 84 // 256  # Q2_K down: 1,327,104 B
    rest = gate_up + m * 66 // 256  # 1,216,512 B
    assert w["routed_experts"] == pytest.approx(128 * (6 * first + 42 * rest), abs=2)
    assert w["routed_experts"] == pytest.approx(7_559_184_384, abs=2)
    assert w["embedding"] == 151936 * 2048 * 84 // 256
    assert w["lm_head"] == 151936 * 2048 * 176 // 256


def test_deepseek_v3_iq1_s_counts_ffn_down_tensors():
    """IQ1_S counts ffn_down tensors, not layers: 61 // 8 = 7 are blk.0-2 ffn_down (dense),
    blk.3 and blk.4 ffn_down_exps + ffn_down_shexp; so 2 of 58 MoE layers' routed down
    projections are Q2_K. 256 experts of 7168 x 2048 a matrix."""
    w = _bytes("deepseek-v3", "iq1_s")
    m = 7168 * 2048
    gate_up = 2 * m * 50 // 256  # 5,734,400 B
    routed = 256 * (58 * gate_up + 2 * m * 84 // 256 + 56 * m * 50 // 256)
    assert routed == 128_714_801_152
    assert w["routed_experts"] == pytest.approx(routed, abs=2)
    assert w["shared_experts"] == pytest.approx(routed // 256, abs=2)
    dense = 7168 * 18432  # blk.0-2: gate/up IQ1_S, down Q2_K
    assert w["dense_ffn"] == pytest.approx(3 * (2 * dense * 50 // 256 + dense * 84 // 256), abs=2)


def test_mixtral_q3_k_m_by_hand():
    """Q3_K_M, 32 layers, 8 experts: ffn_down Q5_K below n/16 (2 layers) and Q4_K above (not
    Falcon), attn_v/attn_k Q8_0 and attn_output Q5_K for an 8-expert model."""
    w = _bytes("mixtral-8x7b", "q3_k_m")
    m = 4096 * 14336
    gate_up = 2 * m * 110 // 256
    routed = 8 * (32 * gate_up + 2 * m * 176 // 256 + 30 * m * 144 // 256)
    assert w["routed_experts"] == routed == 21_491_613_696
    q_o, k_v = 4096 * 4096, 4096 * 1024
    attention = 32 * (q_o * 110 // 256 + q_o * 176 // 256 + 2 * k_v * 34 // 32)
    assert w["attention"] == pytest.approx(attention, rel=1e-6)


def test_mixtral_8x22b_against_bartowski_files():
    """bartowski/Mixtral-8x22B-v0.1-GGUF (llama.cpp b2636), file sizes in GB: every k-quant and
    IQ3 file within 0.05%. Its IQ4 files were made without an importance matrix: the first
    56 // 8 = 7 layers' ffn_down are then Q5_K (moeplan assumes an imatrix file, as published
    IQ4 files are now): 7/56 of the down projections at +1 bit (IQ4_NL) / +1.25 bit (IQ4_XS)."""
    published = {
        "q5_k_m": 99.96, "q5_k_s": 96.97, "q4_k_m": 85.58, "q4_k_s": 80.47, "q3_k_l": 72.57,
        "q3_k_m": 67.78, "iq3_m": 64.49, "iq3_s": 61.49, "q3_k_s": 61.49, "iq3_xs": 58.22,
        "q2_k": 52.10,
    }  # fmt: skip
    for quant, gb in published.items():
        assert _total("mixtral-8x22b", quant) / 1e9 == pytest.approx(gb, rel=5e-4), quant
    down = 56 * 8 * 6144 * 16384 * 7 / 56
    for quant, gb, extra_bits in (("iq4_nl", 80.47, 1.0), ("iq4_xs", 76.35, 1.25)):
        assert (_total("mixtral-8x22b", quant) + down * extra_bits / 8) / 1e9 == pytest.approx(
            gb, rel=5e-4
        )
        spec = load_model("mixtral-8x22b")
        plain = type_shares(quant, spec, count_params(spec).breakdown["attention"], False)
        assert plain["routed_experts"]["q5_k"] == pytest.approx(7 / 56 / 3)
