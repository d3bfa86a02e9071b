"""--ctx-size / record field ctx_size: llama.cpp allocates its cache for -c cells at startup,
whatever the request uses, so the GPU's KV cache and buffers (the fit, and --fit's K) are sized
for it while the decode speed stays priced at the request's input + output."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import resolve_gpu
from moeplan.hardware.hosts import resolve_host
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.offload import estimate_offload
from moeplan.perf.offload_engines import OFFLOAD_ENGINES

SPEC = load_model("qwen3.5-35b-a3b")
SCHEME = resolve_scheme("q4_k_m", SPEC)
GPU = resolve_gpu("rtx-5080")
HOST = resolve_host("ryzen-9-9950x")
LLAMACPP = OFFLOAD_ENGINES["llamacpp"]


def estimate(**kw):
    return estimate_offload(
        SPEC, SCHEME, GPU, HOST, LLAMACPP, input_len=64, output_len=512, kv_quant="q8_0", **kw
    )


def test_the_cache_is_sized_for_ctx_size_and_the_speed_for_the_request() -> None:
    short = estimate(mode="experts", n_cpu_moe=24)
    long = estimate(mode="experts", n_cpu_moe=24, ctx_size=65536)
    # 10 full-attention layers x 2 KV heads x 256 x (K and V) at q8_0 (34 bytes a 32-block):
    # 10 x 2 x 256 x 2 x 34 / 32 = 10,880 bytes a cell; 65536 cells
    assert long.placement.kv_cache_bytes == 10 * 2 * 256 * 2 * 34 // 32 * 65536
    assert long.placement.kv_cache_bytes > 100 * short.placement.kv_cache_bytes
    assert long.placement.gpu_bytes > short.placement.gpu_bytes
    assert long.decode_tok_s == pytest.approx(short.decode_tok_s)
    assert any("65,536 tokens a sequence (--ctx-size)" in n for n in long.notes)
    assert not any("--ctx-size" in n for n in short.notes)


def test_auto_moves_more_experts_to_ram_for_a_longer_allocated_context() -> None:
    short = estimate(mode="auto")
    long = estimate(mode="auto", ctx_size=262144)
    assert long.placement.n_cpu_moe > short.placement.n_cpu_moe
    assert long.placement.fits_gpu


@pytest.mark.parametrize("bad", [100, 575, 0, -1, True, 1.5])
def test_a_ctx_size_below_the_request_or_not_a_count_is_refused(bad) -> None:
    with pytest.raises(MoeplanError, match="--ctx-size"):
        estimate(mode="experts", n_cpu_moe=24, ctx_size=bad)


def test_the_cli_takes_ctx_size_for_an_offload_run_only() -> None:
    runner = CliRunner()
    base = ["latency", "qwen3.5-35b-a3b", "--quant", "q4_k_m", "--gpu", "rtx-5080"]
    offload = ["--host", "ryzen-9-9950x", "--n-cpu-moe", "24", "--input", "64", "--output", "512"]
    r = runner.invoke(app, [*base, *offload, "--ctx-size", "65536", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["placement"]["kv_cache_bytes"] > 100 * 2**20
    r = runner.invoke(app, [*base, "--ctx-size", "65536"])
    assert r.exit_code == 2 and "--ctx-size" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, [*base, *offload, "--ctx-size", "100"])
    assert r.exit_code == 2 and "at least the request's 576 tokens" in r.output
