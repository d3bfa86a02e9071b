"""Evaluate budgets: size and latency for each, compared with its limits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from moeplan.errors import LayoutError, MoeplanError
from moeplan.plan.budget import (
    LIMITS,
    SERVING_LIMITS,
    Budget,
    CheckReport,
    LimitResult,
    parse_budget_file,
)

if TYPE_CHECKING:
    from moeplan.hardware.gpus import GPU
    from moeplan.memory.quant import QuantScheme
    from moeplan.model.specs import ModelSpec
    from moeplan.perf.engines import EngineProfile
    from moeplan.perf.parallel import Layout

T = TypeVar("T")


def _field(budget: Budget, field: str, call: Callable[[], T]) -> T:
    """Run a lookup, re-raising its error with the file, budget and field it came from."""
    try:
        return call()
    except LayoutError:
        raise
    except MoeplanError as exc:
        raise MoeplanError(
            f"{budget.file}: budget '{budget.name}': field '{field}': {exc}"
        ) from None


def evaluate_budget(budget: Budget) -> list[LimitResult]:
    from moeplan.hardware.gpus import resolve_gpu
    from moeplan.memory.cache import require_cache_type_of, state_dtype_bytes
    from moeplan.memory.estimate import kv_dtype_bytes
    from moeplan.memory.quant import resolve_scheme
    from moeplan.memory.sizing import size_model
    from moeplan.model.catalog import load_model
    from moeplan.perf.calibration import load_calibration, rates_from_calibration
    from moeplan.perf.engines import resolve_engine
    from moeplan.perf.latency import latency_point, make_setup
    from moeplan.perf.network import Network

    spec = _field(budget, "model", lambda: load_model(budget.model))
    gpu = _field(budget, "gpu", lambda: resolve_gpu(budget.gpu))
    scheme = _field(budget, "quant", lambda: resolve_scheme(budget.quant, spec))
    _field(budget, "kv_quant", lambda: kv_dtype_bytes(budget.kv_quant))
    _field(budget, "state_dtype", lambda: state_dtype_bytes(budget.state_dtype))
    if budget.offloaded:
        offloaded = _offload_values(budget, spec, scheme, gpu)
        for name in SERVING_LIMITS:
            offloaded[name] = (None, "serving limits are not modelled with offload")
        return _limit_results(budget, offloaded)
    engine = _field(budget, "engine", lambda: resolve_engine(budget.engine or "vllm"))
    _field(budget, "kv_quant", lambda: require_cache_type_of(budget.kv_quant, engine.id))
    fraction = budget.limits.get("max_memory_fraction", 0.9)
    explicit_layout = any(v is not None for v in (budget.tp, budget.ep, budget.pp))
    try:
        report = size_model(
            spec,
            scheme,
            max(budget.context, budget.input_len + budget.output),
            budget.batch,
            budget.kv_quant,
            gpu,
            fraction,
            gpus=budget.gpus if explicit_layout else budget.gpus or 1,
            tp=budget.tp,
            ep=budget.ep,
            pp=budget.pp,
            state_dtype=budget.state_dtype,
            text_only=budget.text_only,
        )
    except LayoutError as exc:
        raise MoeplanError(f"{budget.file}: budget '{budget.name}': layout: {exc}") from None
    mem, shard = report.memory, report.shard
    assert shard is not None  # a layout is always given above
    layout = shard.layout
    values: dict[str, tuple[float | None, str]] = {
        "max_memory_fraction": (
            shard.total_bytes / gpu.memory_bytes,
            f"{shard.total_bytes / 1e9:.1f} GB of {gpu.memory_bytes / 1e9:.1f} GB "
            f"on {layout.describe()}",
        ),
        "max_weights_gb": (mem.weights_bytes / 1e9, "decimal GB"),
    }
    values["max_gpus"] = (
        float(report.gpus_needed) if report.gpus_needed else None,
        f"at {fraction:g} of {gpu.id}" if report.gpus_needed else "does not fit on 1024 GPUs",
    )
    # the calibration and the deployment are checked whichever limits the budget sets
    rates = None
    calibration_path = budget.calibration
    if calibration_path:
        rates = _field(
            budget,
            "calibration",
            lambda: rates_from_calibration(load_calibration(calibration_path, gpu), gpu, engine),
        )
    setup = _field(
        budget,
        "nodes",
        lambda: make_setup(
            spec,
            scheme,
            gpu,
            layout,
            engine,
            rates,
            Network(budget.nodes),
            budget.kv_quant,
            budget.state_dtype,
        ),
    )
    if {
        "min_decode_tokens_per_s",
        "min_total_tokens_per_s",
        "max_ttft_ms",
        "max_tpot_ms",
    } & budget.limits.keys():
        p = latency_point(setup, budget.batch, budget.input_len, budget.output, check_memory=False)
        detail = (
            f"batch {budget.batch}, input {budget.input_len}, output {budget.output}, {engine.id}"
        )
        values.update(
            {
                "min_decode_tokens_per_s": (p.tokens_per_s_per_seq, detail),
                "min_total_tokens_per_s": (p.tokens_per_s_total, detail),
                "max_ttft_ms": (p.ttft_ms, detail),
                "max_tpot_ms": (p.tpot_ms, detail),
            }
        )
    if set(SERVING_LIMITS) & budget.limits.keys():
        values.update(_serving_values(budget, spec, scheme, gpu, engine, layout))
    return _limit_results(budget, values)


def _serving_values(
    budget: Budget,
    spec: ModelSpec,
    scheme: QuantScheme,
    gpu: GPU,
    engine: EngineProfile,
    layout: Layout,
) -> dict[str, tuple[float | None, str]]:
    """The serving model at the budget's layout with `batch` requests in flight."""
    from moeplan.hardware.prices import price_for, usd_per_hour, usd_per_million_tokens
    from moeplan.perf.serving import Workload, aggregated_point
    from moeplan.perf.serving_search import Deployment, setup_for

    dep = Deployment(spec, scheme, gpu, engine, budget.kv_quant, budget.state_dtype)
    p = aggregated_point(
        setup_for(dep, layout), Workload(budget.input_len, budget.output), budget.batch, 1
    )
    detail = f"{budget.batch} requests, input {budget.input_len}, output {budget.output}"
    if p is None:
        why = "prompts exceed the engine's token budget per step"
        return dict.fromkeys(SERVING_LIMITS, (None, why))
    price = _field(budget, "gpu_hour_usd", lambda: price_for(gpu.id, None, budget.gpu_hour_usd))
    cost = (
        usd_per_million_tokens(usd_per_hour(price, layout.gpus), p.output_tok_s) if price else None
    )
    if price is None:
        cost_detail = f"no price for {gpu.id}: set gpu_hour_usd"
    elif budget.gpu_hour_usd is not None:
        cost_detail = f"${price.usd_per_gpu_hour:.2f}/GPU-h (gpu_hour_usd in the budget)"
    else:
        cost_detail = (
            f"${price.usd_per_gpu_hour:.2f}/GPU-h ({price.provider}, as of {price.as_of or '-'})"
        )
    return {
        "min_output_tok_s_per_gpu": (p.output_tok_s_per_gpu, detail),
        "min_output_tok_s_per_user": (p.output_tok_s_per_user, detail),
        "max_usd_per_million_tokens": (cost, cost_detail),
    }


