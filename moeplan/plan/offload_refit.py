"""Refit of the offload engines' fitted constants on their fitting records (issue 15).

Which records are fitting is fixed in ``moeplan/data/offload_measurements.yaml`` (rule 1) and by the
hash split of rule 2 (validate_offload.hash_split_fitting); this module only searches the grid:
an engine's ``host_bw_efficiency`` on its one-socket fitting decode records, then its
``numa_extra_socket_gain`` on its multi-socket ones, each the grid point of least median |error|
(ties: the lower value). `python tools/refit_offload.py` prints the result; a test checks the
shipped constants are it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from moeplan.perf import offload_engines
from moeplan.plan.validate_offload import load_offload_records, validate_offload_record

EFFICIENCY_GRID = tuple(round(0.20 + 0.01 * i, 2) for i in range(81))  # 0.20 .. 1.00
NUMA_GAIN_GRID = tuple(round(0.1 * i, 1) for i in range(11))  # 0.0 .. 1.0

FAMILIES: dict[str, tuple[str, ...]] = {
    "llamacpp": ("llamacpp",),
    "ktransformers": ("ktransformers", "ktransformers-v02"),
}
"""Profiles that share a fitted constant: ktransformers-v02 is ktransformers without AMX prompt
kernels (offload_engines.py), its decode terms are ktransformers'."""


@dataclass(frozen=True)
class RefitResult:
    family: str
    field: str
    value: float
    median_abs_error: float
    record_ids: tuple[str, ...]


@contextmanager
def patched(family: str, **fields: Any) -> Iterator[None]:
    """Every profile of `family` with `fields` replaced, restored on exit."""
    saved = {pid: offload_engines.OFFLOAD_ENGINES[pid] for pid in FAMILIES[family]}
    try:
        for pid, profile in saved.items():
            offload_engines.OFFLOAD_ENGINES[pid] = replace(profile, **fields)
        yield
    finally:
        offload_engines.OFFLOAD_ENGINES.update(saved)


def _family_of(rec: dict[str, Any]) -> str | None:
    engine = offload_engines.resolve_offload_engine(rec["moeplan"]["engine"]).id
    return next((f for f, ids in FAMILIES.items() if engine in ids), None)


def _sockets(rec: dict[str, Any]) -> int:
    from moeplan.hardware.hosts import resolve_host

    how = rec["moeplan"]
    if "host_sockets" in how:
        return int(how["host_sockets"])
    return 1 if how["host"] == "custom" else resolve_host(how["host"]).sockets


def fitting_decode_records(family: str, multi_socket: bool) -> list[dict[str, Any]]:
    """The family's fitting decode records on one socket (or on several)."""
    return [
        rec
        for rec in load_offload_records()
        if rec.get("used_for_fitting")
        and rec["metric"] == "decode_tok_s"
        and "skip" not in rec["moeplan"]
        and _family_of(rec) == family
        and (_sockets(rec) > 1) == multi_socket
    ]


def median_abs_error(records: list[dict[str, Any]]) -> float:
    errors = []
    for rec in records:
        error = validate_offload_record(rec).error
        assert error is not None
        errors.append(abs(error))
    return statistics.median(errors)


def refit_field(
    family: str, field: str, grid: tuple[float, ...], records: list[dict[str, Any]], **fixed: float
) -> RefitResult | None:
    """The grid value of `field` with least median |decode error| over `records` (ties: lower)."""
    if not records:
        return None
    best: tuple[float, float] | None = None
    for value in grid:
        with patched(family, **fixed, **{field: value}):
            score = median_abs_error(records)
        if best is None or score < best[1] - 1e-12:
            best = (value, score)
    assert best is not None
    ids = tuple(r["id"] for r in records)
    return RefitResult(family, field, best[0], best[1], ids)


def refit_family(family: str) -> list[RefitResult]:
    """host_bw_efficiency on one-socket records, then numa_extra_socket_gain on multi-socket
    ones with that efficiency."""
    results = []
    eff = refit_field(
        family, "host_bw_efficiency", EFFICIENCY_GRID, fitting_decode_records(family, False)
    )
    if eff is not None:
        results.append(eff)
    efficiency = (
        eff.value
        if eff is not None
        else offload_engines.OFFLOAD_ENGINES[FAMILIES[family][0]].host_bw_efficiency
    )
    numa = refit_field(
        family,
        "numa_extra_socket_gain",
        NUMA_GAIN_GRID,
        fitting_decode_records(family, True),
        host_bw_efficiency=efficiency,
    )
    if numa is not None:
        results.append(numa)
    return results
