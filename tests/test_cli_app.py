"""The app: every command is mapped to the module that registers it, --version, lazy start."""

from __future__ import annotations

import subprocess
import sys

from typer.main import get_command
from typer.testing import CliRunner

import moeplan
from moeplan.cli import COMMAND_MODULES, app


def test_every_registered_command_is_in_the_lazy_map():
    """main() imports only the command's module: a command missing from the map would vanish."""
    registered = set(get_command(app).commands)  # type: ignore[attr-defined]
    assert registered == set(COMMAND_MODULES)


def test_version():
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0
    assert r.output == f"moeplan {moeplan.__version__}\n"


def test_main_runs_a_command_with_only_its_module_loaded():
    code = (
        "import sys\n"
        "sys.argv = ['moeplan', 'list', 'quants']\n"
        "from moeplan.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print(sorted(m for m in sys.modules if m.startswith('moeplan.cli.')), file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "bf16" in r.stdout
    loaded = r.stderr.strip()
    assert "moeplan.cli.size" in loaded
    assert "moeplan.cli.perf" not in loaded and "moeplan.cli.check" not in loaded


def test_usage_errors_are_one_line_exit_2_with_click_installed_or_not():
    """typer 0.28 raises its vendored click's exceptions even when the click package is installed
    (check-jsonschema installs it): they must still end in one line and exit 2."""
    for argv in (["size", "mixtral-8x7b", "--bogus"], ["sizee"], ["size"]):
        r = subprocess.run(
            [sys.executable, "-m", "moeplan", *argv], capture_output=True, text=True, check=False
        )
        assert r.returncode == 2, (argv, r.stderr)
        assert "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
