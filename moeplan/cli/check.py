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
) -> None:
    """Evaluate every budget; exit 1 when any limit is exceeded."""
    from moeplan.cli.render import emit
    from moeplan.cli.views.check import check_json, check_table, junit_xml
    from moeplan.plan.check import check_files

    if fmt not in CHECK_FORMATS:
        raise MoeplanError(f"unknown --format '{fmt}' (choose from {', '.join(CHECK_FORMATS)})")
    if fmt == "junit" and not output:
        raise MoeplanError("--format junit needs --output FILE")
    if output and any(Path(output).resolve() == Path(f).resolve() for f in files):
        raise MoeplanError(
            f"--output {output} is one of the budget files: refusing to overwrite it"
        )
    report = check_files(files)
    if fmt == "junit":
        Path(output).write_text(junit_xml(report))  # type: ignore[arg-type]
    elif output:
        Path(output).write_text(
            _capture(lambda: emit([check_table(report)], fmt, check_json(report)))
        )
    else:
        emit([check_table(report)], fmt, check_json(report))
    if not report.passed:
        raise typer.Exit(1)


def _capture(fn: Any) -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        fn()
    return buffer.getvalue()
