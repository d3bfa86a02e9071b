"""What one run of a box buys: each published decode run predicted from the host read rate a
sibling run of the same box implies (plan/host_calibration.py, `latency --calibrate-host`).

A box is one publication's host as the record states it (publication, catalog host, stated
theoretical bandwidth): the same machine measured at other --n-cpu-moe values, models, quants,
contexts or thread counts. For each run with siblings, every sibling that calibrates (its run is
explained by some read up to the engine streaming the host's theoretical rate) gives a read; the
run is predicted at each and its error is the median of those errors. The engine's fitted host
efficiency cancels where the host's DRAM time binds: a calibrated read absorbs it (that time is
bytes / (read x efficiency)), so the figure holds little fitted to the run beyond what its
sibling says.
"""

from __future__ import annotations

import functools
import statistics
from dataclasses import dataclass
from typing import Any

from moeplan.errors import MoeplanError
from moeplan.plan.host_calibration import calibrate_read, decode_and_bound
from moeplan.plan.publications import publication_index
from moeplan.plan.validate_offload import load_offload_records, record_host, report_for


@dataclass(frozen=True)
class SameBoxResult:
    id: str
    box: str
    published: float
    error: float | None  # median over the sibling calibrations; None where none calibrates
    calibrations: int


def _speed(how: dict[str, Any], read: float) -> tuple[float, str]:
    return decode_and_bound(report_for(how, speed_when_over_gpu=True, host_read_bytes_per_s=read))


def _calibrated_read(rec: dict[str, Any]) -> float | None:
    """The read that reproduces the run, or None where no read up to theoretical does."""
    how = rec["moeplan"]
    host = record_host(how)
    share = report_for(how, speed_when_over_gpu=True).engine.host_bw_efficiency
    own = host.read_bw_bytes_per_s
    if own is None:
        return None
    try:
        return calibrate_read(
            lambda read: _speed(how, read)[0],
            float(rec["value"]),
            own,
            host.mem_bw_bytes_per_s,
            lambda read: _speed(how, read)[1],
            share,
        ).read_bytes_per_s
    except MoeplanError:
        return None


def same_box_results() -> list[SameBoxResult]:
    """Every decode run that has a sibling on its box, predicted from the siblings' reads."""
    return list(_same_box_results())


@functools.cache
def _same_box_results() -> tuple[SameBoxResult, ...]:
    records = load_offload_records()
    publication = publication_index(records)
    boxes: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        how = rec["moeplan"]
        if rec["metric"] != "decode_tok_s" or "skip" in how:
            continue
        box = f"{publication[rec['id']]} | {how['host']} | {how.get('host_mem_gbps') or '-'}"
        boxes.setdefault(box, []).append(rec)
    results = []
    for box, runs in boxes.items():
        if len(runs) < 2:
            continue
        reads = {str(rec["id"]): _calibrated_read(rec) for rec in runs}
        for rec in runs:
            others = [r for i, r in reads.items() if i != rec["id"] and r is not None]
            errors = [_speed(rec["moeplan"], r)[0] / rec["value"] - 1 for r in others]
            results.append(
                SameBoxResult(
                    id=str(rec["id"]),
                    box=box,
                    published=float(rec["value"]),
                    error=statistics.median(errors) if errors else None,
                    calibrations=len(others),
                )
            )
    return tuple(results)


def same_box_median_abs_error(results: list[SameBoxResult]) -> float | None:
    errors = [abs(r.error) for r in results if r.error is not None]
    return statistics.median(errors) if errors else None
