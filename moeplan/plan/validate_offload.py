"""`moeplan validate`, expert offload: predict the published one-GPU-plus-host runs shipped in
``moeplan/data/offload_measurements.yaml`` and report decode errors (fitting records apart from
held-out ones) and fit/no-fit verdicts."""

from __future__ import annotations

import functools
import hashlib
import statistics
from dataclasses import dataclass, replace
from typing import Any

from moeplan.data import data_path, shipped_error_bands
from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import GPU, resolve_gpu
from moeplan.hardware.hosts import Host, custom_host, resolve_host, with_overrides
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.model.specs import ModelSpec
from moeplan.perf.kernel_counts import LLAMACPP_GDN_AUTOREGRESSIVE_KERNELS, LLAMACPP_GDN_KERNELS
from moeplan.perf.llamacpp_sampler import SamplerSettings, with_sampler
from moeplan.perf.offload import OffloadReport, estimate_offload
from moeplan.perf.offload_engines import OffloadProfile, resolve_offload_engine
from moeplan.perf.offload_flags import with_prompt_flags
from moeplan.plan.bands import band_of
from moeplan.plan.validate import speed_to_time_error
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
    # pooled records: the error with the constants refit without every run of its publication
    publication_out_error: float | None = None
    gpu_over_bytes: int = 0  # a run that ran which moeplan sizes over its GPU: by how much

    @property
    def error(self) -> float | None:
        """predicted / published - 1 for tok/s."""
        if self.metric not in SPEED_METRICS or self.predicted is None:
            return None
        return float(self.predicted) / float(self.published) - 1

    @property
    def out_of_sample_error(self) -> float | None:
        """The error with nothing fitted to this record or to the runs published with it: its
        leave-publication-out error when it helps set a constant (rule 3's pooled records), else
        its plain error."""
        return self.publication_out_error if self.used_for_fitting else self.error

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


@functools.cache
def _model(name: str) -> ModelSpec:
    """A catalog model, one object per name (refits predict each record many times)."""
    return load_model(name)


def record_host(how: dict[str, Any]) -> Host:
    """A record's host: the catalog entry (or a custom one) with the record's stated figures."""
    base = custom_host() if how["host"] == "custom" else resolve_host(how["host"])
    return with_overrides(
        base,
        how.get("host_mem_gbps"),
        how.get("host_ram_gb"),
        how.get("host_cores"),
        how.get("host_sockets"),
    )


def record_sampler(field: object) -> SamplerSettings | None:
    """A record's `sampler` field: 'none' (llama-bench, llama-batched-bench, sweep-bench: a random
    next token) or a mapping of top_k / top_p / min_p / era (perf/llamacpp_sampler.py); a record
    without the field runs llama-server's defaults."""
    if field == "none":
        return None
    if not isinstance(field, dict):
        raise MoeplanError(f"offload record sampler must be 'none' or a mapping, got {field!r}")
    unknown = set(field) - {"top_k", "top_p", "min_p", "era"}
    if unknown:
        raise MoeplanError(
            f"offload record sampler: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
            "(top_k, top_p, min_p, era)"
        )
    return SamplerSettings(**field)


def record_kv_quant(field: object) -> str:
    """A record's `kv_quant` (llama.cpp's -ctk/-ctv, or bf16 when not stated), case-free."""
    if not isinstance(field, str):
        raise MoeplanError(f"offload record kv_quant must be a cache type name, got {field!r}")
    return field.lower()


def record_gpu(how: dict[str, Any]) -> GPU:
    """A record's GPU: the catalog card, with `gpu_memory_gib` where the run's card has other
    memory than the catalog's (a memory-modded 48 GB RTX 4090 on the 24 GB entry's figures)."""
    gpu = resolve_gpu(how["gpu"])
    gib = how.get("gpu_memory_gib")
    if gib is None:
        return gpu
    if isinstance(gib, bool) or not isinstance(gib, (int, float)) or not 0 < gib < 4096:
        raise MoeplanError(f"offload record gpu_memory_gib must be positive GiB, got {gib!r}")
    return replace(gpu, memory_bytes=int(gib * (1 << 30)), memory_label_gb=float(gib))


