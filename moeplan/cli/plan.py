"""`moeplan plan`: parse, call the library, render."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from moeplan.cli.common import (
    EngineOpt,
    FormatOpt,
    FractionOpt,
    InputOpt,
    JsonOpt,
    KvQuantOpt,
    ModelArg,
    OutputOpt,
    StateDtypeOpt,
    app,
    output_format,
    positive,
    split_schemes,
)
from moeplan.cli.offload import (
    GpuReservedOpt,
    HostArgs,
    HostCoresOpt,
    HostMemMeasuredOpt,
    HostMemOpt,
    HostOpt,
    HostRamOpt,
    HostSocketsOpt,
)
from moeplan.cli.speculation_opts import MtpAccOpt, MtpOpt, speculation_of
from moeplan.errors import MoeplanError, UnknownNameError

if TYPE_CHECKING:
    from moeplan.perf.offload_engines import OffloadProfile


@app.command()
def plan(
    model: ModelArg,
    gpu: Annotated[
        str, typer.Option("--gpu", help="GPU ids (or GPU YAML files) to consider, comma-separated.")
    ],
    max_gpus: Annotated[int, typer.Option("--max-gpus", help="Most GPUs to consider.")] = 8,
    context: Annotated[
        int | None,
        typer.Option("--context", help="Tokens per sequence (input + output); overrides --input."),
    ] = None,
    input_len: InputOpt = 1024,
    output_len: OutputOpt = 256,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Sequences decoded together.")
    ] = 1,
    max_ttft_ms: Annotated[float | None, typer.Option("--max-ttft-ms")] = None,
    max_tpot_ms: Annotated[float | None, typer.Option("--max-tpot-ms")] = None,
    min_tokens_per_s: Annotated[
        float | None,
        typer.Option("--min-tokens-per-s", help="Total decode tokens/s at the concurrency."),
    ] = None,
    quant: Annotated[
        str,
        typer.Option(
            "--quant", help="'any' (the main levels and native) or a comma-separated list."
        ),
    ] = "any",
    kv_quant: KvQuantOpt = "bf16",
    state_dtype: StateDtypeOpt = "fp32",
    engine: EngineOpt = "vllm",
    usable_fraction: FractionOpt = 0.9,
    top: Annotated[int, typer.Option("--top", help="Rows of accepted/rejected to show.")] = 5,
    target_output_tok_s: Annotated[
        float | None,
        typer.Option("--target-output-tok-s", help="Demand: output tokens/s in total."),
    ] = None,
    users: Annotated[
        int | None, typer.Option("--users", help="Demand: concurrent users (requests).")
    ] = None,
    min_tok_s_user: Annotated[
        float | None,
        typer.Option("--min-tok-s-user", help="Output tok/s per user, TTFT included."),
    ] = None,
    rank: Annotated[
        str, typer.Option("--rank", help="With a demand: 'cost' ($/M output tokens) or 'gpus'.")
    ] = "cost",
    price_file: Annotated[
        str | None, typer.Option("--price-file", help="Your own price list (prices.yaml format).")
    ] = None,
    gpu_hour_usd: Annotated[
        float | None, typer.Option("--gpu-hour-usd", help="Price per GPU-hour in $.")
    ] = None,
    plot_file: Annotated[
        str | None, typer.Option("--plot", help="With a demand: draw the frontiers to FILE.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --plot file.")
    ] = False,
    host: HostOpt = None,
    host_mem_gbps: HostMemOpt = None,
    host_mem_measured_gbps: HostMemMeasuredOpt = None,
    gpu_reserved_gb: GpuReservedOpt = None,
    host_ram_gb: HostRamOpt = None,
    host_cores: HostCoresOpt = None,
    host_sockets: HostSocketsOpt = None,
    mtp: MtpOpt = 0,
    mtp_acceptance: MtpAccOpt = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "table",
) -> None:
    """Cheapest deployment that fits and meets every target. With a demand
    (--target-output-tok-s or --users, at --min-tok-s-user): the serving search over GPU kinds
    ('all' for the catalog), quantizations, replica layouts and replicas, ranked by $ per million
    output tokens (--rank gpus: by GPUs). Without one: one batch of --concurrency, fewest GPUs
    first; with --host, also one GPU plus host RAM (expert offload). --mtp K --mtp-acceptance A:
    decode drafts K tokens a step with the model's MTP layers (GPU candidates only)."""
    from moeplan.cli.render import emit
    from moeplan.cli.views.perf import plan_json, plan_tables
    from moeplan.hardware.gpus import resolve_gpu
    from moeplan.memory.quant import MAIN_LEVELS, resolve_scheme
    from moeplan.model.catalog import load_model
    from moeplan.perf.engines import resolve_engine
    from moeplan.perf.speculation import speculation_notes
    from moeplan.plan.search import Targets
    from moeplan.plan.search import plan as run_plan

    for name, value in (
        ("max-gpus", max_gpus),
        ("context", context),
        ("input", input_len),
        ("output", output_len),
        ("concurrency", concurrency),
        ("max-ttft-ms", max_ttft_ms),
        ("max-tpot-ms", max_tpot_ms),
        ("min-tokens-per-s", min_tokens_per_s),
        ("top", top),
    ):
        positive(name, value)
    out = output_format(fmt, as_json)
    speculation = speculation_of(mtp, mtp_acceptance)
    if rank not in ("cost", "gpus"):
        raise MoeplanError(f"--rank must be 'cost' or 'gpus', got '{rank}'")
    if plot_file is not None:
        from moeplan.cli.output import check_output

        inputs = [model, *gpu.split(","), price_file or "", host or ""]
        check_output(plot_file, inputs, force, "--plot")
    if context is not None:
        if context <= output_len:
            raise MoeplanError(f"--context {context} must exceed --output {output_len}")
        input_len = context - output_len
    host_args = HostArgs(
        "auto", None, host, host_mem_gbps, host_ram_gb, host_cores, host_sockets,
        host_mem_measured_gbps=host_mem_measured_gbps, gpu_reserved_gb=gpu_reserved_gb,
    )  # fmt: skip
    if target_output_tok_s is not None or users is not None:
        from moeplan.cli.serving import run_deploy

        if (
            concurrency != 1
            or min_tokens_per_s is not None
            or host_args.host_given
            or gpu_reserved_gb is not None
        ):
            raise MoeplanError(
                "--concurrency/--min-tokens-per-s/--host (--host-*) plan one batch; with a "
                "demand give --users or --target-output-tok-s and --min-tok-s-user instead"
            )
        targets_ = (min_tok_s_user, max_tpot_ms, max_ttft_ms)
        if not run_deploy(
            model, gpu, quant, kv_quant, state_dtype, engine, usable_fraction, input_len,
            output_len, target_output_tok_s, users, targets_, max_gpus, rank, price_file,
            gpu_hour_usd, top, out, plot_file, speculation,
        ):  # fmt: skip
            raise typer.Exit(1)
        return
    if min_tok_s_user is not None or plot_file is not None:
        raise MoeplanError("--min-tok-s-user and --plot need a demand (--users, ...)")
    spec = load_model(model)
    # 'any': the main levels, and the checkpoint's own scheme when it is modelled
    native = [] if spec.native_quant.startswith("unmodelled:") else ["native"]
    names = [*MAIN_LEVELS, *native] if quant == "any" else split_schemes(quant)
    schemes = [resolve_scheme(q, spec) for q in names]
    if not all(g.strip() for g in gpu.split(",")):
        raise MoeplanError(f"--gpu must be comma-separated GPU ids, got '{gpu}'")
    devices = [resolve_gpu(g) for g in gpu.split(",")]
    targets = Targets(max_ttft_ms, max_tpot_ms, min_tokens_per_s)
    offload = None
    if mtp and host_args.host_given:
        raise MoeplanError(
            "--mtp prices drafting on GPUs; the offload candidates (--host, --host-*) do not draft"
        )
    if gpu_reserved_gb is not None and not host_args.host_given:
        raise MoeplanError("--gpu-reserved-gb sizes offload candidates: add --host")
    asked = engine
    offload_engine, engine = offload_engine_or_default(engine)
    if engine != asked and not host_args.host_given:  # an engine that serves offload only
        raise MoeplanError(f"--engine {asked} is an offload engine: add --host")
    if host_args.host_given:
        from moeplan.plan.offload_plan import plan_offload

        offload = plan_offload(
            spec,
            schemes,
            devices,
            host_args.resolve_host(),
            offload_engine,
            input_len,
            output_len,
            concurrency,
            targets,
            kv_quant,
            host_args.gpu_reserved_bytes(),
        )
    result = run_plan(
        spec,
        schemes,
        devices,
        max_gpus,
        input_len,
        output_len,
        concurrency,
        targets,
        resolve_engine(engine),
        kv_quant,
        usable_fraction,
        state_dtype=state_dtype,
        speculation=speculation,
    )
    tables, doc = plan_tables(result, top), plan_json(spec, result, top)
    tables[0].notes.extend(speculation_notes(spec, speculation))
    if engine != asked:  # a ktransformers engine: the GPU-only candidates need a GPU engine
        tables[0].notes.append(
            f"GPU-only candidates priced with {engine}: {asked} serves no GPU-only deployment"
        )
    if offload is not None:
        from moeplan.cli.views.offload import offload_plan_json, offload_plan_table
        from moeplan.perf.offload_formats import left_out_note, loads

        tables.append(offload_plan_table(offload, top, offload_engine.id))
        doc["offload"] = offload_plan_json(offload, top)
        left_out = [s.id for s in schemes if not loads(offload_engine, s)]
        if left_out:
            doc["offload"]["left_out"] = left_out
            tables[-1].notes.append(left_out_note(offload_engine, left_out))
    emit(tables, out, doc)
    if not result.accepted and not any(c.ok for c in offload or []):
        raise typer.Exit(1)


def offload_engine_or_default(name: str) -> tuple[OffloadProfile, str]:
    """`plan --engine NAME` with a host: the offload engine NAME names (llama.cpp where NAME is a
    GPU serving engine such as vllm), and the GPU engine of the GPU-only candidates (llama.cpp
    for a ktransformers engine, which serves no GPU-only deployment)."""
    from moeplan.perf.offload_engines import resolve_offload_engine

    try:
        profile = resolve_offload_engine(name)
    except UnknownNameError:
        return resolve_offload_engine(None), name
    return profile, profile.gpu_engine.id if profile.id != "llamacpp" else name
