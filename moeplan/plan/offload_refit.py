"""Refit of the offload engines' fitted constants on published runs (issue 15).

Rule 3 of ``moeplan/data/offload_measurements.yaml``: every decode run of an engine family (its
pool) sets its constants, so no one chooses which runs fit. Each constant is the grid point of
least median |decode error| over the pool (ties: the lower value), the estimator of rules 1 and 2
and the issue's own metric: ``host_bw_efficiency`` on the one-socket runs, then
``numa_extra_socket_gain`` on the multi-socket runs of families whose sockets read local memory.
`validate` reports each pooled run's leave-publication-out error (predicted with the constants
refit without every run of its publication, publications.py), from one table of errors per run
and grid point. `python tools/refit_offload.py`
prints the refit; a test checks the shipped constants are it.
"""

from __future__ import annotations

import functools
import itertools
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from moeplan.perf import offload_engines
from moeplan.plan.publications import publication_index
from moeplan.plan.validate_offload import (
    load_offload_records,
    record_host,
    validate_offload_record,
)

EFFICIENCY_GRID = tuple(round(0.20 + 0.01 * i, 2) for i in range(81))  # 0.20 .. 1.00
NUMA_GAIN_GRID = tuple(round(0.01 * i, 2) for i in range(101))  # 0.00 .. 1.00
"""The extra-socket gain at the efficiency's resolution: on a 0.1 grid the median sat between two
points (0.4 and 0.5 within 0.2% of each other over 29 runs), so leaving any one run out moved it
a whole step and every two-socket run's leave-one-out error ~10 points."""

FAMILIES: dict[str, tuple[str, ...]] = {
    "llamacpp": ("llamacpp",),
    "ktransformers": ("ktransformers", "ktransformers-v03", "ktransformers-v02"),
}
"""Profiles that share a fitted constant: ktransformers-v03 is ktransformers with a copy of the
experts per socket, ktransformers-v02 that without AMX prompt kernels (offload_engines.py); their
decode terms are ktransformers'."""

ONE_SOCKET_FIELDS: dict[str, tuple[str, ...]] = {
    "llamacpp": ("host_bw_efficiency",),
    "ktransformers": ("host_bw_efficiency",),
}
"""The constants each family fits on its one-socket runs (one grid point of them all).
llama.cpp's threads are bounded by its per-core matvec rates of each block type (perf/cpu_matvec.py,
measured); ktransformers' by one core's published read x its efficiency (core_read_gbps,
perf/offload_host_read.py). Until 2026-12-06 ktransformers fitted a per-thread rate with its
efficiency; left out by publication, that fit did not carry (README, offload history)."""

GRIDS: dict[str, tuple[float | None, ...]] = {
    "host_bw_efficiency": EFFICIENCY_GRID,
    "numa_extra_socket_gain": NUMA_GAIN_GRID,
}


@dataclass(frozen=True)
class RefitResult:
    family: str
    field: str
    value: float | None
    median_abs_error: float  # in sample, over record_ids
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
    """The sockets of the record's host as report_for resolves it."""
    return record_host(rec["moeplan"]).sockets


def pool(family: str, multi_socket: bool) -> list[dict[str, Any]]:
    """The family's decode records on one socket (or on several): every one, whatever its
    rule-2 role (rule 3)."""
    return list(_pool(family, multi_socket))


@functools.cache
def _pool(family: str, multi_socket: bool) -> tuple[dict[str, Any], ...]:
    if multi_socket and not offload_engines.OFFLOAD_ENGINES[family].numa_local_reads:
        return ()  # threads read far memory too: the extra-socket gain is a stated 0, not fitted
    return tuple(
        rec
        for rec in load_offload_records()
        if rec["metric"] == "decode_tok_s"
        and "skip" not in rec["moeplan"]
        and _family_of(rec) == family
        and (_sockets(rec) > 1) == multi_socket
    )


Point = tuple[float | None, ...]


