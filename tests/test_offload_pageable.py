"""Where llama.cpp's host experts sit when a prompt pass streams them to the GPU: the memory-mapped
file (pageable, the default: one core stages every copy) or a pinned buffer (--no-mmap); and a
prompt when RAM is short, paging experts in from disk (perf/offload_link.py, offload_prefill.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import resolve_gpu
from moeplan.hardware.hosts import resolve_host, with_overrides
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.offload import estimate_offload
from moeplan.perf.offload_engines import OFFLOAD_ENGINES
from moeplan.perf.offload_flags import with_prompt_flags
from moeplan.perf.offload_link import (
    ONE_CORE_READ_GBPS,
    expert_stream_bytes_per_s,
    pageable_copy_bytes_per_s,
)
from moeplan.plan.validate_offload import load_offload_records, report_for

runner = CliRunner()
LLAMACPP = OFFLOAD_ENGINES["llamacpp"]
CORE = ONE_CORE_READ_GBPS * 1e9


@pytest.mark.parametrize(
    ("pinned_gbps", "pageable_gbps"),
    [
        (23.9, 12.88),  # RTX 4090, PCIe Gen4 x16, 64 MiB (NVlabs/cuda-oxide PR 976)
        (25.7, 10.0),  # DGX A100, EPYC 7742, 32 MB (CUDA samples bandwidthTest)
    ],
)
def test_pageable_copies_match_the_published_pairs(pinned_gbps: float, pageable_gbps: float):
    # checked, not fitted: one core's published read in series with the pinned DMA
    got = pageable_copy_bytes_per_s(pinned_gbps * 1e9, CORE) / 1e9
    assert got == pytest.approx(pageable_gbps, rel=0.2)
    assert got < pinned_gbps  # a bounce-buffer copy never beats the pinned link


def test_only_a_mapped_file_pays_the_staging_copy():
    link = 25.2e9
    assert expert_stream_bytes_per_s(link, False) == link
    assert expert_stream_bytes_per_s(link, True) == pytest.approx(1 / (1 / link + 1 / CORE))
    measured = 30e9  # one core's read measured on the host (profile --host-memory)
    assert expert_stream_bytes_per_s(link, True, measured) == pytest.approx(
        1 / (1 / link + 1 / measured)
    )
    assert expert_stream_bytes_per_s(link, False, measured) == link
    assert LLAMACPP.maps_weights  # llama.cpp maps the GGUF by default
    assert not OFFLOAD_ENGINES["ktransformers"].maps_weights  # pinned double buffers
    assert not with_prompt_flags(LLAMACPP, mmap=False).maps_weights
    with pytest.raises(MoeplanError, match=r"--no-mmap is a llama\.cpp flag"):
        with_prompt_flags(OFFLOAD_ENGINES["ktransformers"], mmap=False)


def _gptoss(engine: Any, **kw: Any) -> Any:
    spec = load_model("gpt-oss-120b")
    return estimate_offload(
        spec,
        resolve_scheme("native", spec),
        resolve_gpu("rtx-3090"),
        kw.pop("host", resolve_host("ryzen-9-9950x")),
        engine,
        "experts",
        input_len=4096,
        **kw,
    )


def test_no_mmap_speeds_the_streamed_prompt_and_not_the_decode():
    mapped, pinned = _gptoss(LLAMACPP), _gptoss(with_prompt_flags(LLAMACPP, mmap=False))
    assert mapped.speed.prefill_path == pinned.speed.prefill_path == "stream"
    assert pinned.prefill_tok_s > 1.4 * mapped.prefill_tok_s  # the copies dominate the pass
    assert pinned.decode_tok_s == pytest.approx(mapped.decode_tok_s)  # decode copies nothing
    # a prompt computed on the CPU copies nothing either
    cpu = with_prompt_flags(LLAMACPP, op_offload=False)
    no_copy = _gptoss(cpu), _gptoss(with_prompt_flags(cpu, mmap=False))
    assert no_copy[0].prefill_tok_s == pytest.approx(no_copy[1].prefill_tok_s)


def test_a_prompt_pays_the_disk_when_ram_is_short():
    short = with_overrides(resolve_host("ryzen-9-9950x"), ram_gb=34.36)
    slow, fast = (_gptoss(LLAMACPP, host=short, disk_bytes_per_s=r) for r in (0.5e9, 50e9))
    assert not slow.placement.fits_host
    assert slow.prefill_tok_s < fast.prefill_tok_s < _gptoss(LLAMACPP).prefill_tok_s
    assert slow.decode_tok_s < fast.decode_tok_s


def test_cli_no_mmap():
    base = ["latency", "gpt-oss-120b", "--gpu", "rtx-3090", "--host", "ryzen-9-9950x"]
    runs = [
        runner.invoke(app, [*base, "--offload", "experts", "--input", "4096", *extra, "--json"])
        for extra in ([], ["--no-mmap"])
    ]
    assert all(r.exit_code == 0 for r in runs), runs[0].output
    mapped, pinned = (json.loads(r.output)["prefill_tok_s"] for r in runs)
    assert pinned > mapped
    for args in (
        [*base, "--no-mmap"],
        [*base, "--offload", "experts", "--engine", "ktransformers", "--no-mmap"],
    ):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "--offload" in runner.invoke(app, [*base, "--no-mmap"]).output


def test_records_stating_no_mmap_are_read_as_pinned():
    recs = [r for r in load_offload_records() if r["moeplan"].get("mmap") is False]
    assert recs and all(r["moeplan"]["engine"] == "llamacpp" for r in recs)
    assert not report_for(recs[0]["moeplan"]).engine.maps_weights
