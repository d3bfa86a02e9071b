"""Catalog names as users and tools spell them (moeplan/names.py)."""

import pytest

from moeplan.errors import UnknownNameError
from moeplan.hardware.gpus import resolve_gpu
from moeplan.hardware.hosts import resolve_host
from moeplan.names import compact_key, match_name


@pytest.mark.parametrize(
    ("typed", "host_id"),
    [
        ("AMD Ryzen 9 7950X 16-Core Processor", "ryzen-9-7950x"),  # lscpu model name
        ("Intel(R) Core(TM) i9-14900K", "core-i9-14900k"),
        ("i9-14900K", "core-i9-14900k"),
        ("AMD EPYC 9355 32-Core Processor", "epyc-9355"),
        ("Intel(R) Xeon(R) Gold 6454S", "xeon-gold-6454s"),
        ("AMD Ryzen Threadripper PRO 7975WX 32-Cores", "threadripper-pro-7975wx"),
        ("Core Ultra 9 285K", "core-ultra-9-285k"),
        ("ryzen_7_5800x3d", "ryzen-7-5800x3d"),
    ],
)
def test_host_brand_strings_resolve(typed: str, host_id: str) -> None:
    assert resolve_host(typed).id == host_id


@pytest.mark.parametrize(
    ("typed", "gpu_id"),
    [
        ("NVIDIA GeForce RTX 4090", "rtx-4090"),  # nvidia-smi --query-gpu=name
        ("rtx4090", "rtx-4090"),
        ("NVIDIA GeForce RTX 3090 Ti", "rtx-3090-ti"),
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("AMD Radeon RX 7900 XTX", "rx-7900-xtx"),
        ("Intel Arc B580", "arc-b580"),
    ],
)
def test_gpu_brand_strings_resolve(typed: str, gpu_id: str) -> None:
    assert resolve_gpu(typed).id == gpu_id


def test_near_names_stay_apart() -> None:
    """A suffix that names another part is kept: no match falls back to the wrong one."""
    assert resolve_gpu("RTX 4090 D").id == "rtx-4090d"
    assert resolve_gpu("RTX 3090").id == "rtx-3090"
    assert resolve_host("Ryzen 9 7950X3D").id == "ryzen-9-7950x3d"
    with pytest.raises(UnknownNameError):
        resolve_host("Ryzen 9 7950")


def test_ambiguous_compact_names_match_nothing() -> None:
    names = {"a-1": ("x 100",), "b-1": ("x-100",)}
    assert compact_key("x 100") == compact_key("X-100") == "x100"
    assert match_name("X100", names) is None
    assert match_name("a-1", names) == "a-1"


def test_every_catalog_host_is_sourced_and_named_once() -> None:
    """Each host cites a source; no id or alias names two hosts, and each host's own name
    resolves to it (so the brand-string match cannot land on a sibling)."""
    from moeplan.hardware.hosts import host_catalog

    catalog = host_catalog()
    owners: dict[str, str] = {}
    for host in catalog.values():
        assert host.sources, host.id
        for name in (host.id, *host.aliases):
            assert owners.setdefault(name, host.id) == host.id, name
        assert resolve_host(host.name).id == host.id
        if host.ccds is not None:
            assert host.segment == "desktop", host.id


@pytest.mark.parametrize(
    ("typed", "host_id"),
    [
        ("AMD Ryzen 5 9600X 6-Core Processor", "ryzen-5-9600x"),
        ("12th Gen Intel(R) Core(TM) i5-12600K", "core-i5-12600k"),
        ("AMD EPYC 9374F 32-Core Processor", "epyc-9374f"),
        ("Intel(R) Xeon(R) Platinum 8452Y", "xeon-platinum-8452y"),
    ],
)
def test_added_hosts_resolve_from_lscpu(typed: str, host_id: str) -> None:
    assert resolve_host(typed).id == host_id


def test_list_match_filters_each_catalog() -> None:
    import json

    from typer.testing import CliRunner

    from moeplan.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["list", "hosts", "--match", "EPYC 9", "--json"])
    ids = [h["id"] for h in json.loads(r.stdout)]
    assert ids and all(i.startswith("epyc-9") for i in ids), ids
    r = runner.invoke(app, ["list", "hosts", "--match", "workstation", "--json"])
    assert {h["segment"] for h in json.loads(r.stdout)} == {"workstation"}
    r = runner.invoke(app, ["list", "gpus", "--match", "rtx 40", "--json"])
    assert {g["id"] for g in json.loads(r.stdout)} >= {"rtx-4090", "rtx-4070"}
    r = runner.invoke(app, ["list", "models", "--match", "qwen3.5", "--json"])
    assert all("qwen3.5" in m["id"] for m in json.loads(r.stdout))
    r = runner.invoke(app, ["list", "hosts", "--match", " "])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1


def test_list_hosts_groups_desktops_then_workstations_then_servers() -> None:
    import json

    from typer.testing import CliRunner

    from moeplan.cli import app

    r = CliRunner().invoke(app, ["list", "hosts", "--json"])
    segments = [h["segment"] for h in json.loads(r.stdout)]
    firsts = [segments.index(s) for s in ("desktop", "workstation", "server")]
    assert firsts == sorted(firsts)
    assert segments[firsts[1] - 1] == "desktop" and segments[firsts[2] - 1] == "workstation"
