"""Steady-state serving: prompts arrive as whole chunks (a share of the steps carries one, the
rest only decode), and a run held at a stated concurrency runs no more than the KV cache holds."""

from __future__ import annotations

import pytest

from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.engines import resolve_engine
from moeplan.perf.parallel import Layout
from moeplan.perf.serving import (
    MAX_BATCHED_TOKENS,
    Workload,
    aggregated_point,
    mixed_step,
    replica_capacity,
)
from moeplan.perf.serving_search import Deployment, running_cap, setup_for
from moeplan.plan.validate_serving import validate_serving_record


def _minimax(gpu: str = "b200", tp: int = 2, quant: str = "native") -> tuple[Deployment, Layout]:
    spec = load_model("minimax-m2.5")
    dep = Deployment(spec, resolve_scheme(quant, spec), resolve_gpu(gpu), resolve_engine("vllm"),
                     kv_quant="fp8")  # fmt: skip
    return dep, Layout(tp=tp)


def test_prompts_under_a_chunk_a_step_come_as_whole_chunks():
    # 8 x 7373-token prompts per 922 outputs of 8 requests: 64 prompt tokens a step on average,
    # under one 7373-token chunk; a request's own prompt is its TTFT, so 7 of its 922 decode
    # steps carry the other requests' chunks and the rest decode
    dep, layout = _minimax()
    setup = setup_for(dep, layout)
    w = Workload(7373, 922)
    p = aggregated_point(setup, w, 8, 1)
    assert p is not None
    share = 8 * w.prompt_tokens_per_output_token / 7373 - 1 / 922
    assert share == pytest.approx(7 / 922)
    with_chunk = mixed_step(setup, w, 8, 7373.0)
    decode = mixed_step(setup, w, 8, 0.0)
    assert p.tpot_s == pytest.approx(share * with_chunk.total_s + (1 - share) * decode.total_s)
    assert p.ttft_s == pytest.approx(with_chunk.total_s)
    # the same prompt tokens spread over every step read most of the 256 experts every step:
    # a slower mean step than the chunks (expert reads grow slower than their tokens)
    spread = mixed_step(setup, w, 8, 8 * w.prompt_tokens_per_output_token)
    assert spread.total_s > 1.5 * p.tpot_s
    # the blended step keeps the split of its parts
    assert p.step.memory_s == pytest.approx(
        share * with_chunk.memory_s + (1 - share) * decode.memory_s
    )


def test_a_chunk_or_more_a_step_is_the_old_mixed_step():
    # 1k/1k at 2048 requests: 2048 prompt tokens a step on average, past one 1000-token chunk;
    # every step carries prompts but the one of the 1001 a request's own TTFT step took
    dep, layout = _minimax()
    setup = setup_for(dep, layout)
    w = Workload(1000, 1000)
    assert 2048 * w.prompt_tokens_per_output_token > min(w.input_len, MAX_BATCHED_TOKENS)
    p = aggregated_point(setup, w, 2048, 1)
    assert p is not None
    share = 1 - 1 / 1000
    with_prompts, decode = mixed_step(setup, w, 2048, 2048.0), mixed_step(setup, w, 2048, 0.0)
    assert p.tpot_s == pytest.approx(share * with_prompts.total_s + (1 - share) * decode.total_s)
    assert p.tpot_s == pytest.approx(with_prompts.total_s, rel=1e-3)


def test_a_stated_concurrency_past_the_kv_room_runs_what_fits():
    # MiniMax-M2.5 FP8 on 2 x B200, 8k/1k: the KV cache holds ~108 requests of 8295 tokens; a
    # benchmark at --max-concurrency 512 runs that many, the rest wait in the client's window
    dep, layout = _minimax()
    setup = setup_for(dep, layout)
    w = Workload(7373, 922)
    cap = running_cap(dep, layout, replica_capacity(setup, w, dep.usable_fraction))
    assert 50 < cap < 512
    rec = {
        "id": "t", "model": "minimax-m2.5", "quant": "native", "kv_quant": "fp8", "gpu": "b200",
        "gpus": 2, "engine": "vllm", "layout": {"tp": 2, "ep": 1, "dp": 1, "pp": 1},
        "input_len": 7373, "output_len": 922, "value": 1.0,
    }  # fmt: skip
    at_512 = validate_serving_record({**rec, "concurrency": 512})
    at_cap = validate_serving_record({**rec, "concurrency": cap})
    assert at_512.concurrency == cap
    assert at_512.predicted == pytest.approx(at_cap.predicted)
    # the server flag --gpu-memory-utilization moves the room
    roomier = validate_serving_record({**rec, "concurrency": 512, "gpu_memory_utilization": 0.95})
    assert roomier.concurrency is not None and roomier.concurrency > cap
    for bad in (95, 0, "0.9", float("nan")):
        with pytest.raises(MoeplanError, match="gpu_memory_utilization must be a fraction"):
            validate_serving_record({**rec, "gpu_memory_utilization": bad})
