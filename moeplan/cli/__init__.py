"""The `moeplan` command line: typer commands over the library, one renderer. No math here."""

from __future__ import annotations

from moeplan.cli import check, perf, profile, size  # noqa: F401  (each registers its commands)
from moeplan.cli.app import app


def main() -> None:
    app()
