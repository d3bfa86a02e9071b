"""How the hardware catalogs read to a user: GPU names as the vendor writes them, the host link
`list gpus` prices offload with, vendor memory speeds of workstation and server hosts, a host
file's own name in the offload header, and the RAM a plan row needs (OS reserve included)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.cli.views.catalog import gpus_table
from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import gpu_catalog, resolve_gpu
from moeplan.hardware.hosts import host_catalog, resolve_host
from moeplan.perf.offload_link import host_link_bytes_per_s

runner = CliRunner()


def test_gpu_names_are_written_with_spaces_and_every_spelling_still_resolves():
    assert resolve_gpu("rtx-3090-ti").name == "RTX 3090 Ti"
    for spelling in ("RTX 3090 Ti", "NVIDIA GeForce RTX 3090 Ti", "rtx_3090_ti"):
        assert resolve_gpu(spelling).id == "rtx-3090-ti"
    assert resolve_gpu("H100-SXM5-80GB").id == "h100-sxm"  # the reference's old spelling
    assert not any("-" in g.name for g in gpu_catalog().values())


def test_catalog_sources_are_texts():
    """A YAML item such as `- url (5900X: two CCDs)` loads as a mapping, not a text."""
    for entry in (*gpu_catalog().values(), *host_catalog().values()):
        assert all(isinstance(s, str) for s in entry.sources), entry.id


def test_a100_sits_on_a_gen4_host_link():
    rate, label = host_link_bytes_per_s(resolve_gpu("a100-40gb"))
    assert label == "PCIe Gen4 x16"
    assert rate == pytest.approx(host_link_bytes_per_s(resolve_gpu("rtx-4090"), (4, 16))[0])


def test_list_gpus_shows_the_host_link_offload_uses():
    rows = {r[0]: r for r in gpus_table(list(gpu_catalog().values())).rows}
    assert rows["rtx-5090"][-1].startswith("PCIe Gen5 x16")
    assert rows["rx-6900-xt"][-2] == "none" and rows["rx-6900-xt"][-1].startswith("PCIe Gen4")
    assert rows["m2-ultra"][-1] == "-"  # unified memory: no host link
    assert rows["h100-sxm"][-1].endswith("(assumed)")


@pytest.mark.parametrize(
    ("host", "mts"),
    [
        ("threadripper-7980x", 5200),
        ("threadripper-pro-7995wx", 5200),
        ("xeon-w9-3595x", 4800),
        ("xeon-gold-6430", 4400),  # not the 4800 of other Sapphire Rapids parts
        ("xeon-gold-6330", 2933),
        ("xeon-e5-2630-v4", 2133),
    ],
)
def test_workstation_and_server_hosts_carry_the_vendor_memory_speed(host, mts):
    h = resolve_host(host)
    h.require_complete()
    assert h.memory_mts == mts
    assert h.mem_bw_bytes_per_s == pytest.approx(h.memory_channels * mts * 1e6 * 8)


def test_a_host_file_with_a_mapping_in_its_sources_is_refused(tmp_path):
    f = tmp_path / "box.yaml"
    f.write_text("mem_bw_gbps: 80\nram_gb: 64\ncores: 8\nsources:\n- my box (note: fast)\n")
    with pytest.raises(MoeplanError, match="'sources' must be a list of texts"):
        resolve_host(str(f))


def test_the_offload_header_names_a_host_file_by_its_own_name(tmp_path):
    f = tmp_path / "box.yaml"
    f.write_text("name: lab box\nmem_bw_gbps: 80\nram_gb: 128\ncores: 16\n")
    args = ["latency", "gpt-oss-120b", "--gpu", "rtx-4090", "--host", str(f), "--offload", "auto"]
    r = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert '+ box "lab box" (1 socket(s), 16 cores)' in r.output.splitlines()[0]


def test_plan_offload_rows_count_the_os_reserve_in_ram():
    args = ["plan", "gpt-oss-120b", "--gpu", "rtx-3090", "--host", "ryzen-9-9950x"]
    r = runner.invoke(app, [*args, "--host-ram-gb", "96"], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert "RAM (with OS reserve)" in r.output
    lat = ["latency", "gpt-oss-120b", "--gpu", "rtx-3090", "--host", "ryzen-9-9950x"]
    one = runner.invoke(
        app,
        [*lat, "--host-ram-gb", "96", "--quant", "q4_k_m", "--offload", "auto"],
        env={"COLUMNS": "250"},
    )
    needed = next(ln for ln in one.output.splitlines() if "RAM: needed / installed" in ln)
    gb = needed.split("│")[2].split("/")[0].strip()  # "43.24 GB (40.27 GiB)"
    row = next(ln for ln in r.output.splitlines() if "ryzen-9-9950x" in ln and "q4_k_m" in ln)
    assert gb in row
