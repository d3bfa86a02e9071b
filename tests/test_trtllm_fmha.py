"""The trtllm profile's price of a layer's prompt attention against rows of NVIDIA's measured
kernel database (perf/trtllm_fmha.py, issue 14): by prompt length, near the measured time, where
the former flat 0.7 of the BF16 peak priced 2048-token prompts 2-3x too fast on a B200."""

from __future__ import annotations

import pytest

from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.engines import resolve_engine
from moeplan.perf.parallel import Layout
from moeplan.perf.phases import prompt_attention_peak
from moeplan.perf.serving_search import Deployment, setup_for
from moeplan.perf.terms import attention_core_flops
from moeplan.perf.trtllm_fmha import context_fmha_fraction

# github:ai-dynamo/aiconfigurator@095f58a51c4ca8e61b66ec108d86f223f8d559ce
# aic-core/src/aiconfigurator_core/systems/data/<system>/attention/trtllm/1.3.0rc20/
# context_attention_perf.parquet, kernel_source torch_flow, FP8 attention and KV cache, head_dim
# 128, no window: (moeplan GPU id, model with those heads, prompts, prompt length, latency in ms),
# read with pyarrow. Qwen3-30B-A3B 32 / 4 heads, Qwen3-235B-A22B 64 / 4, Llama-4 40 / 8.
AIC_CONTEXT_ROWS = (
    ("b200", "qwen3-30b-a3b", 4, 2048, 0.20084800322850546),
    ("b200", "qwen3-30b-a3b", 1, 16384, 1.5872000058492024),
    ("gb200-nvl72", "llama-4-scout", 2, 4096, 0.33819735050201416),
    ("h200", "qwen3-235b-a22b", 1, 2048, 0.17385600010553995),
    ("h100-sxm", "qwen3-235b-a22b", 8, 1024, 0.42945067087809247),
    ("rtx-pro-6000", "qwen3-30b-a3b", 4, 2048, 0.45556267102559406),
    ("rtx-pro-6000", "llama-4-scout", 1, 8192, 1.734613259633382),
)


def _layer_price(gpu_id: str, model: str, prompts: int, length: int) -> float:
    spec = load_model(model)
    dep = Deployment(
        spec,
        resolve_scheme("fp8", spec),
        resolve_gpu(gpu_id),
        resolve_engine("trtllm"),
        kv_quant="fp8",
    )
    setup = setup_for(dep, Layout())
    rate = prompt_attention_peak(setup, length)
    assert rate is not None
    return prompts * attention_core_flops(spec, length, 0) / spec.num_layers / rate


@pytest.mark.parametrize(("gpu_id", "model", "prompts", "length", "ms"), AIC_CONTEXT_ROWS)
def test_trtllm_prompt_attention_near_measured(
    gpu_id: str, model: str, prompts: int, length: int, ms: float
) -> None:
    # the fit's rows lie within 0.68-1.24x of it (head shapes differ at one length)
    assert _layer_price(gpu_id, model, prompts, length) == pytest.approx(ms / 1e3, rel=0.3)


def test_b200_short_prompts_were_priced_far_too_fast() -> None:
    """At 2048 tokens a prompt a B200 reaches 0.745 x 2048 / 5108 = 0.30 of its BF16 peak, not
    the flat 0.7: the first row above priced at 0.43x its measured time before."""
    assert context_fmha_fraction(0.745, 3060, 2048) == pytest.approx(0.2987, abs=1e-4)
    before = (
        _layer_price("b200", "qwen3-30b-a3b", 4, 2048)
        * context_fmha_fraction(0.745, 3060, 2048)
        / 0.7
    )
    assert before / (AIC_CONTEXT_ROWS[0][4] / 1e3) == pytest.approx(0.43, abs=0.02)


def test_off_the_table_the_bf16_rate_stays() -> None:
    spec = load_model("qwen3-30b-a3b")
    dep = Deployment(
        spec, resolve_scheme("bf16", spec), resolve_gpu("a100-sxm"), resolve_engine("trtllm")
    )
    setup = setup_for(dep, Layout())
    assert prompt_attention_peak(setup, 2048) == setup.rates.flops("bf16")
