"""Regenerate tests/golden/*.out from commands.txt (run only when an output change is intended)."""

from __future__ import annotations

import shlex
from pathlib import Path

from typer.testing import CliRunner

from moeplan.cli import app

HERE = Path(__file__).parent


def run(line: str) -> str:
    r = CliRunner().invoke(app, shlex.split(line))
    return f"exit {r.exit_code}\n{r.output}"


if __name__ == "__main__":
    import os

    os.chdir(HERE.parents[1])
    for i, line in enumerate((HERE / "commands.txt").read_text().splitlines()):
        (HERE / f"{i:02d}.out").write_text(f"$ moeplan {line}\n" + run(line))
