"""Offload prompt passes as each engine runs them (perf/offload_prefill.py): llama.cpp's op
offload from 32 tokens a ubatch copying the experts the ubatch uses, ktransformers on the CPU or
kt-kernel + SGLang's layer-wise GPU prefill above its threshold; --ubatch and the record fields."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import resolve_gpu
from moeplan.hardware.hosts import resolve_host
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf import offload_prefill
from moeplan.perf.offload import estimate_offload
from moeplan.perf.offload_engines import OFFLOAD_ENGINES
from moeplan.perf.offload_flags import prefill_switch_flag, with_prompt_flags
from moeplan.perf.offload_prefill import passes, prefill_time, streamed_experts
from moeplan.plan.validate_offload import load_offload_records, report_for

runner = CliRunner()
LLAMACPP = OFFLOAD_ENGINES["llamacpp"]
KTRANS = OFFLOAD_ENGINES["ktransformers"]

# a toy MoE: 8 experts, top-2; 1 GB an expert; a 10 GB/s link: 0.1 s an expert copied
SPEC: Any = SimpleNamespace(moe=SimpleNamespace(num_experts=8, top_k=2))
GPU_PART: Any = SimpleNamespace(name="gpu part")
FULL: Any = SimpleNamespace(name="full", split=SimpleNamespace(expert_bytes=1e9))


@pytest.fixture
def toy_prefill(monkeypatch: pytest.MonkeyPatch) -> None:
    """phases.prefill: 1 s for the GPU-resident part of the 3-token prompt, 3 s for the whole
    model on the GPU (so the host experts' GPU compute is 2 s, 2/3 s a token)."""
    times = {"gpu part": 1.0, "full": 3.0}
    monkeypatch.setattr(
        offload_prefill,
        "prefill",
        lambda setup, batch, input_len: SimpleNamespace(total_s=times[setup.name]),
    )


def _time(min_batch: int | None, used_only: bool = True) -> offload_prefill.PrefillTime:
    # 2 host layers, a 3-token prompt in ubatches of 2: passes of 2 and 1 tokens;
    # the CPU takes 0.5 s a token
    return prefill_time(
        SPEC, GPU_PART, FULL, 2, 1, 3, 2, min_batch, used_only, 1e10, lambda t: 0.5 * t
    )


def test_passes_and_experts_copied():
    assert passes(1000, 512) == [(512, 1), (488, 1)]
    assert passes(4096, 4096) == [(4096, 1)]
    assert passes(2_000_000, 1) == [(1, 2_000_000)]  # one size, priced once
    assert passes(5000, 33) == [(33, 151), (17, 1)]  # 151 x 33 + 17 = 5000
    # used experts of a pass: E (1 - (1 - k/E)^t); 1 token: k; 2 tokens: 8 (1 - 9/16) = 3.5
    assert streamed_experts(SPEC, 1, True) == pytest.approx(2.0)
    assert streamed_experts(SPEC, 2, True) == pytest.approx(3.5)
    assert streamed_experts(SPEC, 2, False) == 8.0  # layer-wise prefill: every expert


@pytest.mark.usefixtures("toy_prefill")
def test_llamacpp_streams_passes_from_its_threshold_and_keeps_the_other_path():
    # threshold 2: the 2-token pass streams: 2 layers x 3.5 experts x 0.1 s + 2 s x 2/3;
    # the 1-token pass stays on the CPU: 0.5 s; plus the resident part's 1 s
    t = _time(2)
    assert t.path == "mixed" and t.alternative_s is None
    assert t.seconds == pytest.approx(1 + (0.7 + 4 / 3) + 0.5)
    # threshold 1: both stream; 1 token: 2 layers x 2 experts x 0.1 s + 2/3 s
    both = _time(1)
    assert both.path == "stream"
    assert both.seconds == pytest.approx(1 + (0.7 + 4 / 3) + (0.4 + 2 / 3))
    assert both.alternative_s == pytest.approx(1 + 1.0 + 0.5)  # all on the CPU
    # never (--no-op-offload, ktransformers): the CPU, with streaming as the alternative
    cpu = _time(None)
    assert cpu.path == "cpu" and cpu.seconds == pytest.approx(2.5)
    assert cpu.alternative_s == pytest.approx(both.seconds)
    # the engine does what its threshold says even when the other path is faster
    assert both.seconds > both.alternative_s


def _walk(
    tokens: int, ubatch: int, min_batch: int | None, used_only: bool
) -> tuple[float, str, float | None]:
    """Reference: the toy prompt priced one pass at a time (2 host layers, 1 GB experts over
    10 GB/s, 2 s of host-expert GPU compute shared by tokens, the CPU 0.5 s a token plus 0.1 s a
    pass, the resident part 1 s): seconds, path, the other path's seconds."""
    chosen, cpu, stream, paths = 1.0, 1.0, 1.0, set()
    for start in range(0, tokens, ubatch):
        t = min(ubatch, tokens - start)
        on_cpu = 0.5 * t + 0.1
        streamed = 2 * streamed_experts(SPEC, t, used_only) * 0.1 + 2.0 * t / tokens
        cpu, stream = cpu + on_cpu, stream + streamed
        goes = "stream" if min_batch is not None and t >= min_batch else "cpu"
        chosen += streamed if goes == "stream" else on_cpu
        paths.add(goes)
    path = paths.pop() if len(paths) == 1 else "mixed"
    return chosen, path, {"stream": cpu, "cpu": stream}.get(path)


@pytest.mark.usefixtures("toy_prefill")
@pytest.mark.parametrize(
    ("tokens", "ubatch", "min_batch", "used_only"),
    [
        (3, 2, 2, True),
        (1000, 7, 5, True),
        (1000, 7, 7, False),
        (5000, 33, 32, True),
        (4096, 512, None, True),
        (10, 1, 1, True),
        (4099, 4096, 32, False),
    ],
)
def test_passes_priced_by_size_match_the_pass_by_pass_walk(
    tokens: int, ubatch: int, min_batch: int | None, used_only: bool
) -> None:
    t = prefill_time(
        SPEC,
        GPU_PART,
        FULL,
        2,
        1,
        tokens,
        ubatch,
        min_batch,
        used_only,
        1e10,
        lambda n: 0.5 * n + 0.1,
    )
    seconds, path, other = _walk(tokens, ubatch, min_batch, used_only)
    assert (t.seconds, t.path) == (pytest.approx(seconds, rel=1e-12), path)
    assert t.alternative_s == (None if other is None else pytest.approx(other, rel=1e-12))


@pytest.mark.usefixtures("toy_prefill")
def test_layerwise_prefill_copies_every_expert():
    t = _time(1, used_only=False)  # 2 layers x 8 experts x 0.1 s a pass, two passes
    assert t.seconds == pytest.approx(1 + (1.6 + 4 / 3) + (1.6 + 2 / 3))


def test_profiles_say_where_prompt_experts_run():
    assert LLAMACPP.stream_min_batch == 32 and LLAMACPP.streams_used_experts
    assert KTRANS.stream_min_batch is None  # V0.2/V0.3: the CPU; SGLang's threshold unset
    assert OFFLOAD_ENGINES["ktransformers-v02"].stream_min_batch is None
    assert any("ggml-backend.cpp" in s for s in LLAMACPP.sources)
    assert any("kt_ep_wrapper.py" in s for s in KTRANS.sources)


def test_prompt_flags_are_validated():
    assert with_prompt_flags(LLAMACPP, 4096).ubatch_tokens == 4096
    assert with_prompt_flags(LLAMACPP, op_offload=False).stream_min_batch is None
    kt = with_prompt_flags(KTRANS, kt_gpu_prefill_threshold=400)
    assert kt.stream_min_batch == 400 and not kt.streams_used_experts
    for bad in (0, -5, 1.5, True, "512"):
        with pytest.raises(MoeplanError, match="positive whole number"):
            with_prompt_flags(LLAMACPP, bad)  # type: ignore[arg-type]
    with pytest.raises(MoeplanError, match=r"llama\.cpp flag"):
        with_prompt_flags(KTRANS, op_offload=False)
    for engine in (LLAMACPP, OFFLOAD_ENGINES["ktransformers-v02"]):  # V0.2.x has no such flag
        with pytest.raises(MoeplanError, match="kt-kernel"):
            with_prompt_flags(engine, kt_gpu_prefill_threshold=400)


def test_llamacpp_prompt_follows_the_ubatch():
    spec = load_model("gpt-oss-120b")
    scheme = resolve_scheme("native", spec)
    gpu, host = resolve_gpu("rtx-5090"), resolve_host("ryzen-9-9950x")

    def run(engine: Any, input_len: int) -> Any:
        r = estimate_offload(spec, scheme, gpu, host, engine, "experts", input_len=input_len)
        assert r.speed is not None
        return r.speed

    # under 32 tokens a pass the CPU computes the host experts; from 32 they are copied
    assert run(LLAMACPP, 31).prefill_path == "cpu"
    assert run(LLAMACPP, 32).prefill_path == "stream"
    assert run(LLAMACPP, 530).prefill_path == "mixed"  # 512 + 18: the last pass on the CPU
    assert run(with_prompt_flags(LLAMACPP, op_offload=False), 4096).prefill_path == "cpu"
    # one 4096-token ubatch copies the experts once where 512-token ones copy them 8 times
    small, big = run(LLAMACPP, 4096), run(with_prompt_flags(LLAMACPP, 4096), 4096)
    assert big.prefill_s < small.prefill_s


def test_cli_ubatch_and_prompt_flags():
    base = ["latency", "gpt-oss-120b", "--gpu", "rtx-5090", "--host", "ryzen-9-9950x"]
    r = runner.invoke(app, [*base, "--offload", "experts", "--ubatch", "4096", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["efficiencies"]["ubatch_tokens"] == 4096
    assert doc["prefill"]["path"] == "stream"
    r = runner.invoke(app, [*base, "--offload", "experts", "--no-op-offload", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["prefill"]["path"] == "cpu"
    for extra in (["--ubatch", "0"], ["--ubatch", "-3"]):
        r = runner.invoke(app, [*base, "--offload", "experts", *extra])
        assert r.exit_code == 2 and "--ubatch must be a positive whole number" in r.output
        assert len(r.output.strip().splitlines()) == 1
    r = runner.invoke(app, [*base, "--offload", "experts", "--ubatch", "x"])
    assert r.exit_code == 2
    r = runner.invoke(app, [*base, "--ubatch", "512"])  # no offload asked for
    assert r.exit_code == 2 and "--offload" in r.output
    kt = ["--offload", "experts", "--kt-gpu-prefill-threshold", "512", "--engine"]
    r = runner.invoke(app, [*base, *kt, "ktransformers", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["prefill"]["path"] == "stream"
    for engine in ("ktransformers-v02", "llamacpp"):  # kt-kernel + SGLang's flag only
        r = runner.invoke(app, [*base, *kt, engine])
        assert r.exit_code == 2 and "kt-kernel + SGLang flag" in r.output, r.output
        assert len(r.output.strip().splitlines()) == 1


def test_prefill_switch_flag_names_the_setting_for_the_other_path():
    assert prefill_switch_flag(LLAMACPP, "stream", 4096) == (
        "llama.cpp --no-op-offload",
        "--no-op-offload",
    )
    off = with_prompt_flags(LLAMACPP, op_offload=False)
    assert prefill_switch_flag(off, "cpu", 4096) == (
        "llama.cpp without --no-op-offload",
        "without --no-op-offload",
    )
    small_ub = with_prompt_flags(LLAMACPP, ubatch=16)
    assert prefill_switch_flag(small_ub, "cpu", 4096) == ("llama.cpp -ub 32 or more", "--ubatch 32")
    # a prompt shorter than the threshold: only the threshold itself moves it, and moeplan has
    # no option for that environment variable
    assert prefill_switch_flag(LLAMACPP, "cpu", 20) == (
        "llama.cpp with GGML_OP_OFFLOAD_MIN_BATCH=20",
        None,
    )
    # kt-kernel: every chunk streams once the threshold is at most the short last chunk
    chunked = with_prompt_flags(KTRANS, ubatch=4096)
    assert prefill_switch_flag(chunked, "cpu", 5000) == (
        "kt-kernel --kt-gpu-prefill-token-threshold 904",
        "--kt-gpu-prefill-threshold 904",
    )
    switch = prefill_switch_flag(chunked, "cpu", 4096)
    assert switch is not None and switch[0].endswith(" 4096")
    streaming = with_prompt_flags(KTRANS, kt_gpu_prefill_threshold=512)
    assert prefill_switch_flag(streaming, "stream", 4096) == (
        "kt-kernel without --kt-gpu-prefill-token-threshold",
        "without --kt-gpu-prefill-threshold",
    )
    assert prefill_switch_flag(OFFLOAD_ENGINES["ktransformers-v02"], "cpu", 4096) is None


def test_cli_names_the_faster_prompt_setting():
    base = ["latency", "gpt-oss-120b", "--gpu", "rtx-4060-ti-16gb", "--host", "ryzen-9-7950x"]
    r = runner.invoke(app, [*base, "--offload", "auto", "--json"])
    assert r.exit_code == 0, r.output
    prefill = json.loads(r.output)["prefill"]
    assert prefill["other_path_setting"] == {
        "engine": "llama.cpp --no-op-offload",
        "moeplan": "--no-op-offload",
    }
    r = runner.invoke(app, [*base, "--offload", "auto"])
    faster = prefill["other_path_seconds"] < prefill["seconds"]
    text = "faster: llama.cpp --no-op-offload (moeplan --no-op-offload prices it)"
    assert (text in r.output) == faster
    assert ("not what llamacpp does" in r.output) == (not faster)
    # a prompt under llama.cpp's 32-token threshold runs on the CPU; the setting that would
    # stream it has no moeplan option
    r = runner.invoke(app, [*base, "--offload", "auto", "--input", "24", "--json"])
    assert json.loads(r.output)["prefill"]["other_path_setting"] == {
        "engine": "llama.cpp with GGML_OP_OFFLOAD_MIN_BATCH=24",
        "moeplan": None,
    }


def test_kimi_k2_record_states_its_ubatch():
    rec = next(
        r
        for r in load_offload_records()
        if r["id"] == "llamacpp-kimik2-udq4kxl-rtxpro6000-2xepyc9355-prefill"
    )
    assert rec["moeplan"]["ubatch_tokens"] == 4096  # -ub 4096 in its source
    r = report_for(rec["moeplan"])
    assert r.engine.ubatch_tokens == 4096 and r.speed is not None
    assert r.speed.prefill_path == "stream"  # one 4096-token pass, op offload on


def _ubatch_stub(prefill_by_ubatch: dict[int, float], fits_from: int = 10**9) -> Any:
    """A report stub and an estimate stub: prompt tok/s by -ub; runs at fits_from or more do
    not fit."""
    from moeplan.perf.offload_ubatch import faster_ubatch

    base: Any = SimpleNamespace(
        engine=LLAMACPP, speed=SimpleNamespace(prefill_path="stream"), batch=1, input_len=8192,
        prefill_tok_s=prefill_by_ubatch[512],
    )  # fmt: skip
    tried: list[int] = []

    def estimate(profile: Any) -> Any:
        tried.append(profile.ubatch_tokens)
        return SimpleNamespace(
            engine=profile, fits=profile.ubatch_tokens < fits_from,
            prefill_tok_s=prefill_by_ubatch[profile.ubatch_tokens],
        )  # fmt: skip

    return faster_ubatch(base, estimate), tried


def test_faster_ubatch_takes_the_fastest_fitting_one():
    from moeplan.perf.offload_ubatch import MIN_PROMPT_GAIN, UBATCH_STEPS

    speeds = {512: 100.0, 1024: 180.0, 2048: 300.0, 4096: 450.0, 8192: 520.0}
    best, tried = _ubatch_stub(speeds)
    assert best.engine.ubatch_tokens == 8192 and tried == list(UBATCH_STEPS)
    best, _ = _ubatch_stub(speeds, fits_from=4096)  # the compute buffer outgrows the GPU
    assert best.engine.ubatch_tokens == 2048
    best, _ = _ubatch_stub({512: 100.0, 1024: 105.0, 2048: 99.0, 4096: 90.0, 8192: 80.0})
    assert best is None  # under MIN_PROMPT_GAIN
    assert MIN_PROMPT_GAIN > 1.05


def test_faster_ubatch_only_for_llamacpp_streaming_prompts():
    base = ["latency", "gpt-oss-120b", "--gpu", "rtx-4060-ti-16gb", "--host", "ryzen-9-7950x"]
    placed = [*base, "--n-cpu-moe", "30", "--input", "8192", "--json"]
    doc = json.loads(runner.invoke(app, placed).output)
    f = doc["prefill"]["faster_ubatch"]
    assert f["ubatch_tokens"] > 512 and f["n_cpu_moe"] == 30
    assert f["prefill_tok_s"] >= 1.1 * doc["prefill_tok_s"]
    assert f["gpu_bytes"] <= doc["placement"]["gpu_capacity_bytes"]
    r = runner.invoke(app, [*base, "--n-cpu-moe", "30", "--input", "8192"])
    assert f"llama.cpp -b {f['ubatch_tokens']} -ub {f['ubatch_tokens']}" in r.output
    for extra in (["--ubatch", "1024"], ["--no-op-offload"], ["--engine", "ktransformers"]):
        doc = json.loads(runner.invoke(app, [*placed, *extra]).output)
        assert doc["prefill"]["faster_ubatch"] is None, extra