def with_gdn_decode(engine: OffloadProfile, path: str) -> OffloadProfile:
    """A record's llama.cpp build by how its Gated DeltaNet decode ran (field `gdn_decode`):
    'autoregressive' (builds of PR 17996, Dec 2025, until the fused op: the delta rule as 12 ops,
    LLAMACPP_GDN_AUTOREGRESSIVE_KERNELS) or 'fused' (the default, LLAMACPP_GDN_KERNELS)."""
    counts = {"fused": LLAMACPP_GDN_KERNELS, "autoregressive": LLAMACPP_GDN_AUTOREGRESSIVE_KERNELS}
    if path not in counts or engine.id != "llamacpp":
        raise MoeplanError(f"gdn_decode '{path}' is a llama.cpp build's: fused or autoregressive")
    kernels = replace(engine.gpu_engine.kernels, linear_attention=counts[path])
    return replace(engine, gpu_engine=replace(engine.gpu_engine, kernels=kernels))


def report_for(
    how: dict[str, Any],
    speed_when_over_gpu: bool = False,
    host_read_bytes_per_s: float | None = None,
) -> OffloadReport:
    """The offload estimate under a record's stated conditions (`speed_when_over_gpu`: price
    the speed of a run that ran even where moeplan sizes it over its GPU; `host_read_bytes_per_s`:
    the host's read rate set, as --host-mem-measured-gbps does)."""
    spec = _model(how["model"])
    host = record_host(how)
    if host_read_bytes_per_s is not None:
        host = replace(host, read_override_bytes_per_s=host_read_bytes_per_s)
    engine = resolve_offload_engine(how["engine"])
    if how.get("gdn_decode", "fused") != "fused":  # a build before the fused delta-rule op
        engine = with_gdn_decode(engine, how["gdn_decode"])
    if how.get("split_graphs") is False:  # a build whose splits ran without CUDA graphs
        engine = replace(engine, split_graph_vendors=())
    engine = with_prompt_flags(  # -ub, --no-op-offload, kt threshold, cache_lens, swa, mmap
        engine,
        how.get("ubatch_tokens"),
        how.get("op_offload", True),
        how.get("kt_gpu_prefill_token_threshold"),
        how.get("cache_lens"),
        how.get("swa_full", False),
        how.get("mmap", True),
    )
    if "sampler" in how:  # 'none' (llama-bench: no sampler) or the run's stated settings
        engine = with_sampler(engine, record_sampler(how["sampler"]))
    mode = how.get("offload", "experts")
    return estimate_offload(
        spec,
        resolve_scheme(how["quant"], spec),
        record_gpu(how),
        host,
        engine,
        mode,
        how.get("n_cpu_moe"),
        1,
        how["input_len"],
        how["output_len"],
        record_kv_quant(how.get("kv_quant", "bf16")),
        speed_when_over_gpu=speed_when_over_gpu,
        ctx_size=how.get("ctx_size"),  # -c: the cache cells allocated, not the request's
    )


def validate_offload_record(rec: dict[str, Any]) -> OffloadValidation:
    how = rec["moeplan"]
    base = dict(
        id=rec["id"],
        metric=str(rec["metric"]),
        published=rec["value"],
        used_for_fitting=False,  # set by validate_offload_all (rule 3: the pooled records)
        reading=how.get("reading", ""),
    )
    if "skip" in how:
        return OffloadValidation(predicted=None, engine="", skipped=how["skip"], **base)
    try:
        report = report_for(how, speed_when_over_gpu=rec["metric"] in SPEED_METRICS)
    except MoeplanError as exc:
        raise MoeplanError(f"offload record '{rec['id']}': {exc}") from None
    placement = report.placement
    if rec["metric"] == "fit":
        fit = placement.fits_gpu if how.get("fit_scope") == "gpu" else report.fits
        predicted: float | bool | None = fit
    elif rec["metric"] == "decode_tok_s":
        predicted = report.decode_tok_s
    elif rec["metric"] == "prefill_tok_s":
        predicted = report.prefill_tok_s
    else:
        raise MoeplanError(f"offload record '{rec['id']}': unknown metric '{rec['metric']}'")
    over = 0 if rec["metric"] == "fit" else placement.gpu_bytes - placement.gpu_capacity_bytes
    return OffloadValidation(
        predicted=predicted,
        engine=report.engine.id,
        n_cpu_moe=placement.n_cpu_moe,
        gpu_over_bytes=max(0, over),
        **base,
    )


def validate_offload_all() -> list[OffloadValidation]:
    """Every record predicted; pooled decode records (rule 3: they set their engine's constants)
    are marked used_for_fitting and carry their leave-publication-out error."""
    return list(_validate_offload_all())


@functools.cache
def _validate_offload_all() -> tuple[OffloadValidation, ...]:
    from moeplan.plan.offload_refit import leave_publication_out_error, pooled_family

    results = []
    for rec in load_offload_records():
        v = validate_offload_record(rec)
        if pooled_family(rec) is not None:
            v = replace(
                v, used_for_fitting=True, publication_out_error=leave_publication_out_error(rec)
            )
        results.append(v)
    return tuple(results)


