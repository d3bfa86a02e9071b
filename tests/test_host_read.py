"""Achievable host read bandwidth (moeplan/hardware/host_read.py, Host.read_bw_bytes_per_s):
theoretical x the platform's published read fraction, the Ryzen CCD-link cap, a measured figure
given by the user; engines' host_bw_efficiency applies to it and is refit on the same records."""

from __future__ import annotations

import itertools
import json
import statistics
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

import moeplan.perf.offload_engines as offload_engines
from moeplan.cli import app
from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import resolve_gpu
from moeplan.hardware.host_read import (
    MEASURED_READ_FRACTIONS,
    MEMORY_VARIANTS,
    ccd_read_limit_bytes_per_s,
    unmeasured_read_fraction,
)
from moeplan.hardware.hosts import host_catalog, resolve_host, with_overrides
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.offload import estimate_offload
from moeplan.perf.offload_host_read import host_bandwidth_reached, thread_read_bytes_per_s
from moeplan.plan.offload_refit import (
    FAMILIES,
    GRIDS,
    ONE_SOCKET_FIELDS,
    leave_publication_out_error,
    patched,
    pool,
    publication_runs,
    refit_family,
    tie_order,
)
from moeplan.plan.validate_offload import (
    hash_split_fitting,
    load_offload_records,
    validate_offload_record,
)

runner = CliRunner()


def test_read_bandwidth_by_hand():
    # i9-14900K: 2 x 5600 x 8 = 89.6 GB/s theoretical; Raptor Lake reads 82.3 / 86.4 of it
    raptor = resolve_host("core-i9-14900k")
    assert raptor.read_bw_bytes_per_s == pytest.approx(89.6e9 * 82.3 / 86.4)  # 85.3 GB/s
    # i9-12900K (Alder Lake): 2 x 4800 x 8 = 76.8 GB/s, of which AIDA64 read 73 GB/s
    assert resolve_host("core-i9-12900k").read_bw_bytes_per_s == pytest.approx(73e9)
    # Ryzen 7 9700X: one CCD link, 32 B x 2.0 GHz = 64 GB/s, under 89.6 x 0.86 = 76.8 GB/s
    assert ccd_read_limit_bytes_per_s(1) == pytest.approx(64e9)
    assert resolve_host("ryzen-7-9700x").read_bw_bytes_per_s == pytest.approx(64e9)
    # Ryzen 9 7950X: two links (128 GB/s) do not bind; no published fraction: the median
    ryzen = resolve_host("ryzen-9-7950x")
    assert ryzen.read_family is None
    assert ryzen.read_bw_bytes_per_s == pytest.approx(83.2e9 * unmeasured_read_fraction())
    # Xeon Gold 6454S: 8 x 4800 x 8 = 307.2 GB/s, Sapphire Rapids read 240.6 GB/s of it (Mess)
    assert resolve_host("xeon-gold-6454s").read_bw_bytes_per_s == pytest.approx(240.6e9)


def test_unmeasured_fraction_is_the_median_of_the_published_ones():
    # one value a platform: another memory on a listed platform (MRDIMMs) stays out
    assert set(MEASURED_READ_FRACTIONS) >= MEMORY_VARIANTS
    values = sorted(f for k, (f, _) in MEASURED_READ_FRACTIONS.items() if k not in MEMORY_VARIANTS)
    assert len(values) == 11  # odd: the middle one (memcpy figures are not read figures)
    assert unmeasured_read_fraction() == pytest.approx(values[5])
    for fraction, source in MEASURED_READ_FRACTIONS.values():
        assert 0.5 < fraction < 1.0 and source
    for host in host_catalog().values():
        assert host.read_family is None or host.read_family in MEASURED_READ_FRACTIONS


def test_theoretical_override_keeps_the_fraction_measured_override_replaces_it():
    raptor = resolve_host("core-i9-14900k")
    faster = with_overrides(raptor, mem_gbps=96)  # DDR5-6000: still theoretical
    assert faster.read_bw_bytes_per_s == pytest.approx(96e9 * 82.3 / 86.4)
    measured = with_overrides(raptor, mem_measured_gbps=60)
    # Xeon 6980P with MRDIMM-8800: 12 x 8800 x 8 = 844.8 GB/s, 750.04 read (Mess)
    mrdimm = resolve_host("xeon-6980p-mrdimm")
    assert mrdimm.read_bw_bytes_per_s == pytest.approx(750.04e9)
    assert measured.mem_bw_bytes_per_s == pytest.approx(89.6e9)
    assert measured.read_bw_bytes_per_s == pytest.approx(60e9)
    with pytest.raises(MoeplanError, match=r"exceeds the theoretical 89\.6"):
        with_overrides(raptor, mem_measured_gbps=120)
    with pytest.raises(MoeplanError, match="--host-mem-measured-gbps must be positive"):
        with_overrides(raptor, mem_measured_gbps=0)


