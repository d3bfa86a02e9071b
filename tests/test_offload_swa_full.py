"""llama.cpp --swa-full: the sliding-window layers of gpt-oss (or Gemma) keep every cell of the
context instead of the window plus a ubatch (src/llama-kv-cache-iswa.cpp)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.errors import MoeplanError
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.offload_compute_buffer import compute_buffer_bytes
from moeplan.perf.offload_engines import OFFLOAD_ENGINES
from moeplan.perf.offload_flags import with_prompt_flags
from moeplan.perf.offload_placement import engine_kv_cache_bytes

LLAMACPP = OFFLOAD_ENGINES["llamacpp"]
MIB = 1 << 20
CTX = 131072


def test_default_cache_matches_a_published_log() -> None:
    # ik_llama.cpp issue 822 (crat0z, 2025-10-10), mainline llama.cpp b6699, gpt-oss-20b at
    # -c 131072, default -ub 512: "CUDA0 KV buffer size = 3072.00 MiB" (non-SWA) + "18.00 MiB"
    # (SWA: 12 layers x 768 cells, 128 + 512 padded to 256)
    spec = load_model("gpt-oss-20b")
    assert engine_kv_cache_bytes(spec, LLAMACPP, CTX, 1, 512, "bf16") == (3072 + 18) * MIB


def test_swa_full_gives_the_window_layers_every_cell() -> None:
    spec = load_model("gpt-oss-20b")
    full = with_prompt_flags(LLAMACPP, swa_full=True)
    # 24 layers x 131072 cells x (8 KV heads x 64 x 2 tensors x 2 bytes) = 2 x 3072 MiB
    assert engine_kv_cache_bytes(spec, full, CTX, 1, 512, "bf16") == 2 * 3072 * MIB
    scheme = resolve_scheme("q8_0,experts=mxfp4", spec)
    # the window layers' KQ mask spans the same cells: the compute buffer grows too
    assert compute_buffer_bytes(spec, scheme, full, CTX, 1) > compute_buffer_bytes(
        spec, scheme, LLAMACPP, CTX, 1
    )


def test_swa_full_is_a_llamacpp_flag() -> None:
    with pytest.raises(MoeplanError, match=r"--swa-full is a llama\.cpp flag"):
        with_prompt_flags(OFFLOAD_ENGINES["ktransformers"], swa_full=True)


def test_cli_takes_swa_full_with_an_offload_only() -> None:
    runner = CliRunner()
    base = ["latency", "gpt-oss-120b", "--quant", "q8_0,experts=mxfp4", "--gpu", "rtx-5090"]
    base += ["--host", "ryzen-9-9950x", "--n-cpu-moe", "21", "--input", "130048"]
    base += ["--output", "1024", "--json"]
    plain = json.loads(runner.invoke(app, base).output)
    full = json.loads(runner.invoke(app, [*base, "--swa-full"]).output)
    grown = full["placement"]["kv_cache_bytes"] - plain["placement"]["kv_cache_bytes"]
    # 18 sliding-window layers go from 768 cells to 131072
    assert grown == 18 * (131072 - 768) * 2048
    for args in (
        ["size", "gpt-oss-120b", "--swa-full"],
        ["latency", "gpt-oss-120b", "--gpu", "rtx-5090", "--swa-full"],
    ):
        out = runner.invoke(app, args)
        assert out.exit_code == 2 and "--swa-full" in out.output
        assert len(out.output.strip().splitlines()) == 1
    kt = runner.invoke(app, [*base, "--engine", "ktransformers", "--swa-full"])
    assert kt.exit_code == 2 and "--swa-full is a llama.cpp flag" in kt.output
