"""--gpu FILE: a user's GPU (hardware/gpu_file.py), alone or on a catalog card's figures, taken
wherever a GPU id goes; every bad file answers one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import resolve_gpu
from moeplan.hardware.hosts import resolve_host
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.offload import estimate_offload, host_link_bytes_per_s
from moeplan.perf.offload_engines import OFFLOAD_ENGINES

runner = CliRunner()


def _write(tmp_path: Path, body: str, name: str = "card.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_base_card_with_more_memory(tmp_path: Path):
    path = _write(tmp_path, "base: rtx-4090\nmemory_mib: 49140\n", "rtx4090-48g.yaml")
    gpu = resolve_gpu(str(path))
    stock = resolve_gpu("rtx-4090")
    assert gpu.memory_bytes == 49140 * (1 << 20)
    assert gpu.id == "rtx4090-48g"
    # everything else is the catalog card's
    assert gpu.mem_bw_bytes_per_s == stock.mem_bw_bytes_per_s
    assert gpu.bf16_flops == stock.bf16_flops
    assert gpu.vendor == stock.vendor
    assert str(path) in gpu.memory_bytes_source


def test_standalone_card_under_gpu_key_defaults_to_gen4_x16(tmp_path: Path):
    path = _write(
        tmp_path,
        "gpu:\n  name: GeForce RTX 3070\n  memory_mib: 7982\n  mem_bw_gbps: 448\n"
        "  sources: [a spec sheet]\n",
    )
    gpu = resolve_gpu(str(path))
    assert gpu.memory_bytes == 7982 * (1 << 20)
    assert gpu.mem_bw_bytes_per_s == 448e9
    assert gpu.bf16_flops is None
    assert (gpu.pcie_gen, gpu.pcie_lanes) == (4, 16)
    assert gpu.sources == ("a spec sheet",)
    link, desc = host_link_bytes_per_s(gpu)
    assert desc == "PCIe Gen4 x16" and link == pytest.approx(31.5e9, rel=0.01)


def test_memory_decides_the_offload_placement(tmp_path: Path):
    """More memory, same card: fewer layers' experts in RAM and a faster decode."""
    spec = load_model("gpt-oss-120b")
    scheme = resolve_scheme("native", spec)
    host = resolve_host("ryzen-9-9950x")
    engine = OFFLOAD_ENGINES["llamacpp"]
    big = resolve_gpu(str(_write(tmp_path, "base: rtx-4090\nmemory_gib: 48\n")))
    stock = estimate_offload(spec, scheme, resolve_gpu("rtx-4090"), host, engine, "auto")
    more = estimate_offload(spec, scheme, big, host, engine, "auto")
    assert more.placement.n_cpu_moe < stock.placement.n_cpu_moe
    assert more.fits and stock.fits
    assert more.decode_tok_s is not None and stock.decode_tok_s is not None
    assert more.decode_tok_s > stock.decode_tok_s


def test_cli_size_takes_a_gpu_file(tmp_path: Path):
    path = _write(tmp_path, "base: rtx-4090\nmemory_gb: 51.5\nname: modded 4090\n")
    cmd = ["size", "gpt-oss-120b", "--gpu", str(path), "--host", "ryzen-9-9950x"]
    r = runner.invoke(app, [*cmd, "--offload", "auto", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["fits"] is True
    assert out["placement"]["gpu_bytes"] <= 51.5e9


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("memory_mib: 8192\n", "needs memory_mib"),
        ("mem_bw_gbps: 448\n", "needs memory_mib"),
        ("base: rtx-4090\nmemory_mib: 8192\nmemory_gb: 8\n", "not several"),
        ("base: rtx-4090\nvram: 48\n", "unknown field(s) vram"),
        ("base: rtx-4090\nmemory_gib: -48\n", "must be positive"),
        ("base: rtx-4090\nmemory_gib: 480000\n", "above"),
        ("base: rtx-4090\nmem_bw_gbps: .nan\n", "nan"),
        ("base: rtx-4090\nmem_bw_gbps: fast\n", "must be a number"),
        ("base: rtx-4090\nvendor: Nvidiaa\n", "vendor"),
        ("base: rtx-4090\npcie_gen: 9\n", "pcie_gen"),
        ("base: rtx-4090\npcie_lanes: 12\n", "pcie_lanes"),
        ("base: rtx-4090\nsources: a sheet\n", "list of text"),
        ("base: rtx-9999\n", "rtx-9999"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_bad_gpu_files_are_one_line_exit_2(tmp_path: Path, body: str, message: str):
    path = _write(tmp_path, body)
    with pytest.raises(MoeplanError) as err:
        resolve_gpu(str(path))
    assert message.lower() in str(err.value).lower()
    r = runner.invoke(app, ["size", "gpt-oss-20b", "--gpu", str(path)])
    assert r.exit_code == 2, r.output
    assert len(r.output.strip().splitlines()) == 1
    assert "Traceback" not in r.output


def test_missing_gpu_file_is_one_line(tmp_path: Path):
    r = runner.invoke(app, ["latency", "gpt-oss-20b", "--gpu", str(tmp_path / "none.yaml")])
    assert r.exit_code == 2
    assert "no such GPU file" in r.output


def test_budget_reads_a_gpu_file_beside_it(tmp_path: Path):
    from moeplan.plan.check import check_files

    (tmp_path / "cards").mkdir()
    _write(tmp_path / "cards", "base: rtx-4090\nmemory_gib: 48\n", "big.yaml")
    budget = tmp_path / "b.yaml"
    body = (
        "budgets:\n  - name: oss\n    model: gpt-oss-120b\n    gpu: {gpu}\n"
        "    host: ryzen-9-9950x\n    offload: auto\n    limits:\n      max_gpus: 1\n"
        "      min_decode_tokens_per_s: {floor}\n"
    )
    stock = check_files([str(_write(tmp_path, body.format(gpu="rtx-4090", floor=1), "s.yaml"))])
    budget.write_text(body.format(gpu="cards/big.yaml", floor=1), encoding="utf-8")
    big = check_files([str(budget)])
    assert big.passed and stock.passed
    speed = {r.limit: r.value for r in big.results}["min_decode_tokens_per_s"]
    stock_speed = {r.limit: r.value for r in stock.results}["min_decode_tokens_per_s"]
    assert speed > stock_speed  # fewer layers' experts in RAM on the 48 GB card
    budget.write_text(body.format(gpu="cards/none.yaml", floor=1), encoding="utf-8")
    with pytest.raises(MoeplanError, match="field 'gpu': no such file"):
        check_files([str(budget)])


def test_offload_record_gpu_memory_override():
    from moeplan.plan.validate_offload import record_gpu

    gpu = record_gpu({"gpu": "rtx-4090", "gpu_memory_gib": 48})
    assert gpu.memory_bytes == 48 * (1 << 30)
    assert gpu.mem_bw_bytes_per_s == resolve_gpu("rtx-4090").mem_bw_bytes_per_s
    assert record_gpu({"gpu": "rtx-4090"}) == resolve_gpu("rtx-4090")
    with pytest.raises(MoeplanError, match="gpu_memory_gib"):
        record_gpu({"gpu": "rtx-4090", "gpu_memory_gib": "48GB"})