def test_engine_reaches_its_efficiency_of_the_read_bandwidth():
    kt = offload_engines.OFFLOAD_ENGINES["ktransformers"]
    two = with_overrides(resolve_host("xeon-gold-6454s"), sockets=2)
    # one socket's 240.6 GB/s x the efficiency, plus numa_extra_socket_gain of it for the second
    gain, efficiency = kt.numa_extra_socket_gain, kt.host_bw_efficiency
    assert host_bandwidth_reached(two, kt) == pytest.approx(240.6e9 * efficiency * (1 + gain))


def test_per_thread_read_ceiling_binds_few_threads_on_many_channels():
    """ktransformers' threads read at most its efficiency of what one core reads alone each
    (core_read_gbps, perf/offload_host_read.py): on 16 cores of a 12-channel EPYC 9355 that
    ceiling, not the socket, sets the host's decode time,
    which then halves with twice the threads; with every core the socket's bandwidth binds.
    llama.cpp has no such ceiling (its per-core matvec rates bound it instead)."""
    spec = load_model("qwen3-30b-a3b")
    scheme = resolve_scheme("bf16", spec)
    gpu, kt = resolve_gpu("rtx-5090"), offload_engines.OFFLOAD_ENGINES["ktransformers"]
    assert kt.core_read_gbps is not None
    per_thread = kt.core_read_gbps * kt.host_bw_efficiency * 1e9
    assert (
        thread_read_bytes_per_s(
            resolve_host("epyc-9355"), offload_engines.OFFLOAD_ENGINES["llamacpp"]
        )
        is None
    )
    host_s = {}
    for cores in (8, 16, 32):
        host = with_overrides(resolve_host("epyc-9355"), cores=cores)
        assert thread_read_bytes_per_s(host, kt) == pytest.approx(cores * per_thread)
        r = estimate_offload(spec, scheme, gpu, host, kt)
        assert r.speed is not None
        host_s[cores] = r.speed.host_decode_s
        ceiling = cores * per_thread < host_bandwidth_reached(host, kt)
        assert ("per-thread" in r.speed.decode_bound) == ceiling, cores
    assert host_s[8] / host_s[16] == pytest.approx(2.0, rel=0.05)  # thread-bound both times
    assert host_s[16] > host_s[32]
    # a core's read measured on the machine (profile --host-memory) replaces the stand-in
    eight = with_overrides(resolve_host("epyc-9355"), cores=8)
    measured = replace(eight, core_read_bytes_per_s=30e9)
    assert thread_read_bytes_per_s(measured, kt) == pytest.approx(8 * 30e9 * kt.host_bw_efficiency)
    fast = estimate_offload(spec, scheme, gpu, measured, kt).speed
    assert fast is not None and fast.host_decode_s < host_s[8]


def test_host_file_read_fields(tmp_path: Path):
    f = tmp_path / "box.yaml"
    f.write_text("cores: 8\nmemory_channels: 2\nmemory_mts: 6000\nram_gb: 64\nmem_read_gbps: 70\n")
    assert resolve_host(str(f)).read_bw_bytes_per_s == pytest.approx(70e9)
    f.write_text("cores: 8\nmemory_channels: 2\nmemory_mts: 6000\nram_gb: 64\nccds: 1\n")
    assert resolve_host(str(f)).read_bw_bytes_per_s == pytest.approx(64e9)
    for body, message in (
        ("cores: 8\nmem_bw_gbps: 90\nram_gb: 64\nmem_read_gbps: 95\n", "exceeds the theoretical"),
        ("cores: 8\nmem_bw_gbps: 90\nram_gb: 64\nread_family: zen9\n", "read_family 'zen9'"),
    ):
        f.write_text(body)
        with pytest.raises(MoeplanError, match=message):
            resolve_host(str(f))
        r = runner.invoke(app, ["latency", "gpt-oss-20b", "--gpu", "rtx-4080", "--host", str(f)])
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1


