"""`moeplan validate`, expert offload: predict the published one-GPU-plus-host runs shipped in
``moeplan/data/offload_measurements.yaml`` and report decode errors (fitting records apart from
held-out ones) and fit/no-fit verdicts."""

from __future__ import annotations

import functools
import hashlib
import statistics
from dataclasses import dataclass, replace
from typing import Any

from moeplan.data import data_path
from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import resolve_gpu
from moeplan.hardware.hosts import custom_host, resolve_host, with_overrides
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.offload import OffloadReport, estimate_offload
from moeplan.perf.offload_engines import resolve_offload_engine, with_prompt_flags
from moeplan.yamlio import load_packaged_yaml

SPEED_METRICS = ("decode_tok_s", "prefill_tok_s")


@dataclass(frozen=True)
class OffloadValidation:
    id: str
    metric: str  # decode_tok_s, prefill_tok_s (reported, not in the median) or fit
    published: float | bool
    predicted: float | bool | None
    used_for_fitting: bool
    engine: str
    reading: str = ""
    skipped: str = ""
    n_cpu_moe: int | None = None

    @property
    def error(self) -> float | None:
        """predicted / published - 1 for tok/s."""
        if self.metric not in SPEED_METRICS or self.predicted is None:
            return None
        return float(self.predicted) / float(self.published) - 1

    @property
    def verdict_right(self) -> bool | None:
        if self.metric != "fit" or self.predicted is None:
            return None
        return bool(self.predicted) == bool(self.published)


RECORD_FILES_GLOB = "offload_runs_*.yaml"
"""Further record files beside offload_measurements.yaml (one per collection pass), same schema."""


def hash_split_fitting(record_id: str) -> bool:
    """The role a record collected under the hash-split rule takes (offload_measurements.yaml
    header, rule 2): fitting when the first hex digit of sha256(id) is 0-7, held out otherwise.
    Fixed by the id alone, so nobody chooses which records set a constant after seeing errors."""
    return hashlib.sha256(record_id.encode()).hexdigest()[0] in "01234567"


def load_offload_records() -> list[dict[str, Any]]:
    """Every shipped offload record: offload_measurements.yaml, then each offload_runs_*.yaml in
    name order. A repeated id is refused."""
    main = data_path("offload_measurements.yaml")
    paths = [main, *sorted(main.parent.glob(RECORD_FILES_GLOB))]
    records: list[dict[str, Any]] = []
    for path in paths:
        doc = load_packaged_yaml(path, f"moeplan/data/{path.name}")
        records.extend(doc["records"])
    seen: set[str] = set()
    for rec in records:
        if rec["id"] in seen:
            raise MoeplanError(f"offload records: id '{rec['id']}' appears twice")
        seen.add(rec["id"])
    return records


def report_for(how: dict[str, Any]) -> OffloadReport:
    """The offload estimate under a record's stated conditions."""
    spec = load_model(how["model"])
    base = custom_host() if how["host"] == "custom" else resolve_host(how["host"])
    host = with_overrides(
        base,
        how.get("host_mem_gbps"),
        how.get("host_ram_gb"),
        how.get("host_cores"),
        how.get("host_sockets"),
    )
    engine = resolve_offload_engine(how["engine"])
    if how.get("split_graphs") is False:  # a build whose splits ran without CUDA graphs
        engine = replace(engine, split_graph_vendors=())
    engine = with_prompt_flags(  # the run's -ub / --no-op-offload / kt GPU-prefill threshold
        engine,
        how.get("ubatch_tokens"),
        how.get("op_offload", True),
        how.get("kt_gpu_prefill_token_threshold"),
    )
    mode = how.get("offload", "experts")
    return estimate_offload(
        spec,
        resolve_scheme(how["quant"], spec),
        resolve_gpu(how["gpu"]),
        host,
        engine,
        mode,
        how.get("n_cpu_moe"),
        1,
        how["input_len"],
        how["output_len"],
    )


def validate_offload_record(rec: dict[str, Any]) -> OffloadValidation:
    how = rec["moeplan"]
    base = dict(
        id=rec["id"],
        metric=str(rec["metric"]),
        published=rec["value"],
        used_for_fitting=bool(rec.get("used_for_fitting", False)),
        reading=how.get("reading", ""),
    )
    if "skip" in how:
        return OffloadValidation(predicted=None, engine="", skipped=how["skip"], **base)
    report = report_for(how)
    if rec["metric"] == "fit":
        fit = report.placement.fits_gpu if how.get("fit_scope") == "gpu" else report.fits
        predicted: float | bool | None = fit
    elif rec["metric"] == "decode_tok_s":
        predicted = report.decode_tok_s
    elif rec["metric"] == "prefill_tok_s":
        predicted = report.prefill_tok_s
    else:
        raise MoeplanError(f"offload record '{rec['id']}': unknown metric '{rec['metric']}'")
    return OffloadValidation(
        predicted=predicted,
        engine=report.engine.id,
        n_cpu_moe=report.placement.n_cpu_moe,
        **base,
    )


def validate_offload_all() -> list[OffloadValidation]:
    return [validate_offload_record(rec) for rec in load_offload_records()]


def median_abs_error(results: list[OffloadValidation], fitting: bool) -> float | None:
    """Median |error| of the decode records that were (fitting=True) or were not used to set a
    constant."""
    errors = [
        abs(r.error)
        for r in results
        if r.error is not None and r.metric == "decode_tok_s" and r.used_for_fitting == fitting
    ]
    return statistics.median(errors) if errors else None


def verdicts(results: list[OffloadValidation]) -> tuple[int, int]:
    """(right, total) fit/no-fit verdicts."""
    judged = [r.verdict_right for r in results if r.verdict_right is not None]
    return sum(1 for v in judged if v), len(judged)


OFFLOAD_ERROR_BAND_DEFINITION = (
    "error_band_pct: [lowest, highest] residual of decode (or prompt) time for this offload "
    "engine over the held-out records of `moeplan validate`, predicted / measured time - 1 in % "
    "(positive: the estimate is slower than measured); records a constant was set from are left "
    "out; n/a below 3 records"
)

BAND_METRICS = {"decode": "decode_tok_s", "prefill": "prefill_tok_s"}


@functools.cache
def _band(engine: str, metric: str) -> tuple[float, float] | str:
    time_errors = [
        1.0 / (1.0 + v.error) - 1.0
        for v in validate_offload_all()
        if v.error is not None
        and v.metric == metric
        and v.engine == engine
        and not v.used_for_fitting
    ]
    if len(time_errors) < 3:
        return f"n/a: {len(time_errors)} held-out {metric} record(s) for {engine} (3 needed)"
    return round(min(time_errors) * 100, 1), round(max(time_errors) * 100, 1)


def offload_error_band_pct(engine: str, regime: str) -> list[float] | str:
    """Spread of the held-out residuals of `engine` in `regime` ("decode" or "prefill") as
    time errors (a tok/s error e is a time error 1 / (1 + e) - 1): [low, high] in %, or
    "n/a: reason" with fewer than 3 records (issue 17's band, as latency's in plan/validate.py)."""
    band = _band(engine, BAND_METRICS[regime])
    return band if isinstance(band, str) else list(band)
