"""`moeplan check`: budgets as a CI gate. Exit 0 all hold, 1 a limit exceeded, 2 invalid file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from moeplan.cli.common import app
from moeplan.errors import MoeplanError

CHECK_FORMATS = ("table", "json", "markdown", "junit")


@app.command()
def check(
    files: Annotated[list[str], typer.Argument(help="Budget YAML files.")],
    fmt: Annotated[str, typer.Option("--format", help="table, json, markdown or junit.")] = "table",
    output: Annotated[
        str | None,
        typer.Option(
            "--output", help="Write the report here (required for junit) instead of stdout."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --output file.")
    ] = False,
) -> None:
    """Evaluate every budget; exit 1 when any limit is exceeded."""
    from moeplan.cli.render import emit
    from moeplan.cli.views.check import check_json, check_table, junit_xml
    from moeplan.plan.check import check_files

    if fmt not in CHECK_FORMATS:
        raise MoeplanError(f"unknown --format '{fmt}' (choose from {', '.join(CHECK_FORMATS)})")
    if fmt == "junit" and not output:
        raise MoeplanError("--format junit needs --output FILE")
    target = None
    if output is not None:
        from moeplan.cli.output import check_output

        target = check_output(output, budget_inputs(files), force)
    report = check_files(files)
    if target is not None:
        from moeplan.cli.output import write_atomic

        if fmt == "junit":
            write_atomic(target, junit_xml(report))
        else:
            write_atomic(
                target, _capture(lambda: emit([check_table(report)], fmt, check_json(report)))
            )
    else:
        emit([check_table(report)], fmt, check_json(report))
    if not report.passed:
        raise typer.Exit(1)


def budget_inputs(files: list[str]) -> list[str]:
    """Every file a check reads: the budget files and the model configs, calibrations and host
    files they name (parsed, not evaluated; an invalid file is reported by the check itself)."""
    from moeplan.plan.budget import parse_budget_file

    inputs = list(files)
    for f in files:
        try:
            budgets = parse_budget_file(Path(f))
        except MoeplanError:
            continue
        for b in budgets:
            for item in (b.model, b.calibration, b.host):
                if item and Path(item).is_file():
                    inputs.append(item)
                elif item and Path(item).is_dir() and (Path(item) / "config.json").is_file():
                    inputs.append(str(Path(item) / "config.json"))
    return inputs


def _capture(fn: Any) -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        fn()
    return buffer.getvalue()