def test_cli_measured_bandwidth_option():
    base = ["latency", "gpt-oss-120b", "--gpu", "rtx-3090", "--n-cpu-moe", "36"]
    r = runner.invoke(app, [*base, "--host", "core-i9-14900k", "--host-mem-measured-gbps", "200"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "exceeds the theoretical" in r.output
    r = runner.invoke(
        app, [*base, "--host-mem-measured-gbps", "60", "--host-ram-gb", "128", "--host-cores", "8"]
    )
    assert r.exit_code == 0, r.output  # a measured figure alone describes the bandwidth
    efficiency = offload_engines.OFFLOAD_ENGINES["llamacpp"].host_bw_efficiency
    assert f"read at {60 * efficiency:.0f} GB/s" in r.output  # the measured 60 x the efficiency
    r = runner.invoke(app, ["list", "hosts", "--json"])
    hosts = {h["id"]: h for h in json.loads(r.stdout)}
    assert hosts["ryzen-7-9700x"]["read_bw_bytes_per_s"] == pytest.approx(64e9)


def _median_abs_error(
    family: str, ids: tuple[str, ...] | list[str], **fields: float | None
) -> float:
    """Median |decode error| of the records `ids` with the family's `fields` set: every record
    predicted afresh (no error table)."""
    by_id = {r["id"]: r for r in load_offload_records()}
    with patched(family, **fields):
        errors = [validate_offload_record(by_id[rid]).error for rid in ids]
    return statistics.median(abs(e) for e in errors if e is not None)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_shipped_offload_constants_are_the_refit(family: str) -> None:
    """Each fitted constant is its refit (rule 3, offload_refit.refit_family: the grid point of
    least median |error| over the engine's decode runs, the one-socket fields jointly), and moving
    any one of them a grid step, the others kept, does worse - strictly towards where ties go (the
    lower efficiency or gain), no better the other way."""
    results = refit_family(family)
    assert results
    one_socket = set(ONE_SOCKET_FIELDS[family])
    fitted = {r.field: r.value for r in results}
    assert {r.field for r in results} >= one_socket
    for result in results:
        assert len(result.record_ids) >= 5  # never a constant set by one record
        for pid in FAMILIES[family]:
            shipped = getattr(offload_engines.OFFLOAD_ENGINES[pid], result.field)
            assert shipped == pytest.approx(result.value), (pid, result.field)
        # the other constants of the fit (and, for the gain, the one-socket ones) held
        held = {f: fitted[f] for f in (one_socket if result.field in one_socket else fitted)}
        held.pop(result.field)
        grid = GRIDS[result.field]
        i = grid.index(result.value)
        at = _median_abs_error(family, result.record_ids, **held, **{result.field: grid[i]})
        assert at == pytest.approx(result.median_abs_error)
        for j, strict in (
            (i - 1, True),
            (i + 1, False),
        ):
            if 0 <= j < len(grid):
                moved = _median_abs_error(
                    family, result.record_ids, **held, **{result.field: grid[j]}
                )
                assert moved > at if strict else moved >= at, (result.field, grid[j])


def _brute_force(family: str, multi: bool, leave_out: frozenset[str]) -> dict[str, float | None]:
    """A family's fitted constants of one pool by brute force: every run of the pool but those in
    `leave_out` predicted afresh at each grid point, the least median |error| kept, ties as
    offload_refit orders them. The gain's one-socket constants are the shipped ones: they are
    fitted on one-socket runs only (the publications below hold no one-socket run)."""
    profile = offload_engines.OFFLOAD_ENGINES[FAMILIES[family][0]]
    fields = ("numa_extra_socket_gain",) if multi else ONE_SOCKET_FIELDS[family]
    held = {} if not multi else {f: getattr(profile, f) for f in ONE_SOCKET_FIELDS[family]}
    ids = [r["id"] for r in pool(family, multi) if r["id"] not in leave_out]

    scored = [
        (_median_abs_error(family, ids, **held, **dict(zip(fields, point, strict=True))), point)
        for point in itertools.product(*(GRIDS[f] for f in fields))
    ]
    best = min(scored, key=lambda sp: (sp[0], tie_order(sp[1])))[1]
    return dict(zip(fields, best, strict=True))


@pytest.mark.parametrize(
    ("family", "multi", "rid", "moves"),
    [
        # msb-msb's four 5700X runs (one README): llama.cpp's efficiency stays 0.60 without them
        ("llamacpp", False, "llamacpp-qwen36-35b-udq4km-rtx3090-r7-5700x-40", False),
        # discussion 15396's runs (20 of them, this RTX 4060 laptop's among them): 0.60 -> 0.62
        ("llamacpp", False, "llamacpp-gptoss20b-mxfp4-rtx4060laptop-i7-14700hx-14", True),
        # without the MiniMax-M2.1 tutorial's dual-socket rows the extra-socket gain refits
        # 0.40 -> 0.80
        ("ktransformers", True, "kt-minimaxm21-fp8-rtx4090-48g-2x8488c-2k", True),
        # issue 1914's EPYC 9355 rows: the efficiency stays 0.54 without them (until 2026-12-06 a
        # fitted per-thread ceiling went from 11 GB/s to none)
        ("ktransformers", False, "kt-v052-qwen3-30b-bf16-rtx5090-epyc9355-g28-4k", False),
        # ubergarm's guide (eleven Threadripper PRO 7965WX runs): 0.54 -> 0.53 without it
        ("ktransformers", False, "kt-dsr1-udq2kxl-rtxa6000-tr7965wx-94ab2de-p1", True),
    ],
)
def test_leave_publication_out_error_matches_a_brute_force_refit(
    family: str, multi: bool, rid: str, moves: bool
) -> None:
    """A pooled run's out-of-sample error is its error at the constants refit without every run
    of its publication, checked against a brute-force grid search: publications whose absence
    moves their family's constants and one whose absence does not."""
    profile = offload_engines.OFFLOAD_ENGINES[FAMILIES[family][0]]
    records = {r["id"]: r for r in load_offload_records()}
    runs = publication_runs(records[rid])
    assert rid in runs and len(runs) > 1
    values = _brute_force(family, multi, runs)
    shipped = {f: getattr(profile, f) for f in values}
    assert (values != shipped) == moves, (rid, values)
    held = {f: getattr(profile, f) for f in ONE_SOCKET_FIELDS[family]} if multi else {}
    with patched(family, **held, **values):
        expected = validate_offload_record(records[rid]).error
    assert expected is not None
    assert leave_publication_out_error(records[rid]) == pytest.approx(expected, rel=1e-12), rid
    in_sample = validate_offload_record(records[rid]).error
    assert (expected != pytest.approx(in_sample)) == moves, rid


def test_rule2_records_take_their_role_from_the_id_hash() -> None:
    """Rule 2 of offload_measurements.yaml: a fully stated run's role is fixed by sha256(id); a run
    missing facts is held out."""
    for rec in load_offload_records():
        split = rec.get("split")
        if split is None:
            continue
        assert split in ("hash", "not-stated"), rec["id"]
        expected = split == "hash" and hash_split_fitting(rec["id"])
        assert bool(rec.get("used_for_fitting", False)) == expected, rec["id"]


def test_hash_split_is_fixed_by_the_id() -> None:
    assert hash_split_fitting("a") is False  # sha256('a') = ca97...
    assert hash_split_fitting("b") is True  # sha256('b') = 3e23...


def test_offload_host_catalog_entries_by_hand():
    """The desktop, workstation and server CPUs people offload experts to: channels x MT/s x 8
    bytes, the platform's read fraction, the one-CCD link cap, P-cores, sockets, sources."""
    cat = host_catalog()
    # 2 x EPYC 9554: 2 x 12 x 4800 x 8 = 921.6 GB/s; Genoa reads 765 / 921.6 of it
    genoa2 = with_overrides(resolve_host("epyc-9554"), sockets=2)
    assert genoa2.mem_bw_bytes_per_s == pytest.approx(921.6e9)
    assert genoa2.read_bw_bytes_per_s == pytest.approx(921.6e9 * 765 / 921.6)
    # Milan: 8 x 3200 x 8 = 204.8 GB/s, no published fraction: the median
    milan = resolve_host("milan")
    assert milan.id == "epyc-7763" and milan.mem_bw_bytes_per_s == pytest.approx(204.8e9)
    assert milan.read_bw_bytes_per_s == pytest.approx(204.8e9 * unmeasured_read_fraction())
    # one-CCD X3D parts: the 64 GB/s CCD link binds (DDR5-5200: 83.2 x 0.86 = 71.3 GB/s)
    for one_ccd in ("ryzen-7-7800x3d", "ryzen-7-9800x3d"):
        assert resolve_host(one_ccd).read_bw_bytes_per_s == pytest.approx(64e9)
    # 5800X3D: the same one-CCD Zen 3 die as the measured 5700X3D, 43.9 of 51.2 GB/s
    assert resolve_host("5800x3d").read_bw_bytes_per_s == pytest.approx(43.9e9)
    # Xeon 6767P: eight channels of DDR5-6400 (409.6 GB/s) at Granite Rapids' fraction
    assert resolve_host("6767p").read_bw_bytes_per_s == pytest.approx(409.6e9 * 561.3 / 614.4)
    # hybrid Intel parts list their P-cores; 8490H scales to eight sockets, 8480+ to two
    for hybrid, cores in (("13900k", 24), ("12900k", 16), ("14700k", 20), ("265k", 20)):
        host = resolve_host(hybrid)
        assert (host.cores_per_socket, host.performance_cores) == (cores, 8)
    assert cat["xeon-platinum-8490h"].max_sockets == 8
    assert cat["xeon-platinum-8480plus"].max_sockets == 2
    # old dual-socket boxes: 2 x 4 x DDR4-2400 = 153.6 GB/s (llama.cpp issue 1437: 154)
    e5 = with_overrides(resolve_host("e5-2699v4"), sockets=2)
    assert e5.mem_bw_bytes_per_s == pytest.approx(153.6e9)
    for host in cat.values():
        assert host.sources, host.id
