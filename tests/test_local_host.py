"""`--host local` (hardware/local_host.py) on made-up /proc files."""

from __future__ import annotations

from pathlib import Path

import pytest

from moeplan.errors import MoeplanError
from moeplan.hardware.hosts import resolve_host
from moeplan.hardware.local_host import local_host


def _cpuinfo(tmp_path: Path, model: str | None, sockets: int, cores: int) -> Path:
    blocks = []
    for s in range(sockets):
        for c in range(cores):
            lines = [f"processor\t: {s * cores + c}", "vendor_id\t: AuthenticAMD"]
            if model is not None:
                lines.append(f"model name\t: {model}")
            lines += [f"physical id\t: {s}", f"cpu cores\t: {cores}", "flags\t\t: fpu avx2"]
            blocks.append("\n".join(lines))
    path = tmp_path / "cpuinfo"
    path.write_text("\n\n".join(blocks) + "\n")
    return path


def _meminfo(tmp_path: Path, kib: str = "792723456 kB") -> Path:
    path = tmp_path / "meminfo"
    path.write_text(f"MemTotal:       {kib}\nMemFree:        1000 kB\n")
    return path


def test_catalog_cpu_keeps_its_entry_with_the_machines_sockets_and_ram(tmp_path: Path) -> None:
    cpu = _cpuinfo(tmp_path, "AMD EPYC 9355 32-Core Processor", sockets=2, cores=32)
    host = local_host(cpu, _meminfo(tmp_path))
    catalog = resolve_host("epyc-9355")
    assert host.id == "epyc-9355" and host.sockets == 2 and host.cores == 64
    assert host.ram_bytes == 792723456 * 1024
    assert catalog.ram_assumed and not host.ram_assumed  # MemTotal: not "pass --host-ram-gb"
    assert host.mem_bw_bytes_per_s == pytest.approx(2 * (catalog.mem_bw_bytes_per_s or 0))
    assert "epyc-9355" in host.detected and "2 socket(s)" in host.detected


def test_a_vm_slice_keeps_the_cores_it_sees(tmp_path: Path) -> None:
    cpu = _cpuinfo(tmp_path, "Intel(R) Core(TM) i9-14900K", sockets=1, cores=8)
    host = local_host(cpu, _meminfo(tmp_path))
    assert (host.id, host.cores, host.performance_cores) == ("core-i9-14900k", 8, None)
    full = local_host(_cpuinfo(tmp_path, "Intel(R) Core(TM) i9-14900K", 1, 24), _meminfo(tmp_path))
    assert (full.cores, full.performance_cores) == (24, 8)  # the catalog's P/E split kept


def test_unknown_cpu_is_its_cores_and_ram_without_a_bandwidth(tmp_path: Path) -> None:
    cpu = _cpuinfo(tmp_path, "AMD EPYC", sockets=1, cores=2)
    host = local_host(cpu, _meminfo(tmp_path, "24686592 kB"))
    assert (host.id, host.cores, host.ram_bytes) == ("local", 2, 24686592 * 1024)
    assert host.mem_bw_bytes_per_s is None and "--host-mem-gbps" in host.detected


@pytest.mark.parametrize(
    ("model", "meminfo", "message"),
    [
        (None, "1000 kB", "no 'model name' line"),
        ("AMD EPYC 9355 32-Core Processor", "lots", "not a positive whole number"),
    ],
)
def test_unreadable_proc_files_are_one_clear_error(
    tmp_path: Path, model: str | None, meminfo: str, message: str
) -> None:
    cpu = _cpuinfo(tmp_path, model, sockets=1, cores=4)
    with pytest.raises(MoeplanError, match=message):
        local_host(cpu, _meminfo(tmp_path, meminfo))
    with pytest.raises(MoeplanError, match="Linux only"):
        local_host(tmp_path / "absent", _meminfo(tmp_path))


@pytest.mark.skipif(
    not Path("/proc/cpuinfo").is_file() or "model name" not in Path("/proc/cpuinfo").read_text(),
    reason="needs a Linux x86 /proc/cpuinfo",
)
def test_cli_host_local_on_this_machine() -> None:
    import json

    from typer.testing import CliRunner

    from moeplan.cli import app

    args = ["size", "gpt-oss-120b", "--gpu", "rtx-4090", "--offload", "auto", "--host", "local"]
    r = CliRunner().invoke(app, [*args, "--host-mem-gbps", "100", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert any("host detected" in n for n in doc["notes"]), doc["notes"]
