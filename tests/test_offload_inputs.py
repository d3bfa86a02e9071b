"""What the offload commands refuse and what they tell a user beside the numbers: host files and
options out of range, contradictory flags, budgets that say less than the CLI would accept, and
the notes that explain a placement (found by a black-box review of the offload commands)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.errors import MoeplanError
from moeplan.hardware.host_notes import rated_speed_note
from moeplan.hardware.hosts import load_host_file, resolve_host, with_overrides

runner = CliRunner()
BASE = ["latency", "gpt-oss-120b", "--gpu", "rtx-4090", "--host", "ryzen-9-7950x"]


def _one_line_error(args: list[str], needle: str) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert needle in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--offload", "auto", "--host-mem-gbps", "1e-300"], "below 1 (a unit slip?)"),
        (["--offload", "auto", "--host-mem-measured-gbps", "0.01"], "below 1"),
        (["--offload", "auto", "--host-ram-gb", "0.001"], "below 0.5"),
        (["--offload", "auto", "--pcie-lanes", "0"], "PCIe lanes"),
        (["--offload", "auto", "--pcie-gen", "0"], "PCIe generation"),
        (["--offload", "none", "--n-cpu-moe", "5"], "--offload none keeps every routed expert"),
        (["--offload", "auto", "--kv-quant", "fp8"], "llama.cpp has no such cache type"),
        (["--offload", "auto", "--host-sockets", "2"], "--host-sockets 2"),
    ],
)
def test_cli_refuses(extra: list[str], needle: str):
    _one_line_error([*BASE, *extra], needle)


def test_host_files_refuse_typos(tmp_path: Path):
    good = "cores: 16\nmemory_channels: 2\nmemory_mts: 6000\nram_gb: 96\n"
    for text, needle in (
        (good + "ram_gbs: 96\n", "unknown field 'ram_gbs'"),
        (good + "isa: [avx9000]\n", "isa 'avx9000' unknown"),
        (good.replace("6000", "1e12"), "must be a positive number, got '1e12'"),
        (good.replace("6000", "10"), "below 100"),
    ):
        f = tmp_path / "h.yaml"
        f.write_text(text)
        with pytest.raises(MoeplanError, match=needle.replace("(", r"\(")):
            load_host_file(f)
    f = tmp_path / "h.yaml"
    f.write_text(good + "isa: [avx2, avx512]\n")
    assert load_host_file(f).isa == ("avx2", "avx512")
    (tmp_path / "adir.yaml").mkdir()
    with pytest.raises(MoeplanError, match="a directory, not a host file"):
        resolve_host(str(tmp_path / "adir.yaml"))


def test_catalog_ram_is_flagged_until_given():
    host = resolve_host("ryzen-9-7950x")
    assert host.ram_assumed
    assert not with_overrides(host, ram_gb=64).ram_assumed
    notes = json.loads(runner.invoke(app, [*BASE, "--offload", "auto", "--json"]).output)
    assert any("catalog's reference size" in n for n in notes["notes"])
    given = runner.invoke(app, [*BASE, "--offload", "auto", "--host-ram-gb", "64", "--json"])
    assert not any("reference size" in n for n in json.loads(given.output)["notes"])


def test_rated_memory_speed_is_flagged_until_given(tmp_path: Path):
    """A catalog host's bandwidth is its CPU's rated speed on every channel: the note says so,
    with the figure, until --host-mem-gbps, a measured read or a host file gives the machine's."""
    desktop = rated_speed_note(resolve_host("ryzen-9-7950x"))
    assert desktop is not None
    assert "2 x DDR5-5200 = 83.2 GB/s" in desktop and "XMP/EXPO" in desktop
    server = rated_speed_note(with_overrides(resolve_host("genoa"), sockets=2))
    assert server is not None
    assert "2 sockets x 12 x DDR5-4800 = 921.6 GB/s" in server and "XMP" not in server
    ryzen = resolve_host("ryzen-9-7950x")
    assert rated_speed_note(with_overrides(ryzen, mem_gbps=96)) is None
    assert rated_speed_note(with_overrides(ryzen, mem_measured_gbps=70)) is None
    assert rated_speed_note(resolve_host("grace")) is None  # the vendor's figure, fixed memory
    f = tmp_path / "mine.yaml"
    f.write_text("cores: 16\nmemory_channels: 2\nmemory_mts: 6000\nram_gb: 96\n")
    assert rated_speed_note(resolve_host(str(f))) is None
    shown = json.loads(runner.invoke(app, [*BASE, "--offload", "auto", "--json"]).output)
    assert any(n.startswith("host memory: 2 x DDR5-5200") for n in shown["notes"])
    given = runner.invoke(app, [*BASE, "--offload", "auto", "--host-mem-gbps", "96", "--json"])
    assert not any(n.startswith("host memory:") for n in json.loads(given.output)["notes"])


