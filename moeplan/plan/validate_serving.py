"""`moeplan validate`, serving part: the best output tokens/s of a published serving run
(``moeplan/data/serving_measurements.yaml``) against the serving model's best over concurrency
for the run's layout, GPU count, lengths and engine. Nothing is fitted to these records."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from functools import cache
from typing import Any

from moeplan.data import data_path, shipped_error_bands
from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.model.specs import ModelSpec
from moeplan.perf.engines import resolve_engine
from moeplan.perf.offline_run import offline_run, trtllm_bench_caps
from moeplan.perf.parallel import DEFAULT_USABLE_FRACTION, Layout
from moeplan.perf.serving import ServingPoint, Workload, aggregated_point, replica_capacity
from moeplan.perf.serving_search import Deployment, running_cap, search_serving, setup_for
from moeplan.plan.bands import band_of
from moeplan.yamlio import load_packaged_yaml

KV_QUANT_OF_RUN = "fp8"
"""TensorRT-LLM's ModelOpt FP8/FP4 checkpoints and vLLM's gpt-oss runs use FP8 KV caches on
Hopper/Blackwell by default in these benchmark recipes; bf16 where a record says so."""


@dataclass(frozen=True)
class ServingValidation:
    id: str
    published: float  # output tokens/s of all GPUs
    predicted: float | None
    layout: str
    concurrency: int | None
    note: str = ""
    not_counted: str = ""  # why this record stays out of the median
    engine: str = ""
    vendor: str = ""  # the GPU's vendor (gpus.yaml), lower case: a band's regime

    @property
    def error(self) -> float | None:
        return None if self.predicted is None else self.predicted / self.published - 1


def load_records() -> list[dict[str, Any]]:
    doc = load_packaged_yaml(
        data_path("serving_measurements.yaml"), "moeplan/data/serving_measurements.yaml"
    )
    records: list[dict[str, Any]] = doc["records"]
    return records


@cache
def _spec(model: str) -> ModelSpec:
    """One spec object per model id: the per-spec caches (memory.cache.read_groups, ...) then hit
    by identity instead of comparing an equal copy field by field at every step priced, which
    made `moeplan validate` several times slower over the 110 perf-overview records."""
    return load_model(model)


def _usable_fraction(rec: dict[str, Any]) -> float:
    """The run's --gpu-memory-utilization: a fraction in (0, 1], or vLLM's default."""
    value = rec.get("gpu_memory_utilization", DEFAULT_USABLE_FRACTION)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise MoeplanError(
            f"serving record {rec.get('id')!r}: gpu_memory_utilization must be a fraction in "
            f"(0, 1], got {value!r}"
        )
    return float(value)


def validate_serving_record(rec: dict[str, Any]) -> ServingValidation:
    spec = _spec(rec["model"])
    lay = rec["layout"]
    layout = Layout(tp=lay["tp"], ep=lay["ep"], pp=lay["pp"], dp=lay["dp"])
    dep = Deployment(
        spec,
        resolve_scheme(rec["quant"], spec),
        resolve_gpu(rec["gpu"]),
        resolve_engine(rec["engine"]),
        kv_quant=rec.get("kv_quant", KV_QUANT_OF_RUN),
        usable_fraction=_usable_fraction(rec),
    )
    if rec.get("num_requests") is not None:
        return _offline(dep, rec, layout)
    result = search_serving(
        dep, Workload(rec["input_len"], rec["output_len"]), rec["gpus"], pinned=layout
    )
    cap = rec.get("max_concurrency")
    fixed = rec.get("concurrency")  # a run at one stated concurrency: predicted at exactly that
    if fixed is not None:
        best = _at_concurrency(dep, rec, layout, int(fixed))
    else:
        points = [p for p in result.frontier if cap is None or p.concurrency <= cap]
        best = max(points, key=lambda p: p.output_tok_s, default=None)
    return ServingValidation(
        rec["id"],
        float(rec["value"]),
        best.output_tok_s if best else None,
        layout.describe(),
        best.concurrency if best else None,
        "" if best else result.reason,
        str(rec.get("not_counted", "")),
        str(rec["engine"]),
        dep.gpu.vendor.lower(),
    )


def _offline(dep: Deployment, rec: dict[str, Any], layout: Layout) -> ServingValidation:
    """A run of `num_requests` queued at once under trtllm-bench's engine caps
    (`perf.offline_run`), on every replica alike."""
    setup = setup_for(dep, layout)
    workload = Workload(rec["input_len"], rec["output_len"])
    replicas = rec["gpus"] // layout.gpus
    caps = trtllm_bench_caps(setup, workload, layout.gpus)
    room = (
        replica_capacity(setup, workload, dep.usable_fraction, dep.speculation).per_replica
        // layout.dp
    )
    run = offline_run(setup, workload, -(-int(rec["num_requests"]) // replicas), caps, room)
    return ServingValidation(
        rec["id"],
        float(rec["value"]),
        run.output_tok_s(workload) * replicas,
        layout.describe(),
        round(run.mean_running * replicas),
        f"offline run of {rec['num_requests']} requests, max_batch_size "
        f"{caps.max_batch_size}, max_num_tokens {caps.max_num_tokens} a rank: {run.steps} steps",
        str(rec.get("not_counted", "")),
        str(rec["engine"]),
        dep.gpu.vendor.lower(),
    )


def _at_concurrency(
    dep: Deployment, rec: dict[str, Any], layout: Layout, concurrency: int
) -> ServingPoint | None:
    """The run at its stated concurrency, each replica running no more than it holds
    (`serving_search.running_cap`): past that, requests queue in the client's window."""
    replicas = rec["gpus"] // layout.gpus
    setup = setup_for(dep, layout)
    workload = Workload(rec["input_len"], rec["output_len"])
    cap = running_cap(
        dep, layout, replica_capacity(setup, workload, dep.usable_fraction, dep.speculation)
    )
    per_replica = max(1, min(concurrency // replicas, cap))
    return aggregated_point(setup, workload, per_replica, replicas)


def validate_serving_all() -> list[ServingValidation]:
    return list(_validate_serving_all())


@cache
def _validate_serving_all() -> tuple[ServingValidation, ...]:
    """Every packaged record, once a process: the results are pure (frozen records and data),
    and `validate` and the throughput error band both want them."""
    return tuple(validate_serving_record(r) for r in load_records())


def median_abs_serving_error(results: list[ServingValidation]) -> float | None:
    errors = [abs(r.error) for r in results if r.error is not None and not r.not_counted]
    return statistics.median(errors) if errors else None


def median_abs_serving_error_by_engine(
    results: list[ServingValidation],
) -> dict[str, tuple[float, int]]:
    """engine -> (median |error|, counted records) over each engine's counted records, in order
    of first appearance; the overall median alone would be mostly TensorRT-LLM's."""
    by_engine: dict[str, list[float]] = {}
    for r in results:
        if r.error is not None and not r.not_counted:
            by_engine.setdefault(r.engine, []).append(abs(r.error))
    return {eng: (statistics.median(errs), len(errs)) for eng, errs in by_engine.items()}


MIN_BAND_RECORDS = 3
"""Fewest counted records an error band is drawn from (the latency band's rule, validate.py)."""

SERVING_ERROR_BAND_DEFINITION = (
    "error_band_pct: [10th, 90th percentile] (fewer than 10 records: [lowest, highest]) residual "
    "of best output tok/s over the published serving runs `moeplan validate` counts (held out: "
    "nothing was fitted to them), predicted / published - 1 in % (positive: the estimate is "
    "faster than measured); over this engine's records on this GPU vendor's cards, else this "
    "engine's, else every engine's, the first with at least 3 (error_band_scope says which)"
)


@cache
def _counted_errors() -> tuple[tuple[str, str, float], ...]:
    """(engine, GPU vendor, error) of every counted serving record; validate_serving_all is
    pure, so once."""
    return tuple(
        (v.engine, v.vendor, v.error)
        for v in validate_serving_all()
        if v.error is not None and not v.not_counted
    )


def computed_serving_error_band(engine: str, vendor: str = "") -> tuple[list[float] | str, str]:
    """[low, high] in % (plan/bands.py band_of: the 10th and 90th percentiles, or the extremes
    of fewer than 10) of the held-out serving residuals backing `engine` on `vendor`'s GPUs, else
    `engine`'s on any, else every engine's, the first with MIN_BAND_RECORDS; the scope in words;
    "n/a: reason" below that."""
    errors = _counted_errors()
    own = [e for eng, _, e in errors if eng == engine]
    pools = [(own, f"engine {engine}: {len(own)} records")]
    if vendor:
        mine = [e for eng, ven, e in errors if eng == engine and ven == vendor]
        pools.insert(0, (mine, f"engine {engine} on {vendor} GPUs: {len(mine)} records"))
    every = [e for _, _, e in errors]
    pools.append((every, f"all engines: {len(every)} records ({len(own)} of engine {engine})"))
    for values, scope in pools:
        if len(values) >= MIN_BAND_RECORDS:
            return list(band_of(values)), scope
    n = len(every)
    return f"n/a: {n} counted serving record(s) ({MIN_BAND_RECORDS} needed)", pools[-1][1]


SERVING_BANDS_FILE = "serving_error_bands.yaml"
"""The bands as computed from the records, shipped so that `throughput` does not re-validate
every serving record (2.2 s) to print one: tools/error_bands.py writes it, a test checks it
equals computed_serving_error_bands()."""


def computed_serving_error_bands() -> dict[str, dict[str, list[float] | str]]:
    """Every serving engine's band and scope (computed_serving_error_band)."""
    from moeplan.perf.engines import ENGINES

    out: dict[str, dict[str, list[float] | str]] = {}
    vendors = sorted({vendor for _, vendor, _ in _counted_errors() if vendor})
    for engine in ENGINES:
        band, scope = computed_serving_error_band(engine)
        out[engine] = {"band": band, "scope": scope}
        for vendor in vendors:
            band, scope = computed_serving_error_band(engine, vendor)
            out[f"{engine}@{vendor}"] = {"band": band, "scope": scope}
    return out


def shipped_serving_error_bands() -> dict[str, dict[str, list[float] | str]]:
    return shipped_error_bands(SERVING_BANDS_FILE)


def serving_error_band(engine: str, vendor: str = "") -> tuple[list[float] | str, str]:
    """computed_serving_error_band of `engine` on `vendor`'s GPUs, read from SERVING_BANDS_FILE
    (keys engine@vendor, and engine for any vendor); an entry it lacks is computed."""
    vendor = vendor.lower()
    bands = shipped_serving_error_bands()
    entry = bands.get(f"{engine}@{vendor}") if vendor else bands.get(engine)
    if entry is None:
        return computed_serving_error_band(engine, vendor)
    band, scope = entry["band"], entry["scope"]
    return (list(band) if isinstance(band, list) else band), str(scope)
