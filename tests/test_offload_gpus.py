"""The consumer and workstation cards people pair with expert offload (moeplan/data/gpus.yaml,
hand-written section): memory the runtime sees, host link, dense tensor rates by hand."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.hardware.gpus import gpu_catalog, resolve_gpu
from moeplan.hardware.hosts import pcie_bytes_per_s
from moeplan.perf.offload_link import host_link_bytes_per_s

MIB = 1 << 20
OFFLOAD_CARDS = (
    "rtx-3060", "rtx-3080", "rtx-3080-12gb", "rtx-3080-ti", "rtx-4060-ti-16gb", "rtx-4070",
    "rtx-4070-ti-super", "rtx-5060-ti-16gb", "rtx-5070", "rtx-5070-ti", "rtx-5080",
    "rtx-4000-ada", "rtx-5000-ada", "rx-7900-xtx", "rx-9070-xt", "arc-b580", "rtx-4060-laptop",
)  # fmt: skip


def test_offload_cards_are_catalogued_with_link_and_sources():
    cat = gpu_catalog()
    for gid in OFFLOAD_CARDS:
        gpu = cat[gid]
        assert gpu.sources and gpu.pcie_gen in (4, 5) and gpu.pcie_lanes in (8, 16), gid
        assert gpu.memory_bytes <= gpu.memory_label_gb * 2**30, gid
    # x8 cards: half the host link of an x16 card of their generation
    assert host_link_bytes_per_s(resolve_gpu("rtx-4060-ti-16gb"))[0] == pytest.approx(
        pcie_bytes_per_s(4, 8)
    )
    assert host_link_bytes_per_s(resolve_gpu("rtx-5060-ti-16gb"))[0] == pytest.approx(
        pcie_bytes_per_s(5, 8)
    )
    assert host_link_bytes_per_s(resolve_gpu("arc-b580"))[1] == "PCIe Gen4 x8"
    assert host_link_bytes_per_s(resolve_gpu("rtx-5080"))[0] == pytest.approx(64e9 * 128 / 130)


def test_geforce_rates_by_hand():
    """GeForce BF16 with FP32 accumulate: 128 FLOP per tensor core per clock (llm.c: RTX 3090 Ti
    80 TFLOPS at 336 TCs x 1860 MHz); INT8 dense 4 x that; workstation Ada at full rate."""
    tc_rate = 80e12 / (336 * 1860e6)
    assert tc_rate == pytest.approx(128, rel=1e-3)
    rtx3060 = resolve_gpu("3060")
    assert rtx3060.bf16_flops == pytest.approx(112 * 128 * 1777e6, rel=2e-3)  # 25.5 TFLOPS
    assert rtx3060.int8_ops == pytest.approx(101.9e12)  # NVIDIA's GA106 figure
    ti = resolve_gpu("4060ti-16gb")
    ada = 136 * 128 * 2535e6  # 44.1 TFLOPS
    assert ti.bf16_flops == pytest.approx(ada, rel=2e-3)
    assert ti.fp8_flops == pytest.approx(2 * ada, rel=2e-3)
    assert ti.int8_ops == pytest.approx(4 * ada, rel=2e-3)
    assert ti.sm_count == 34 and ti.memory_bytes == 16379 * MIB
    pro = resolve_gpu("rtx-4000-ada")
    assert pro.int8_ops == pytest.approx(2 * pro.bf16_flops)
    assert resolve_gpu("rtx-5070").sm_count == 48
    laptop = resolve_gpu("4060-laptop")  # AD107 at its 115 W listing: 96 TCs x 1890 MHz
    assert laptop.bf16_flops == pytest.approx(96 * 128 * 1890e6, rel=2e-3)  # 23.2 TFLOPS
    assert laptop.memory_bytes == 8187 * MIB and laptop.pcie_lanes == 8


def test_cli_offload_on_an_x8_card():
    r = runner.invoke(
        app,
        ["latency", "gpt-oss-120b", "--gpu", "rtx-5060-ti-16gb", "--host", "ryzen-9-9950x3d",
         "--offload", "auto", "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["fits"] and out["placement"]["n_cpu_moe"] > 0


runner = CliRunner()
