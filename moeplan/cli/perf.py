"""`moeplan latency`: parse, call the library, render."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from moeplan.cli.common import (
    CalibrationOpt,
    DpOpt,
    EpOpt,
    FormatOpt,
    FractionOpt,
    GpusOpt,
    InputOpt,
    JsonOpt,
    KvQuantOpt,
    ModelArg,
    OutputOpt,
    PpOpt,
    QuantOpt,
    RoutingSkewOpt,
    StateDtypeOpt,
    TpOpt,
    app,
    int_list,
    output_format,
    positive,
)
from moeplan.cli.offload import (
    CacheLensOpt,
    CtxSizeOpt,
    DiskOpt,
    GpuReservedOpt,
    HostArgs,
    HostCoresOpt,
    HostMemMeasuredOpt,
    HostMemOpt,
    HostOpt,
    HostRamOpt,
    HostSocketsOpt,
    KtGpuExpertsOpt,
    KtPrefillOpt,
    MinPOpt,
    NCpuMoeOpt,
    NoMmapOpt,
    NoOpOffloadOpt,
    NoSamplerOpt,
    OffloadOpt,
    PcieGenOpt,
    PcieLanesOpt,
    PromptArgs,
    SamplerArgs,
    SamplerEraOpt,
    SwaFullOpt,
    TopKOpt,
    TopPOpt,
    UbatchOpt,
)
from moeplan.cli.speculation_opts import MtpAccOpt, MtpOpt, speculation_of
from moeplan.errors import MoeplanError

if TYPE_CHECKING:
    from moeplan.perf.offload import OffloadReport

NodesOpt = Annotated[int, typer.Option("--nodes", help="Nodes the GPUs are spread over.")]
CalibrateHostOpt = Annotated[
    float | None,
    typer.Option(
        "--calibrate-host",
        help="Decode tok/s you MEASURED on this box with these settings (one sequence): find the "
        "host read rate that reproduces it and write a host file for --host (--write-host).",
    ),
]
HostOutputOpt = Annotated[
    str | None,
    typer.Option(
        "--write-host",
        help="With --calibrate-host: host file to write (default host-<id>-calibrated.yaml).",
    ),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="With --calibrate-host: overwrite an existing --write-host.")
]
NetworkOpt = Annotated[
    float, typer.Option("--network-gbps", help="Inter-node network per GPU, Gb/s.")
]


@app.command()
def latency(
    model: ModelArg,
    gpu: Annotated[
        str, typer.Option("--gpu", help="GPU id (see `moeplan list gpus`) or a GPU YAML file.")
    ],
    gpus: GpusOpt = None,
    tp: TpOpt = None,
    ep: EpOpt = None,
    pp: PpOpt = None,
    dp: DpOpt = None,
    nodes: NodesOpt = 1,
    network_gbps: NetworkOpt = 400.0,
    quant: QuantOpt = None,
    kv_quant: KvQuantOpt = "bf16",
    state_dtype: StateDtypeOpt = "fp32",
    routing_skew: RoutingSkewOpt = None,
    batch: Annotated[str, typer.Option("--batch", help="Batch sizes, e.g. 1,8,64.")] = "1",
    input_len: InputOpt = 1024,
    output_len: OutputOpt = 256,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="Overhead/efficiency profile: ideal, vllm (default), vllm-v0, sglang, sglang-fi, "
            "trtllm, trtllm-0.9, "
            "llamacpp; with --offload: llamacpp (default), ktransformers (kt-kernel 0.4+), "
            "ktransformers-v03 or ktransformers-v02.",
        ),
    ] = None,
    usable_fraction: FractionOpt = 0.9,
    calibration: CalibrationOpt = None,
    mtp: MtpOpt = 0,
    mtp_acceptance: MtpAccOpt = None,
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
    pcie_gen: PcieGenOpt = None,
    pcie_lanes: PcieLanesOpt = None,
    disk_gbps: DiskOpt = None,
    ubatch: UbatchOpt = None,
    no_op_offload: NoOpOffloadOpt = False,
    kt_gpu_prefill_threshold: KtPrefillOpt = None,
    cache_lens: CacheLensOpt = None,
    ctx_size: CtxSizeOpt = None,
    swa_full: SwaFullOpt = False,
    no_mmap: NoMmapOpt = False,
    top_k: TopKOpt = None,
    top_p: TopPOpt = None,
    min_p: MinPOpt = None,
    sampler_era: SamplerEraOpt = None,
    no_sampler: NoSamplerOpt = False,
    calibrate_host: CalibrateHostOpt = None,
    host_output: HostOutputOpt = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "table",
) -> None:
    """Roofline prefill (TTFT) and decode (TPOT, tokens/s) on a GPU and parallel layout, or on
    one GPU plus host RAM with --offload / --n-cpu-moe; with --calibrate-host, the host read
    rate a decode run measured on this box implies, written as a host file."""
    from moeplan.cli.render import emit
    from moeplan.cli.views.perf import latency_tables
    from moeplan.hardware.gpus import resolve_gpu
    from moeplan.memory.quant import resolve_scheme
    from moeplan.model.catalog import load_model
    from moeplan.perf.engines import resolve_engine
    from moeplan.perf.latency import estimate_latency, report_json
    from moeplan.perf.network import INTER_NODE_LATENCY_S, Network
    from moeplan.perf.parallel import make_layout
    from moeplan.perf.phases import Rates
    from moeplan.perf.terms import routing_skew_for

    for name, value in (
        ("input", input_len),
        ("output", output_len),
        ("nodes", nodes),
        ("network-gbps", network_gbps),
        ("usable-fraction", usable_fraction),
    ):
        positive(name, value)
    out = output_format(fmt, as_json)
    batches = int_list(batch, "batch")
    speculation = speculation_of(mtp, mtp_acceptance)
    spec = load_model(model)
    device = resolve_gpu(gpu)
    scheme = resolve_scheme(quant or "native", spec)
    host_args = HostArgs(
        offload,
        n_cpu_moe,
        host,
        host_mem_gbps,
        host_ram_gb,
        host_cores,
        host_sockets,
        pcie_gen,
        pcie_lanes,
        disk_gbps,
        host_mem_measured_gbps,
        PromptArgs(
            ubatch,
            no_op_offload,
            kt_gpu_prefill_threshold,
            cache_lens,
            SamplerArgs(top_k, top_p, min_p, sampler_era, no_sampler),
            swa_full,
            no_mmap,
        ),
        gpu_reserved_gb,
        kt_gpu_experts,
        ctx_size,
    )
    prompt_flags = (
        ctx_size is not None,
        ubatch is not None,
        gpu_reserved_gb is not None,
        no_op_offload,
        kt_gpu_prefill_threshold is not None,
        cache_lens is not None,
        swa_full,
        no_mmap,
    )
    if any(prompt_flags) and not host_args.wanted:
        raise MoeplanError(
            "--ctx-size, --ubatch, --gpu-reserved-gb, --no-op-offload, --kt-gpu-prefill-threshold,"
            " --cache-lens, --swa-full and --no-mmap describe an offload run; add --offload or "
            "--n-cpu-moe"
        )
    if (calibrate_host is not None or host_output is not None or force) and not (
        host_args.wanted and calibrate_host is not None
    ):
        raise MoeplanError(
            "--calibrate-host TOK_S (with --write-host, --force) calibrates an offload run's host: "
            "add --offload or --n-cpu-moe, and the tok/s you measured"
        )
    if host_args.prompt.sampler.given and not host_args.wanted:
        from moeplan.perf.llamacpp_sampler import SAMPLER_FLAGS

        raise MoeplanError(
            f"{SAMPLER_FLAGS} price llama.cpp's CPU sampler in an offload decode; add --offload "
            "or --n-cpu-moe"
        )
    if host_args.wanted:
        from moeplan.cli.offload import offload_report
        from moeplan.cli.views.offload import offload_json, offload_tables

        if mtp:
            raise MoeplanError(
                "--mtp prices drafting on GPUs; the offload estimate (--offload, --n-cpu-moe) "
                "does not draft"
            )
        if len(batches) > 1 or any(v is not None for v in (gpus, tp, ep, pp, dp, calibration)):
            raise MoeplanError(
                "--offload models one GPU and one --batch (no --gpus/--tp/--ep/--pp)"
            )

        def offload_at(args: HostArgs) -> OffloadReport:
            return offload_report(
                args, spec, scheme, device, engine, batches[0], input_len, output_len, kv_quant
            )

        if calibrate_host is not None:
            from moeplan.cli.host_calibrate import run_host_calibration

            run_host_calibration(host_args, offload_at, calibrate_host, host_output, force, out)
            return
        if host_args.offload == "sweep":
            from moeplan.cli.offload_sweep import offload_sweep_report
            from moeplan.cli.views.offload_sweep import offload_sweep_json, offload_sweep_table

            swept = offload_sweep_report(host_args, offload_at, spec.num_layers)
            emit([offload_sweep_table(swept)], out, offload_sweep_json(swept))
            return
        offloaded = offload_at(host_args)
        emit(offload_tables(offloaded), out, offload_json(offloaded))
        return
    if host_args.host_given:
        raise MoeplanError("--host describes the offload host: add --offload experts|auto")
    profile = resolve_engine(engine or "vllm")
    if dp is None:
        layout = make_layout(spec, gpus=gpus, tp=tp, ep=ep, pp=pp)
    else:
        from moeplan.cli.serving import pinned_layout
        from moeplan.perf.parallel import validate_layout

        pinned = pinned_layout(tp, ep or (tp or 1) * dp, pp, dp)
        assert pinned is not None  # dp is given
        layout = pinned
        validate_layout(spec, layout)
        if gpus is not None and gpus != layout.gpus:
            raise MoeplanError(f"--gpus {gpus} does not match {layout.describe()}")
    rates = Rates.from_engine(device, profile)
    if calibration:
        from moeplan.perf.calibration import load_calibration, rates_from_calibration

        rates = rates_from_calibration(load_calibration(calibration, device), device, profile)
    network = Network(nodes, network_gbps * 1e9 / 8, INTER_NODE_LATENCY_S)
    report = estimate_latency(
        spec,
        scheme,
        device,
        layout,
        batches,
        input_len,
        output_len,
        profile,
        rates,
        network,
        kv_quant,
        usable_fraction,
        state_dtype,
        routing_skew_for(spec, routing_skew),
        speculation,
    )
    from moeplan.plan.validate import ERROR_BAND_DEFINITION, error_band_pct

    engine_id = report.rates.engine.id
    bands = {regime: error_band_pct(engine_id, regime) for regime in ("decode", "prefill")}
    tables = latency_tables(report)
    tables[0].notes.append(
        "error band vs published (out of sample): "
        + "; ".join(
            f"{regime} {b if isinstance(b, str) else f'{b[0]:+.1f}% to {b[1]:+.1f}%'}"
            for regime, b in bands.items()
        )
    )
    doc = {**report_json(report), "error_band_pct": bands, "error_band": ERROR_BAND_DEFINITION}
    emit(tables, out, doc)