@functools.cache
def _error_table(
    family: str,
    fields: tuple[str, ...],
    multi_socket: bool,
    fixed: tuple[tuple[str, float | None], ...],
) -> dict[Point, dict[str, float]]:
    """Decode error of every run of the family's pool (one-socket or multi-socket) at each point
    of the product of `fields`' grids, with `fixed` set."""
    records = pool(family, multi_socket)
    table: dict[Point, dict[str, float]] = {}
    for point in itertools.product(*(GRIDS[f] for f in fields)):
        with patched(family, **dict(fixed), **dict(zip(fields, point, strict=True))):
            errors = {}
            for rec in records:
                error = validate_offload_record(rec).error
                assert error is not None
                errors[rec["id"]] = error
        table[point] = errors
    return table


def tie_order(point: Point) -> tuple[float, ...]:
    """Tie order of grid points: the lower efficiency or gain first."""
    return tuple(v or 0.0 for v in point)


def refit_fields(
    family: str,
    fields: tuple[str, ...],
    multi_socket: bool,
    leave_out: frozenset[str] = frozenset(),
    **fixed: float | None,
) -> list[RefitResult]:
    """The grid point of `fields` with least median |decode error| over the family's pool (less
    the runs `leave_out`; ties: tie_order), a result per field; none for an empty pool."""
    kept = [r["id"] for r in pool(family, multi_socket) if r["id"] not in leave_out]
    if not kept:
        return []
    fixed_items = tuple(sorted(fixed.items()))
    table = _error_table(family, fields, multi_socket, fixed_items)
    scores = {p: statistics.median(abs(errors[rid]) for rid in kept) for p, errors in table.items()}
    best = min(scores, key=lambda p: (scores[p], tie_order(p)))
    return [
        RefitResult(family, field, value, scores[best], tuple(kept))
        for field, value in zip(fields, best, strict=True)
    ]


def refit_family(family: str, leave_out: frozenset[str] = frozenset()) -> list[RefitResult]:
    """The one-socket constants (ONE_SOCKET_FIELDS) on one-socket records, then
    numa_extra_socket_gain on multi-socket ones with them; `leave_out`: record ids left out of
    both."""
    results = refit_fields(family, ONE_SOCKET_FIELDS[family], False, leave_out)
    profile = offload_engines.OFFLOAD_ENGINES[FAMILIES[family][0]]
    one_socket = {
        f: next((r.value for r in results if r.field == f), getattr(profile, f))
        for f in ONE_SOCKET_FIELDS[family]
    }
    numa = refit_fields(family, ("numa_extra_socket_gain",), True, leave_out, **one_socket)
    return results + numa


def pooled_family(rec: dict[str, Any]) -> str | None:
    """The family whose constants `rec` helps set (rule 3), or None."""
    if rec["metric"] != "decode_tok_s" or "skip" in rec["moeplan"]:
        return None
    family = _family_of(rec)
    if family is None:
        return None
    return family if any(r["id"] == rec["id"] for r in pool(family, _sockets(rec) > 1)) else None


def publication_runs(rec: dict[str, Any]) -> frozenset[str]:
    """The ids of every record published with `rec` (publications.publication_index)."""
    index, runs = _publications()
    return runs[index[rec["id"]]]


@functools.cache
def _publications() -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """Each record's publication, and each publication's record ids."""
    index = publication_index(load_offload_records())
    runs: dict[str, set[str]] = {}
    for rid, key in index.items():
        runs.setdefault(key, set()).add(rid)
    return index, {key: frozenset(ids) for key, ids in runs.items()}


def leave_publication_out_error(rec: dict[str, Any]) -> float | None:
    """`rec`'s decode error with its family's constants refit without every run of its
    publication (None outside a pool): the error of a run from a publication moeplan has not
    seen, as the issue's acceptance runs are (publications.py)."""
    family = pooled_family(rec)
    if family is None:
        return None
    fields = {r.field: r.value for r in _refit_without(family, publication_runs(rec))}
    with patched(family, **fields):
        return validate_offload_record(rec).error


@functools.cache
def _refit_without(family: str, leave_out: frozenset[str]) -> tuple[RefitResult, ...]:
    return tuple(refit_family(family, leave_out=leave_out))
