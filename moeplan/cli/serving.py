"""`moeplan throughput`: the serving frontier, capacity, cost and launch line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from moeplan.cli.common import (
    DpOpt,
    EpOpt,
    FormatOpt,
    FractionOpt,
    JsonOpt,
    KvQuantOpt,
    ModelArg,
    PpOpt,
    QuantOpt,
    RoutingSkewOpt,
    StateDtypeOpt,
    TpOpt,
    app,
    output_format,
    positive,
)
from moeplan.cli.speculation_opts import MtpAccOpt, MtpOpt, speculation_of
from moeplan.errors import MoeplanError

if TYPE_CHECKING:
    from moeplan.cli.views.serving import ErrorBand
    from moeplan.hardware.prices import Price
    from moeplan.memory.quant import QuantScheme
    from moeplan.model.specs import ModelSpec
    from moeplan.perf.parallel import Layout
    from moeplan.perf.serving_search import Deployment, ServingResult
    from moeplan.perf.speculation import Speculation
    from moeplan.plan.launch import LaunchInputs

PriceFileOpt = Annotated[
    str | None, typer.Option("--price-file", help="Your own price list (prices.yaml format).")
]
GpuHourOpt = Annotated[
    float | None, typer.Option("--gpu-hour-usd", help="Price per GPU-hour in $, overrides all.")
]
DisaggOpt = Annotated[
    bool, typer.Option("--disaggregated", help="Separate prefill and decode pools.")
]
PlotOpt = Annotated[
    str | None, typer.Option("--plot", help="Draw the frontier to FILE (.svg, .png or .html).")
]


def pinned_layout(tp: int | None, ep: int | None, pp: int | None, dp: int | None) -> Layout | None:
    """--tp/--ep/--pp/--dp as a replica layout; None when none is given."""
    from moeplan.perf.parallel import Layout

    if tp is None and ep is None and pp is None and dp is None:
        return None
    for name, value in (("tp", tp), ("ep", ep), ("pp", pp), ("dp", dp)):
        if value is not None and value < 1:
            raise MoeplanError(f"--{name} must be at least 1, got {value}")
    tp = tp or 1
    dp = dp or ((ep // tp) if ep and ep > tp and ep % tp == 0 else 1)
    ep = ep or 1
    if ep not in (1, tp * dp):
        raise MoeplanError(f"--ep {ep} must be 1 or --tp x --dp ({tp * dp})")
    return Layout(tp=tp, ep=ep, pp=pp or 1, dp=dp)


def model_ref(model: str) -> str:
    """What an engine is given: the catalog entry's Hugging Face repo, else the argument."""
    if Path(model).exists():
        return model
    from moeplan.model.catalog import resolve_catalog_id
    from moeplan.yamlio import load_packaged_yaml

    try:
        entry = resolve_catalog_id(model)
    except MoeplanError:
        return model
    doc = load_packaged_yaml(entry.path, str(entry.path))
    return str(doc.get("hf_repo") or entry.id) if isinstance(doc, dict) else entry.id


def resolve_price(gpu_id: str, price_file: str | None, gpu_hour_usd: float | None) -> Price | None:
    from moeplan.hardware.prices import load_price_file, price_for

    prices = load_price_file(price_file) if price_file else None
    return price_for(gpu_id, prices, gpu_hour_usd)


def check_targets(**values: float | None) -> None:
    for name, value in values.items():
        positive(name.replace("_", "-"), value)