def _limit_results(
    budget: Budget, values: dict[str, tuple[float | None, str]]
) -> list[LimitResult]:
    return [
        LimitResult(
            budget.name,
            budget.file,
            name,
            threshold,
            values[name][0],
            LIMITS[name][1],
            values[name][1],
        )
        for name, threshold in budget.limits.items()
    ]


def _offload_values(
    budget: Budget, spec: ModelSpec, scheme: QuantScheme, gpu: GPU
) -> dict[str, tuple[float | None, str]]:
    """Limits of a budget that names a host: one GPU plus host RAM (perf/offload.py). max_gpus
    is 1 when the placement fits, the memory fraction is the GPU's."""
    from moeplan.hardware.hosts import HOST_OPTIONS, custom_host, resolve_host, with_overrides
    from moeplan.memory.cache import require_cache_type_of
    from moeplan.perf.offload import estimate_offload
    from moeplan.perf.offload_engines import resolve_offload_engine
    from moeplan.perf.offload_placement import require_gpu_reserve

    if budget.host is None and budget.host_mem_gbps is None:
        raise MoeplanError(
            f"{budget.file}: budget '{budget.name}': field 'host': an offload needs a host "
            f"({HOST_OPTIONS} as fields host, host_mem_gbps, host_ram_gb, host_cores)"
        )
    name = budget.host
    base = _field(budget, "host", lambda: resolve_host(name) if name else custom_host())
    host = _field(
        budget,
        "host",
        lambda: with_overrides(
            base, budget.host_mem_gbps, budget.host_ram_gb, budget.host_cores, budget.host_sockets
        ),
    )
    engine = _field(budget, "engine", lambda: resolve_offload_engine(budget.engine))
    _field(budget, "kv_quant", lambda: require_cache_type_of(budget.kv_quant, engine.id))
    if budget.offload == "none" or (budget.offload is None and budget.n_cpu_moe is None):
        raise MoeplanError(
            f"{budget.file}: budget '{budget.name}': field 'offload': the budget names a host "
            "(or n_cpu_moe, gpu_reserved_gb); set offload: experts or auto, or n_cpu_moe"
        )
    mode = budget.offload or "experts"
    reserved = round((budget.gpu_reserved_gb or 0.0) * 1e9)
    _field(budget, "gpu_reserved_gb", lambda: require_gpu_reserve(reserved, gpu))
    r = _field(
        budget,
        "offload",
        lambda: estimate_offload(
            spec,
            scheme,
            gpu,
            host,
            engine,
            mode,
            budget.n_cpu_moe,
            budget.batch,
            budget.input_len,
            budget.output,
            budget.kv_quant,
            gpu_reserved_bytes=reserved,
        ),
    )
    p = r.placement
    detail = f"{gpu.id} + {host.id}, --n-cpu-moe {p.n_cpu_moe}, {engine.id}"
    values: dict[str, tuple[float | None, str]] = {
        "max_memory_fraction": (p.gpu_bytes / gpu.memory_bytes, detail),
        "max_weights_gb": ((p.gpu_weight_bytes + p.host_expert_bytes) / 1e9, "decimal GB"),
        "max_gpus": (1.0 if p.fits else None, r.reason),
    }
    speed = r.speed
    tok_s = r.decode_tok_s
    values.update(
        {
            "min_decode_tokens_per_s": (tok_s, detail if tok_s else r.reason),
            "min_total_tokens_per_s": (tok_s * budget.batch if tok_s else None, detail),
            "max_ttft_ms": (speed.prefill_s * 1e3 if speed else None, detail),
            "max_tpot_ms": (1e3 / tok_s if tok_s else None, detail),
        }
    )
    return values


def check_files(paths: list[str]) -> CheckReport:
    """Parse every file first (any invalid file stops the check), then evaluate."""
    if not paths:
        raise MoeplanError("no budget file given")
    budgets = [b for p in paths for b in parse_budget_file(Path(p))]
    report = CheckReport()
    for budget in budgets:
        try:
            report.results.extend(evaluate_budget(budget))
        except MoeplanError as exc:  # every error names the file and the budget
            prefix = f"{budget.file}: budget '{budget.name}'"
            if str(exc).startswith(prefix):
                raise
            raise MoeplanError(f"{prefix}: {exc}") from None
    return report
