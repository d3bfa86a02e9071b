"""The `moeplan` command line: typer commands over the library, one renderer. No math here.

Each command module registers its commands on the one typer app when imported. `main` imports
only the module of the command being run (typer builds every registered command's parser at each
start, so this keeps `moeplan size` fast); `from moeplan.cli import app` gives the app with every
command, as help, suggestions and the tests need.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

# command name -> the module under moeplan/cli/ that registers it (a test keeps this complete)
COMMAND_MODULES = {
    "size": "size",
    "show": "catalog",
    "list": "catalog",
    "latency": "perf",
    "plan": "plan",
    "validate": "validate",
    "throughput": "serving",
    "check": "check",
    "profile": "profile",
}


def register(modules: list[str] | None = None) -> typer.Typer:
    """The app with the commands of `modules` (default: every command) registered."""
    from moeplan.cli.common import app

    for module in modules or sorted(set(COMMAND_MODULES.values())):
        importlib.import_module(f"moeplan.cli.{module}")
    return app


def main() -> None:
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    module = COMMAND_MODULES.get(command or "")
    register([module] if module else None)()


def __getattr__(name: str) -> Any:
    if name == "app":
        return register()
    raise AttributeError(f"module 'moeplan.cli' has no attribute '{name}'")