def test_notes_explain_the_placement():
    def notes(*extra: str) -> list[str]:
        r = runner.invoke(app, [*BASE, "--host-ram-gb", "96", *extra, "--json"])
        assert r.exit_code == 0, r.output
        return json.loads(r.output)["notes"]

    assert any("above the model's 36 layers" in n for n in notes("--n-cpu-moe", "999"))
    assert any("--fit's margin" in n for n in notes("--offload", "auto"))
    both = notes("--offload", "auto", "--host-mem-gbps", "96", "--host-mem-measured-gbps", "60")
    assert any("the measured 60.0 GB/s, not the theoretical 96.0" in n for n in both)
    short = notes("--n-cpu-moe", "10")  # the GPU part does not fit at K = 10
    hint = next(n for n in short if n.startswith("the GPU part fits from --n-cpu-moe"))
    k = int(hint.split("--n-cpu-moe ")[1].split()[0])
    auto = runner.invoke(app, [*BASE, "--host-ram-gb", "96", "--offload", "auto", "--json"])
    assert json.loads(auto.output)["placement"]["n_cpu_moe"] == k


def test_an_empty_match_says_so():
    r = runner.invoke(app, ["list", "hosts", "--match", "zzz"])
    assert r.exit_code == 0 and "no host matches 'zzz'" in r.output


def test_plan_says_which_engine_priced_the_gpu_only_candidates():
    base = ["plan", "gpt-oss-120b", "--gpu", "rtx-4090", "--engine", "ktransformers"]
    _one_line_error(base, "is an offload engine: add --host")
    r = runner.invoke(app, [*base, "--host", "ryzen-9-7950x"])
    assert "GPU-only candidates priced with llamacpp" in r.output, r.output


def test_table_labels():
    r = runner.invoke(app, [*BASE, "--offload", "auto"])
    assert "RAM: routed experts + input embedding" in r.output  # llama.cpp keeps it in RAM
    kt = runner.invoke(
        app,
        ["latency", "deepseek-r1", "-q", "q4_k_m", "--gpu", "rtx-4090", "--host",
         "xeon-gold-6454s", "--host-sockets", "2", "--engine", "ktransformers", "--offload",
         "experts"],
    )  # fmt: skip
    assert kt.exit_code == 0, kt.output
    assert "--n-cpu-moe" not in kt.output.splitlines()[1]  # not a ktransformers flag
    assert "further socket(s)" in kt.output  # the reach note counts the second socket


def _check(tmp_path: Path, fields: str) -> object:
    f = tmp_path / "b.yaml"
    f.write_text(
        "budgets:\n  - name: desk\n    model: gpt-oss-120b\n    gpu: rtx-5090\n"
        f"    context: 8192\n{fields}    limits:\n      min_decode_tokens_per_s: 1\n"
    )
    return runner.invoke(app, ["check", str(f)])


def test_budgets_say_what_the_cli_would(tmp_path: Path):
    host = "    host: ryzen-9-9950x\n"
    ok = _check(tmp_path, host + "    offload: auto\n    gpu_reserved_gb: 0\n")
    assert ok.exit_code == 0, ok.output  # 0 GB held by others, as --gpu-reserved-gb 0
    ok = _check(tmp_path, host + "    n_cpu_moe: 0\n")
    assert ok.exit_code in (0, 1), ok.output  # K = 0 is a placement (it may not fit)
    for fields, needle in (
        (host, "field 'offload'"),  # a host but no placement
        (host + "    offload: none\n    n_cpu_moe: 20\n", "field 'offload'"),
        (host + "    offload: auto\n    engine: vllm\n", "field 'engine'"),
    ):
        r = _check(tmp_path, fields)
        assert r.exit_code == 2 and needle in r.output, (fields, r.output)


def test_llamacpp_offload_refuses_formats_gguf_lacks():
    """llama.cpp loads GGUF files: an FP8 or GPTQ-style int4 scheme is refused in one line,
    ktransformers takes it, and plan leaves such schemes out of llama.cpp's candidates with a
    note (and `left_out` in JSON)."""
    fp8 = ["latency", "deepseek-v3", "--quant", "native", "--gpu", "rtx-4090"]
    fp8 += ["--host", "epyc-9654", "--offload", "auto"]
    _one_line_error(fp8, "'native' has fp8-block weights, which GGUF")
    _one_line_error([*BASE, "--quant", "int4", "--offload", "auto"], "--engine ktransformers")
    assert runner.invoke(app, [*fp8, "--engine", "ktransformers"]).exit_code == 0
    assert runner.invoke(app, [*BASE, "--quant", "mxfp4", "--offload", "auto"]).exit_code == 0
    plan = ["plan", "gpt-oss-120b", "--gpu", "rtx-4090", "--host", "ryzen-9-9950x"]
    r = runner.invoke(app, [*plan, "--quant", "fp8,q4_k_m,int4", "--json"])
    offload = json.loads(r.output)["offload"]
    assert offload["left_out"] == ["fp8", "int4"]
    quants = {c["quant"] for c in offload["accepted"] + offload["rejected"]}
    assert quants == {"q4_k_m"}, quants
    table = runner.invoke(app, [*plan, "--quant", "fp8,q4_k_m"]).output
    assert "left out fp8: GGUF" in table
    none_left = runner.invoke(app, [*plan, "--quant", "fp8"], env={"COLUMNS": "200"}).output
    assert "offload candidates (one GPU + host RAM, llamacpp," in none_left  # none to take it from
    kt = runner.invoke(app, [*plan, "--quant", "fp8,q4_k_m", "--engine", "ktransformers", "--json"])
    assert "left_out" not in json.loads(kt.output)["offload"]