def median_abs_error(results: list[OffloadValidation], fitting: bool) -> float | None:
    """Median |error| of the decode records that set a constant (fitting=True: in sample) or
    set none (fitting=False: held out)."""
    errors = [
        abs(r.error)
        for r in results
        if r.error is not None and r.metric == "decode_tok_s" and r.used_for_fitting == fitting
    ]
    return statistics.median(errors) if errors else None


def out_of_sample_errors(results: list[OffloadValidation]) -> list[float]:
    """Each decode record's error with nothing fitted to it: the leave-publication-out error of
    a pooled record, the plain error of a held-out one."""
    errors = []
    for r in results:
        if r.metric != "decode_tok_s" or r.error is None:
            continue
        e = r.out_of_sample_error
        if e is not None:
            errors.append(e)
    return errors


def median_out_of_sample_error(results: list[OffloadValidation]) -> float | None:
    errors = [abs(e) for e in out_of_sample_errors(results)]
    return statistics.median(errors) if errors else None


def prefill_errors(results: list[OffloadValidation]) -> dict[str, list[float]]:
    """|error| of the prompt-speed records by engine family (offload_refit.FAMILIES: every
    ktransformers version is one): reported, no constant is fitted to them."""
    from moeplan.plan.offload_refit import FAMILIES

    family_of = {engine: family for family, engines in FAMILIES.items() for engine in engines}
    by_family: dict[str, list[float]] = {}
    for r in results:
        if r.metric == "prefill_tok_s" and r.error is not None:
            family = family_of.get(r.engine, r.engine)
            by_family.setdefault(family, []).append(abs(r.error))
    return by_family


def verdicts(results: list[OffloadValidation]) -> tuple[int, int]:
    """(right, total) fit/no-fit verdicts."""
    judged = [r.verdict_right for r in results if r.verdict_right is not None]
    return sum(1 for v in judged if v), len(judged)


OFFLOAD_ERROR_BAND_DEFINITION = (
    "error_band_pct: [10th, 90th percentile] (with fewer than 10 records: [lowest, highest]) "
    "residual of decode (or prompt) time for this offload engine over the records of "
    "`moeplan validate`, predicted / measured time - 1 in % "
    "(positive: the estimate is slower than measured), each out of sample: a record that helps "
    "set the engine's constant with the constant refit without the runs of its publication "
    "(leave-publication-out); n/a below 3 "
    "records"
)

BAND_METRICS = {"decode": "decode_tok_s", "prefill": "prefill_tok_s"}


@functools.cache
def _band(engine: str, metric: str) -> tuple[float, float] | str:
    time_errors = [
        speed_to_time_error(e)
        for v in validate_offload_all()
        if v.metric == metric and v.engine == engine
        for e in [v.out_of_sample_error]
        if e is not None
    ]
    if len(time_errors) < 3:
        return f"n/a: {len(time_errors)} published {metric} record(s) for {engine} (3 needed)"
    return band_of(time_errors)


BANDS_FILE = "offload_error_bands.yaml"
"""The bands as computed from the records, shipped so that an offload estimate does not
re-validate every record (2.7 s) to print them: tools/error_bands.py writes it, a test checks
it equals computed_offload_error_bands()."""


def computed_offload_error_bands() -> dict[str, dict[str, list[float] | str]]:
    """Every offload engine's band in each regime, from the records (band_of)."""
    from moeplan.perf.offload_engines import OFFLOAD_ENGINES

    out: dict[str, dict[str, list[float] | str]] = {}
    for engine in OFFLOAD_ENGINES:
        out[engine] = {}
        for regime, metric in BAND_METRICS.items():
            band = _band(engine, metric)
            out[engine][regime] = band if isinstance(band, str) else list(band)
    return out


def shipped_offload_error_bands() -> dict[str, dict[str, list[float] | str]]:
    return shipped_error_bands(BANDS_FILE)


def offload_error_band_pct(engine: str, regime: str) -> list[float] | str:
    """Spread of the out-of-sample residuals of `engine` in `regime` ("decode" or "prefill") as
    time errors (validate.py speed_to_time_error): [low, high] in % (band_of),
    or "n/a: reason" with fewer than 3 records (issue 17's band); read from BANDS_FILE."""
    band = shipped_offload_error_bands()[engine][regime]
    return list(band) if isinstance(band, list) else band
