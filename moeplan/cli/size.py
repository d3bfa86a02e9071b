"""The `moeplan` command line: parse, call the library, render. No math here."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from moeplan.cli.common import (
    BatchOpt,
    CalibrationOpt,
    ContextOpt,
    EpOpt,
    FormatOpt,
    FractionOpt,
    FromHubOpt,
    GpuOpt,
    GpusOpt,
    JsonOpt,
    KvQuantOpt,
    ModelArg,
    PpOpt,
    QuantOpt,
    RevisionOpt,
    StateDtypeOpt,
    TextOnlyOpt,
    TpOpt,
    app,
    output_format,
    positive,
)
from moeplan.cli.offload import (
    CacheLensOpt,
    CtxSizeOpt,
    GpuReservedOpt,
    HostArgs,
    HostCoresOpt,
    HostMemMeasuredOpt,
    HostMemOpt,
    HostOpt,
    HostRamOpt,
    HostSocketsOpt,
    KtGpuExpertsOpt,
    NCpuMoeOpt,
    OffloadOpt,
    PromptArgs,
    SwaFullOpt,
    UbatchOpt,
)
from moeplan.errors import MoeplanError


@app.command()
def size(
    model: ModelArg,
    quant: QuantOpt = None,
    revision: RevisionOpt = None,
    from_hub: FromHubOpt = False,
    kv_quant: KvQuantOpt = "bf16",
    context: ContextOpt = 4096,
    batch: BatchOpt = 1,
    gpu: GpuOpt = None,
    gpus: GpusOpt = None,
    tp: TpOpt = None,
    ep: EpOpt = None,
    pp: PpOpt = None,
    usable_fraction: FractionOpt = 0.9,
    mtp: Annotated[bool, typer.Option("--mtp", help="Load the MTP layers too.")] = False,
    state_dtype: StateDtypeOpt = "fp32",
    text_only: TextOnlyOpt = False,
    calibration: CalibrationOpt = None,
    offload: OffloadOpt = None,
    n_cpu_moe: NCpuMoeOpt = None,
    kt_gpu_experts: KtGpuExpertsOpt = None,
    host: HostOpt = None,
    host_mem_gbps: HostMemOpt = None,
    host_mem_measured_gbps: HostMemMeasuredOpt = None,
    gpu_reserved_gb: GpuReservedOpt = None,
    host_ram_gb: HostRamOpt = None,
    host_cores: HostCoresOpt = None,
    host_sockets: HostSocketsOpt = None,
    ubatch: UbatchOpt = None,
    cache_lens: CacheLensOpt = None,
    ctx_size: CtxSizeOpt = None,
    swa_full: SwaFullOpt = False,
    engine: Annotated[
        str | None,
        typer.Option("--engine", help="With --offload: llamacpp (default) or ktransformers."),
    ] = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "table",
) -> None:
    """Parameters (total, active, per component), weight memory, KV cache, GPUs needed; with
    --offload, the bytes on one GPU and in host RAM and whether they fit."""
    from moeplan.cli.render import emit
    from moeplan.cli.views.size import levels_table, size_json, size_tables
    from moeplan.memory.quant import MAIN_LEVELS, resolve_scheme
    from moeplan.memory.sizing import size_model
    from moeplan.model.catalog import load_model

    for name, value in (
        ("context", context),
        ("batch", batch),
        ("gpus", gpus),
        ("tp", tp),
        ("ep", ep),
        ("pp", pp),
        ("usable-fraction", usable_fraction),
    ):
        positive(name, value)
    if usable_fraction > 1:
        raise MoeplanError(f"--usable-fraction must be at most 1, got {usable_fraction}")
    out = output_format(fmt, as_json)
    spec = load_model(model, revision, from_hub)
    device = None
    if gpu:  # the GPU catalog is loaded only when a GPU is named
        from moeplan.hardware.gpus import resolve_gpu

        device = resolve_gpu(gpu)
    host_args = HostArgs(
        offload, n_cpu_moe, host, host_mem_gbps, host_ram_gb, host_cores, host_sockets,
        host_mem_measured_gbps=host_mem_measured_gbps,
        prompt=PromptArgs(ubatch, cache_lens=cache_lens, swa_full=swa_full),
        gpu_reserved_gb=gpu_reserved_gb, kt_gpu_experts=kt_gpu_experts, ctx_size=ctx_size,
    )  # fmt: skip
    buffer_flags = (ubatch, cache_lens, ctx_size)
    if (any(f is not None for f in buffer_flags) or swa_full) and not host_args.wanted:
        raise MoeplanError(
            "--ctx-size, --ubatch, --cache-lens and --swa-full size an offload run's GPU buffers; "
            "add --offload"
        )
    if host_args.wanted:
        from moeplan.cli.offload import offload_report
        from moeplan.cli.views.offload import offload_json, offload_tables

        if device is None or any(v is not None for v in (gpus, tp, ep, pp)):
            raise MoeplanError("--offload needs --gpu (one GPU; no --gpus/--tp/--ep/--pp)")
        offloaded = offload_report(
            host_args,
            spec,
            resolve_scheme(quant or "native", spec),
            device,
            engine,
            batch,
            max(1, context - 1),
            1,
            kv_quant,
            with_speed=False,
        )
        emit(offload_tables(offloaded), out, offload_json(offloaded))
        return
    if host_args.host_given or engine is not None or gpu_reserved_gb is not None:
        raise MoeplanError(
            "--host, --engine and --gpu-reserved-gb describe an offload: add --offload experts|auto"
        )
    if calibration:
        from moeplan.perf.calibration import load_calibration

        load_calibration(calibration, device)
    kwargs: dict[str, Any] = dict(
        context=context,
        batch=batch,
        kv_quant=kv_quant,
        gpu=device,
        usable_fraction=usable_fraction,
        include_mtp=mtp,
        state_dtype=state_dtype,
        text_only=text_only,
        gpus=gpus,
        tp=tp,
        ep=ep,
        pp=pp,
    )
    if quant is not None:
        report = size_model(spec, resolve_scheme(quant, spec), **kwargs)
        emit(size_tables(report), out, size_json(report))
        return
    unmodelled = spec.native_quant.startswith("unmodelled:")
    native = [] if unmodelled or spec.native_quant in MAIN_LEVELS else ["native"]
    levels = [*MAIN_LEVELS, *native]
    reports = [size_model(spec, resolve_scheme(q, spec), **kwargs) for q in levels]
    doc = {
        **size_json(reports[0]),
        "quant": None,
        "levels": [
            size_json(r)["memory"]
            | {"quant": r.scheme.id, "gpus_needed": r.gpus_needed}
            | ({"fits": r.fits} if r.gpu is not None else {})
            for r in reports
        ],
    }
    table = levels_table(reports)
    if unmodelled:  # the checkpoint's own scheme cannot be sized; the main levels still can
        note = (
            f"native level left out: quant_method '{spec.native_quant.split(':', 1)[1]}' "
            "is not modelled (pass --quant for one scheme)"
        )
        table.notes.append(note)
        doc["notes"] = [*doc.get("notes", []), note]
    emit([table], out, doc)