@app.command()
def throughput(
    model: ModelArg,
    gpu: Annotated[
        str, typer.Option("--gpu", help="GPU id (see `moeplan list gpus`) or a GPU YAML file.")
    ],
    gpus: Annotated[int, typer.Option("--gpus", help="GPUs of the whole deployment.")],
    input_len: Annotated[int, typer.Option("--input", help="Prompt tokens per request.")],
    output_len: Annotated[int, typer.Option("--output", help="Output tokens per request.")],
    quant: QuantOpt = None,
    kv_quant: KvQuantOpt = "bf16",
    state_dtype: StateDtypeOpt = "fp32",
    routing_skew: RoutingSkewOpt = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="vllm, sglang, sglang-fi, trtllm, trtllm-0.9, llamacpp, ideal, vllm-v0.",
        ),
    ] = "vllm",
    min_tok_s_user: Annotated[
        float | None,
        typer.Option("--min-tok-s-user", help="Output tok/s per user (TTFT included)."),
    ] = None,
    max_tpot_ms: Annotated[float | None, typer.Option("--max-tpot-ms")] = None,
    max_ttft_ms: Annotated[float | None, typer.Option("--max-ttft-ms")] = None,
    tp: TpOpt = None,
    ep: EpOpt = None,
    pp: PpOpt = None,
    dp: DpOpt = None,
    mtp: MtpOpt = 0,
    mtp_acceptance: MtpAccOpt = None,
    disaggregated: DisaggOpt = False,
    price_file: PriceFileOpt = None,
    gpu_hour_usd: GpuHourOpt = None,
    usable_fraction: FractionOpt = 0.9,
    plot: PlotOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --plot file.")
    ] = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "table",
) -> None:
    """Serving capacity: the frontier of output tok/s per GPU against tok/s per user over the
    layouts within --gpus (replicas included), max concurrency from KV memory, $/hour and
    $ per million output tokens, and the launch line of the best point."""
    from moeplan.cli.render import emit
    from moeplan.cli.views.serving import serving_json, serving_tables

    if plot is not None:
        from moeplan.cli.output import check_output

        check_output(plot, [model, gpu, price_file or ""], force, "--plot")
    from moeplan.hardware.gpus import resolve_gpu
    from moeplan.memory.quant import resolve_scheme
    from moeplan.model.catalog import load_model
    from moeplan.perf.engines import resolve_engine
    from moeplan.perf.serving import Workload
    from moeplan.perf.serving_search import Deployment, Targets, search_serving
    from moeplan.perf.terms import routing_skew_for

    for name, value in (("gpus", gpus), ("input", input_len), ("output", output_len)):
        positive(name, value)
    check_targets(
        min_tok_s_user=min_tok_s_user,
        max_tpot_ms=max_tpot_ms,
        max_ttft_ms=max_ttft_ms,
        usable_fraction=usable_fraction,
    )
    out = output_format(fmt, as_json)
    spec = load_model(model)
    device = resolve_gpu(gpu)
    dep = Deployment(
        spec,
        resolve_scheme(quant or "native", spec),
        device,
        resolve_engine(engine),
        kv_quant,
        state_dtype,
        usable_fraction,
        speculation_of(mtp, mtp_acceptance),
        disaggregated,
        routing_skew_for(spec, routing_skew),
    )
    price = resolve_price(device.id, price_file, gpu_hour_usd)
    targets = Targets(min_tok_s_user, max_tpot_ms, max_ttft_ms)
    result = search_serving(
        dep, Workload(input_len, output_len), gpus, targets, pinned_layout(tp, ep, pp, dp)
    )
    launch, launch_notes = launch_for(result, model)
    if plot:
        from moeplan.cli.plot import plot_frontier

        plot_frontier(plot, result, targets)
    band = error_band_of(dep.engine.id, device.vendor)
    emit(
        serving_tables(result, price, launch, band, launch_notes),
        out,
        serving_json(result, price, launch, band, launch_notes),
    )


def error_band_of(engine: str, vendor: str = "") -> ErrorBand:
    from moeplan.cli.views.serving import ErrorBand
    from moeplan.plan.validate_serving import SERVING_ERROR_BAND_DEFINITION, serving_error_band

    pct, scope = serving_error_band(engine, vendor)
    return ErrorBand(pct, scope, SERVING_ERROR_BAND_DEFINITION)


def launch_for(result: ServingResult, model: str) -> tuple[dict[str, str], list[str]]:
    """The launch commands of the best point, and the notes on the checkpoint they need."""
    lay = result.best_layout
    if lay is None or lay.capacity is None:
        return {}, []
    conc = result.best.concurrency_per_replica if result.best else lay.capacity.per_replica
    wl = result.workload
    return deployment_launch(
        model, result.deployment, lay.layout, conc, wl.input_len + wl.output_len, lay.replicas
    )


def deployment_launch(
    model: str, dep: Deployment, layout: Layout, concurrency: int, context: int, replicas: int
) -> tuple[dict[str, str], list[str]]:
    """The launch commands of `replicas` x `layout` serving `dep` (its quant, KV, memory
    fraction and drafting) at `concurrency` requests of `context` tokens a replica, and the
    notes on the checkpoint they need: `throughput`'s best point and `plan`'s chosen option."""
    from moeplan.plan.launch import LaunchInputs

    return launched(
        LaunchInputs(
            model_ref(model),
            layout,
            concurrency,
            context,
            dep.kv_quant,
            dep.usable_fraction,
            replicas,
            dep.engine.id,
            *quant_inputs(dep.scheme, dep.spec),
            draft_tokens=dep.speculation.draft_tokens,
            mtp_layers=dep.spec.mtp_layers,
        )
    )


