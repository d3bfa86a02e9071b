"""SGLang's prefill batches (EngineProfile.separate_prefill: a waiting prompt runs in a batch of
its own, the decode batch waiting, sglang@0003215c scheduler.py get_next_batch_to_run), and a
request's own prompt priced once, in its TTFT (issue 14)."""

from __future__ import annotations

import pytest

from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.engines import resolve_engine
from moeplan.perf.latency import make_setup
from moeplan.perf.parallel import Layout
from moeplan.perf.phases import Setup
from moeplan.perf.serving import Workload, aggregated_point, mixed_step

R1_8K = Workload(7373, 922)  # InferenceX 8k/1k: range-ratio-0.8 means


def _r1_h200(engine: str) -> Setup:
    spec = load_model("deepseek-r1")
    return make_setup(
        spec, resolve_scheme("native", spec), resolve_gpu("h200"), Layout(tp=8),
        resolve_engine(engine),
    )  # fmt: skip


def test_sglang_runs_prompts_apart_and_vllm_with_the_decode_batch():
    # SGLang: "Run prefill first if possible", no decode rows mixed in without
    # --enable-mixed-chunk; vLLM V1: decode requests first, prompts fill the rest of the budget
    assert resolve_engine("sglang").separate_prefill
    assert resolve_engine("sglang-fi").separate_prefill
    assert not resolve_engine("vllm").separate_prefill
    assert not resolve_engine("trtllm").separate_prefill


@pytest.mark.parametrize("engine", ["sglang", "vllm"])
def test_one_request_decodes_alone_and_its_prompt_is_its_ttft(engine):
    # its prompt was counted twice before: in its TTFT and spread over its own decode steps
    setup = _r1_h200(engine)
    p = aggregated_point(setup, R1_8K, 1, 1)
    assert p is not None
    decode = mixed_step(setup, R1_8K, 1, 0.0)
    # no other request's prompt runs while it decodes
    assert p.tpot_s == pytest.approx(decode.total_s)
    prefill_rows = 0 if engine == "sglang" else 1  # SGLang's prefill batch holds no decode rows
    assert p.ttft_s == pytest.approx(mixed_step(setup, R1_8K, prefill_rows, 7373).total_s)


@pytest.mark.parametrize("engine", ["sglang", "vllm"])
def test_the_mean_step_is_decode_plus_the_others_chunk_steps(engine):
    setup = _r1_h200(engine)
    c = 4
    p = aggregated_point(setup, R1_8K, c, 1)
    assert p is not None
    decode = mixed_step(setup, R1_8K, c, 0.0).total_s
    separate = engine == "sglang"
    chunk_step = mixed_step(setup, R1_8K, 0 if separate else c, 7373).total_s
    extra = chunk_step if separate else chunk_step - decode
    share = (c - 1) * 7373 / 922 / 7373  # one chunk step per OSL / (c - 1) decode steps
    assert p.tpot_s == pytest.approx(decode + share * extra)
    # a request's life: its own prompt, then OSL decode steps and the other c - 1 prompts
    assert p.request_s == pytest.approx(chunk_step + 922 * decode + (c - 1) * extra)
