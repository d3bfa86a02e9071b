"""Activation bytes of the routed-MoE block (perf.moe_activations), derived by hand."""

from __future__ import annotations

import pytest

from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.engines import resolve_engine
from moeplan.perf.moe_activations import (
    activation_format,
    bytes_per_expanded_row,
    moe_activation_bytes_per_gpu,
)
from moeplan.perf.parallel import Layout
from moeplan.perf.phases import decode_step, prefill
from moeplan.perf.serving_search import Deployment, setup_for

# Qwen3-30B-A3B: hidden h = 2048, moe_intermediate i = 768, top-8, gated (g = 2), 48 MoE layers;
# BF16 a = 2 B, NVFP4 q = 0.5 + 1/16 = 0.5625 B a value
# expand: the token's quantize h(a + q) / 8 = 2048 x 2.5625 / 8 = 656 + the copy 2 h q = 2,304
# -> 2,960; gemm1 h q + 2 i a = 1,152 + 3,072 = 4,224; activation 2 i a + i q = 3,072 + 432 =
# 3,504; gemm2 i q + h a = 432 + 4,096 = 4,528; finalize h a + h a / 8 = 4,096 + 512 = 4,608;
# a row 19,824 B, a token (8 rows) 158,592 B
ROW = 2960 + 4224 + 3504 + 4528 + 4608


def test_qwen3_30b_nvfp4_row_by_hand():
    spec = load_model("qwen3-30b-a3b")
    assert ROW == 19824
    assert bytes_per_expanded_row(spec, "fp4") == pytest.approx(ROW)
    # FP8: q = 1: (2048 x 3 / 8 + 2 x 2048) + (2048 + 3072) + (3072 + 768) + (768 + 4096)
    # + 4608 = 4,864 + 5,120 + 3,840 + 4,864 + 4,608 = 23,296
    assert bytes_per_expanded_row(spec, "fp8") == pytest.approx(23296)
    # BF16 (q = a, nothing quantized before the copy): 2048 x 4 + (4096 + 3072) + (3072 + 1536)
    # + (1536 + 4096) + 4608 = 30,208
    assert bytes_per_expanded_row(spec, "bf16") == pytest.approx(30208)
    # the expert GEMMs: 2 x 3 x 2048 x 768 = 9.44 MFLOP a row, 476 FLOP a byte
    flop_per_byte = 2 * 3 * 2048 * 768 / ROW
    assert flop_per_byte == pytest.approx(476.0, abs=0.1)


def test_rows_stay_bf16_where_the_gpu_lacks_the_math_type():
    # FP4 experts on an H100 (no FP4 tensor cores) run weight-only: q = a = 2 B, so
    # expand 2048 x 4 = 8,192; gemm1 4,096 + 3,072; activation 3,072 + 1,536;
    # gemm2 1,536 + 4,096; finalize 4,608: 30,208 B a row (19,824 with NVFP4 rows on a B200)
    spec = load_model("qwen3-30b-a3b")
    assert activation_format("fp4", resolve_gpu("b200")) == "fp4"
    assert activation_format("fp4", resolve_gpu("h100")) == "bf16"
    assert activation_format("fp8", resolve_gpu("h100")) == "fp8"
    assert activation_format("fp8", resolve_gpu("a100")) == "bf16"
    row = bytes_per_expanded_row(spec, activation_format("fp4", resolve_gpu("h100")))
    assert row == pytest.approx(8192 + 7168 + 4608 + 5632 + 4608)
    assert 8192 + 7168 + 4608 + 5632 + 4608 == 30208


def test_layouts_split_rows_or_widths():
    spec = load_model("qwen3-30b-a3b")
    one = moe_activation_bytes_per_gpu(spec, Layout(tp=1, ep=1, pp=1, dp=1), "fp4", 1000, 8)
    assert one == pytest.approx(48 * 8000 * ROW)
    # EP4 (128 experts, whole a rank): a quarter of the rows, times the busiest rank's load
    ep = moe_activation_bytes_per_gpu(spec, Layout(tp=4, ep=4, pp=1, dp=1), "fp4", 1000, 8, 1.5)
    assert ep == pytest.approx(48 * 8000 / 4 * 1.5 * ROW)
    # TP2 without EP: every row, half of moe_intermediate (384): the i-terms halve
    half_i = 2960 + (1152 + 1536) + (1536 + 216) + (216 + 4096) + 4608
    tp = moe_activation_bytes_per_gpu(spec, Layout(tp=2, ep=1, pp=1, dp=1), "fp4", 1000, 8)
    assert tp == pytest.approx(48 * 8000 * half_i)


def _setup():
    spec = load_model("qwen3-30b-a3b")
    dep = Deployment(
        spec, resolve_scheme("nvfp4", spec), resolve_gpu("b200"), resolve_engine("trtllm"), "fp8"
    )
    return setup_for(dep, Layout(tp=1, ep=1, pp=1, dp=1))


def test_prefill_is_bound_by_it_decode_batch_one_is_not():
    setup = _setup()
    bw = setup.rates.stream_bw_bytes_per_s
    # a 2048-token prompt: 2048 x 158,592 x 48 B = 15.6 GB of activations, about the time of
    # the experts' math (2048 x 75.5 MFLOP x 48 at TensorRT-LLM's measured FP4 rate on a B200,
    # 0.345 of the peak, perf/trtllm_gemm.py): 2.30 ms against 2.39 ms
    traffic_s = 2048 * 8 * ROW * 48 / bw
    peak = setup.rates.flops("fp4")
    assert peak is not None
    assert traffic_s == pytest.approx(2048 * 2 * 3 * 2048 * 768 * 8 * 48 / peak, rel=0.05)
    assert prefill(setup, 1, 2048).memory_s > traffic_s
    # decode at batch 1: 8 rows x 19,824 x 48 = 7.6 MB, under 1% of the step's memory time
    step = decode_step(setup, 1, 1000)
    assert 8 * ROW * 48 / bw < 0.01 * step.memory_s