def quant_inputs(scheme: QuantScheme, spec: ModelSpec) -> tuple[str, bool, str]:
    """LaunchInputs' quant, quant_native and checkpoint_quant for a planned scheme."""
    from moeplan.memory.quant import is_native

    native = is_native(scheme, spec)
    return (spec.native_quant if native else scheme.id), native, spec.native_quant


def launched(x: LaunchInputs) -> tuple[dict[str, str], list[str]]:
    from moeplan.plan.launch import launch_commands, launch_notes

    commands = launch_commands(x)
    return commands, launch_notes(x, list(commands))


def run_deploy(
    model: str,
    gpu: str,
    quant: str,
    kv_quant: str,
    state_dtype: str,
    engine: str,
    usable_fraction: float,
    input_len: int,
    output_len: int,
    target_output_tok_s: float | None,
    users: int | None,
    target_values: tuple[float | None, float | None, float | None],
    max_gpus: int,
    rank: str,
    price_file: str | None,
    gpu_hour_usd: float | None,
    top: int,
    out: str,
    plot: str | None,
    speculation: Speculation | None = None,
) -> bool:
    """`plan` with a demand: the deployment search; True when an option is accepted.
    target_values: --min-tok-s-user, --max-tpot-ms, --max-ttft-ms."""
    from moeplan.cli.render import emit
    from moeplan.cli.views.deploy import deploy_json, deploy_tables
    from moeplan.hardware.gpus import gpu_catalog, resolve_gpu
    from moeplan.memory.quant import MAIN_LEVELS, resolve_scheme
    from moeplan.model.catalog import load_model
    from moeplan.perf.engines import resolve_engine
    from moeplan.perf.serving import Workload
    from moeplan.perf.serving_search import Deployment, Targets
    from moeplan.perf.speculation import NO_SPECULATION, speculation_notes
    from moeplan.plan.deploy import Demand, plan_deployment

    speculation = speculation or NO_SPECULATION

    positive("target-output-tok-s", target_output_tok_s)
    positive("users", users)
    positive("min-tok-s-user", target_values[0])
    targets = Targets(*target_values)
    spec = load_model(model)
    if gpu.strip().lower() == "all":
        devices = list(gpu_catalog().values())
    else:
        devices = [resolve_gpu(g) for g in gpu.split(",") if g.strip()]
    from moeplan.cli.common import split_schemes

    # 'any': the main levels, and the checkpoint's own scheme when it is modelled
    native = [] if spec.native_quant.startswith("unmodelled:") else ["native"]
    names = [*MAIN_LEVELS, *native] if quant == "any" else split_schemes(quant)
    schemes = list({s.id: s for s in (resolve_scheme(q, spec) for q in names)}.values())
    prices = {d.id: resolve_price(d.id, price_file, gpu_hour_usd) for d in devices}
    base = Deployment(
        spec,
        schemes[0],
        devices[0],
        resolve_engine(engine),
        kv_quant,
        state_dtype,
        usable_fraction,
        speculation,
    )
    demand = Demand(target_output_tok_s, users)
    workload = Workload(input_len, output_len)
    result = plan_deployment(
        base, schemes, devices, prices, workload, demand, targets, max_gpus, rank == "gpus"
    )
    launch: dict[str, str] = {}
    launch_notes: list[str] = []
    chosen = result.accepted[0] if result.accepted else None
    if chosen is not None and chosen.point is not None:
        launch, launch_notes = deployment_launch(
            model,
            replace(base, scheme=chosen.scheme, gpu=chosen.gpu),
            chosen.layout,
            chosen.point.concurrency_per_replica,
            input_len + output_len,
            chosen.replicas,
        )
    if plot and chosen is not None:
        from moeplan.cli.plot import plot_deployment

        plot_deployment(plot, result, base, workload, targets)
    tables = deploy_tables(result, workload, demand, top, launch, launch_notes)
    tables[0].notes.extend(speculation_notes(spec, speculation))
    emit(
        tables,
        out,
        deploy_json(spec.name, result, workload, demand, targets, top, launch, launch_notes),
    )
    return chosen is not None
