"""`moeplan profile --host-memory`: the read probe (profile/host_memory.py) on small buffers, the
host file it writes (hardware/host_record.py) read back through --host FILE, and its bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.errors import MoeplanError
from moeplan.hardware.host_record import measured_host_record
from moeplan.hardware.hosts import resolve_host
from moeplan.hardware.local_host import available_ram_bytes, cpu_isa, local_host
from moeplan.profile.host_memory import measure_read

pytest.importorskip("numpy")  # the probe's reads; the rest of moeplan runs without it

runner = CliRunner()


FLAGS = "fpu avx2 avx512f amx_int8"


def _proc(tmp_path: Path, model: str, flags: str = FLAGS) -> tuple[Path, Path]:
    cpu = tmp_path / "cpuinfo"
    cpu.write_text(
        "\n\n".join(
            f"processor\t: {c}\nmodel name\t: {model}\nphysical id\t: 0\ncpu cores\t: 16\n"
            f"flags\t\t: {flags}"
            for c in range(16)
        )
        + "\n"
    )
    mem = tmp_path / "meminfo"
    mem.write_text("MemTotal:       65536000 kB\nMemAvailable:   60000000 kB\n")
    return cpu, mem


def _reload(tmp_path: Path, record: dict) -> object:
    path = tmp_path / "host-measured.yaml"
    path.write_text(yaml.safe_dump({"host": record}))
    return resolve_host(str(path))


def test_probe_times_each_pass_of_the_whole_buffer() -> None:
    probe = measure_read(threads=2, buffer_bytes=8 * 2**20 + 12, passes=3)
    assert probe.threads == 2 and len(probe.pass_bytes_per_s) == 3
    assert probe.buffer_bytes == 8 * 2**20  # whole 8-byte words, split evenly
    assert all(math.isfinite(r) and r > 0 for r in probe.pass_bytes_per_s)
    assert min(probe.pass_bytes_per_s) <= probe.read_bytes_per_s <= max(probe.pass_bytes_per_s)


@pytest.mark.parametrize(("threads", "size", "passes"), [(0, 2**20, 1), (2, 8, 1), (1, 2**20, 0)])
def test_probe_refuses_an_empty_measurement(threads: int, size: int, passes: int) -> None:
    with pytest.raises(MoeplanError):
        measure_read(threads, size, passes)


def test_catalog_cpu_keeps_its_rated_memory_under_the_measured_read(tmp_path: Path) -> None:
    host = local_host(*_proc(tmp_path, "AMD Ryzen 9 7950X 16-Core Processor"))
    theoretical = host.mem_bw_bytes_per_s or 0
    assert host.id == "ryzen-9-7950x" and theoretical > 0
    read = theoretical * 0.7 + 123456.0
    record = measured_host_record(host, read, "probe")
    assert record["memory_channels"] == host.memory_channels
    back = _reload(tmp_path, record)
    assert back.read_bw_bytes_per_s == pytest.approx(math.floor(read / 1e8) * 1e8)
    assert back.mem_bw_bytes_per_s == pytest.approx(theoretical)
    assert (back.cores, back.sockets) == (16, 1)
    assert back.ram_bytes == pytest.approx(65536000 * 1024, rel=1e-4)
    assert back.isa == host.isa and back.sources[0] == "probe"


def test_a_read_just_under_theoretical_does_not_round_above_it(tmp_path: Path) -> None:
    host = local_host(*_proc(tmp_path, "AMD Ryzen 9 7950X 16-Core Processor"))
    theoretical = host.mem_bw_bytes_per_s or 0
    back = _reload(tmp_path, measured_host_record(host, theoretical - 1e6, "probe"))
    assert back.read_bw_bytes_per_s <= theoretical


def test_a_read_above_the_rated_speed_drops_the_rated_speed(tmp_path: Path) -> None:
    host = local_host(*_proc(tmp_path, "AMD Ryzen 9 7950X 16-Core Processor"))
    read = (host.mem_bw_bytes_per_s or 0) * 1.1  # an EXPO kit above the CPU's rated DDR5-5200
    record = measured_host_record(host, read, "probe")
    assert "memory_mts" not in record and "a faster kit" in record["notes"]
    assert _reload(tmp_path, record).read_bw_bytes_per_s == pytest.approx(read, rel=1e-3)


def test_unknown_cpu_takes_its_extensions_from_the_flags(tmp_path: Path) -> None:
    cpu, mem = _proc(tmp_path, "Some Future CPU 9000")
    host = local_host(cpu, mem)
    assert host.id == "local" and host.isa == ("avx2", "avx512", "amx")
    record = measured_host_record(host, 80e9, "probe")
    assert "memory_type" not in record and "--host-mem-gbps" not in record["notes"]
    back = _reload(tmp_path, record)
    assert back.read_bw_bytes_per_s == pytest.approx(80e9) and back.has_amx
    assert cpu_isa([("Features", "fp asimd sve")]) == ("neon", "sve")
    assert available_ram_bytes(mem) == 60000000 * 1024


def test_cli_writes_a_host_file_that_latency_reads(tmp_path: Path, monkeypatch) -> None:
    import moeplan.cli.host_probe as probe_cli

    monkeypatch.setattr(probe_cli, "MIN_BUFFER_BYTES", 1e6)
    out = tmp_path / "mine.yaml"
    args = ["profile", "--host-memory", "--buffer-gb", "0.004", "--threads", "1"]
    r = runner.invoke(app, [*args, "--repeats", "2", "--output", str(out), "--json"])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["host_file"] == str(out) and len(doc["pass_bytes_per_s"]) == 2
    assert len(doc["core_pass_bytes_per_s"]) == 2
    written = yaml.safe_load(out.read_text())["host"]
    assert 1 <= written["core_read_gbps"] <= written["mem_read_gbps"]
    again = runner.invoke(app, [*args, "--output", str(out)])
    assert again.exit_code == 2 and "--force" in again.stderr  # never replaced without --force
    lat = runner.invoke(
        app,
        ["latency", "qwen3-30b-a3b", "--gpu", "rtx-4090", "--host", str(out), "--offload",
         "experts", "--host-ram-gb", "64", "--host-cores", "8", "--json"],
    )  # fmt: skip
    assert lat.exit_code == 0, lat.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--buffer-gb", "0.1"),
        ("--buffer-gb", "nan"),
        ("--buffer-gb", "1e9"),
        ("--threads", "0"),
        ("--repeats", "0"),
        ("--model", "qwen3-30b-a3b"),
        ("--device", "cpu"),
        ("--compare",),
    ],
)
def test_bad_probe_options_are_one_line(args: tuple[str, ...], tmp_path: Path) -> None:
    out = tmp_path / "h.yaml"
    r = runner.invoke(app, ["profile", "--host-memory", "--output", str(out), *args])
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not out.exists()


def test_probe_options_need_host_memory() -> None:
    r = runner.invoke(app, ["profile", "--threads", "2"])
    assert r.exit_code == 2 and "--host-memory" in r.stderr


def test_the_table_puts_the_read_beside_the_catalog_estimate(tmp_path: Path) -> None:
    from moeplan.cli.views.host_memory import host_probe_table
    from moeplan.profile.host_memory import ReadProbe

    host = local_host(*_proc(tmp_path, "AMD Ryzen 9 7950X 16-Core Processor"))
    theoretical, estimate = host.mem_bw_bytes_per_s or 0, host.read_bw_bytes_per_s or 0
    for read, above in ((estimate, False), (theoretical * 1.1, True)):
        probe = ReadProbe((read * 0.7, read, read), 32, 4_000_000_000)
        core = ReadProbe((20e9, 21e9, 22e9), 1, 4_000_000_000)
        record = measured_host_record(host, read, "x", core.read_bytes_per_s)
        table = host_probe_table(host, probe, core, record, "h.yaml")
        cells = dict(table.rows)
        assert cells["catalog estimate"].startswith(f"{estimate / 1e9:,.1f} GB/s of ")
        assert f"measured is {read / estimate:.2f}x the estimate" in cells["catalog estimate"]
        assert any("a faster kit" in n for n in table.notes) is above
        assert any("passes spread 30%" in n for n in table.notes)  # (read - 0.7 read) / read
        assert cells["one core's read"].startswith("21.0 GB/s (one thread alone")
        assert record["core_read_gbps"] == 21.0


def test_one_cores_read_above_the_whole_machines_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.yaml"
    path.write_text("cores: 8\nram_gb: 64\nmem_read_gbps: 50\ncore_read_gbps: 60\n")
    with pytest.raises(MoeplanError, match="one core's read 60 GB/s exceeds the whole machine's"):
        resolve_host(str(path))
    r = runner.invoke(app, ["size", "qwen3-30b-a3b", "--gpu", "rtx-4090", "--host", str(path)])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
