"""`moeplan profile`: time MoE kernels on the local GPU (or the CPU path) and write a
calibration file; `--compare` prints model vs measurement. torch/pynvml load only here."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from moeplan.cli.common import FormatOpt, JsonOpt, app, output_format
from moeplan.errors import MoeplanError


@app.command()
def profile(
    device: Annotated[
        str | None, typer.Option("--device", help="cuda (default) or cpu (tiny shapes).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Catalog model whose MoE layer is timed (default qwen3-235b-a22b on a GPU).",
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output", help="Calibration file to write (default calibration-<device>.yaml)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing output file.")
    ] = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="A short pass: fewer shapes and repeats.")
    ] = False,
    repeats: Annotated[
        int | None, typer.Option("--repeats", help="Timed repeats per kernel.")
    ] = None,
    compare: Annotated[
        bool, typer.Option("--compare", help="Print model vs measurement per kernel.")
    ] = False,
    calibration: Annotated[
        str | None,
        typer.Option(
            "--calibration", help="With --compare: compare this existing file instead of profiling."
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="Engine profile for the default predictions.")
    ] = "vllm",
    host_memory: Annotated[
        bool,
        typer.Option(
            "--host-memory",
            help="Measure this machine's DRAM read bandwidth (numpy, every CPU) and write a host "
            "file for --host (default host-<id>.yaml) instead of timing GPU kernels.",
        ),
    ] = False,
    threads: Annotated[
        int | None,
        typer.Option("--threads", help="With --host-memory: reader threads (default every CPU)."),
    ] = None,
    buffer_gb: Annotated[
        float | None,
        typer.Option(
            "--buffer-gb",
            help="With --host-memory: buffer read, decimal GB (default 4, --quick 1; at most "
            "half the available RAM); several times the L3 cache.",
        ),
    ] = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "table",
) -> None:
    """Time MoE kernels with PyTorch and write a calibration file for --calibration; with
    --host-memory, measure this machine's memory read bandwidth and write a host file."""
    from moeplan.cli.render import emit
    from moeplan.cli.views.profile import compare_json, compare_table, profile_tables
    from moeplan.hardware.gpus import gpu_catalog
    from moeplan.perf.calibration import load_calibration, parse_calibration
    from moeplan.perf.engines import resolve_engine

    out = output_format(fmt, as_json)
    if host_memory:
        given = [
            name
            for name, value in (
                ("--device", device),
                ("--model", model),
                ("--compare", compare or None),
                ("--calibration", calibration),
            )
            if value is not None
        ]
        if given:
            raise MoeplanError(
                f"--host-memory measures the CPU's memory; {given[0]} does not apply"
            )
        from moeplan.cli.host_probe import HostProbeOptions, run_host_probe

        run_host_probe(HostProbeOptions(output, force, threads, buffer_gb, repeats, quick), out)
        return
    if threads is not None or buffer_gb is not None:
        raise MoeplanError("--threads and --buffer-gb go with --host-memory")
    device = device or "cuda"
    profile_engine = resolve_engine(engine)
    if device not in ("cuda", "cpu"):
        raise MoeplanError(f"--device must be cuda or cpu, got '{device}'")
    if repeats is not None and repeats < 1:
        raise MoeplanError(f"--repeats must be positive, got {repeats}")
    if calibration:
        if not compare:
            raise MoeplanError("--calibration is read by --compare; add --compare")
        cal = load_calibration(calibration)
        gpu = gpu_catalog().get(cal.catalog_id or "")
        rows = compare_cal(cal, gpu, profile_engine)
        emit([compare_table(rows, cal.path)], out, compare_json(rows, cal.path))
        return
    from moeplan.cli.output import check_output
    from moeplan.profile.device import detect_device
    from moeplan.profile.runner import ProfileOptions, run_profile

    if output is not None:  # before the device is probed and the kernels run
        check_output(output, (), force)
    info = detect_device(device)
    path = check_output(
        output or f"calibration-{_slug(info.catalog_id or info.name)}.yaml", (), force
    )
    result = _run_with_progress(run_profile, ProfileOptions(device, model, quick, repeats), info)
    if not result.doc:  # a non-zero torchrun rank: it only joined the collectives
        return
    from moeplan.cli.output import write_atomic
    from moeplan.yamlio import dump_yaml

    write_atomic(path, dump_yaml(result.doc))
    cal = parse_calibration(result.doc, str(path))
    tables = profile_tables(result.doc, str(path))
    doc = {"calibration": str(path), "device": result.doc["device"], "notes": result.notes}
    if compare:
        rows = compare_cal(cal, gpu_catalog().get(info.catalog_id or ""), profile_engine)
        tables.append(compare_table(rows, str(path)))
        doc["compare"] = compare_json(rows, str(path))
    emit(tables, out, doc)


def compare_cal(cal, gpu, engine):
    from moeplan.profile.compare import compare as run_compare

    try:
        return run_compare(cal, gpu, engine)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ZeroDivisionError) as exc:
        raise MoeplanError(
            f"{cal.path}: --compare needs the measured rows `moeplan profile` writes "
            f"(missing or malformed: {type(exc).__name__} {str(exc)[:80]})"
        ) from None


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "device"


def _run_with_progress(fn, opts, info):
    """A rich progress line on stderr while the kernels run."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("profiling", total=None)
        return fn(opts, info, lambda what: bar.update(task, description=f"profiling: {what}"))
