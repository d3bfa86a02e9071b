"""The app: every command is mapped to the module that registers it, --version, lazy start."""

from __future__ import annotations

import os
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
    assert "moeplan.cli.catalog" in loaded
    assert not any(f"moeplan.cli.{m}" in loaded for m in ("size", "perf", "check", "serving"))


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


# What `moeplan size <catalog id> --quant Q` may not import: heavy libraries, and the parts of
# moeplan other commands need (start-up is budgeted at 4x bare Python, benchmarks/cli_start.py).
NOT_ON_THE_SIZE_PATH = (
    "torch",
    "pynvml",
    "numpy",
    "yaml",
    "rich",
    "tabulate",
    "matplotlib",
    "huggingface_hub",
    "gguf",
    "safetensors",
    "moeplan.model.sources",
    "moeplan.model.hub",
    "moeplan.memory.checkpoint_weights",
    "moeplan.hardware.gpus",
    "moeplan.perf.latency",
    "moeplan.plan",
    "moeplan.profile",
    "moeplan.cli.perf",
    "moeplan.cli.check",
    "moeplan.cli.profile",
    "moeplan.cli.catalog",
    "moeplan.perf",
)


def test_size_on_a_catalog_id_imports_only_what_it_needs(tmp_path):
    probe = (
        "import sys\n"
        "sys.argv = ['moeplan', 'size', 'mixtral-8x22b', '--quant', 'int4']\n"
        "from moeplan.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    env = {**os.environ, "MOEPLAN_CACHE_DIR": str(tmp_path)}
    for _ in range(2):  # the first run parses the catalog YAML and caches it; the second is checked
        r = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
    loaded = set(r.stderr.split())
    offenders = sorted(
        m for m in loaded for f in NOT_ON_THE_SIZE_PATH if m == f or m.startswith(f + ".")
    )
    assert not offenders
