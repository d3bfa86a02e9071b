"""Wall time of `moeplan size mixtral-8x22b --quant int4` beside `python -c pass`.

Median of repeated runs in the same session, printed as figures (no assertion): the target is a
ratio of at most 4.0 (issue 10). Bytecode is compiled first (as `pip install` does; with
PYTHONDONTWRITEBYTECODE set every run would recompile moeplan), and one untimed run fills the
parsed-YAML cache, so the figures are the steady state a user sees; the first run after an
install also parses the catalog file with yaml (printed as "cold"). Also prints which heavy
modules the command imported (should be none).
Usage: python benchmarks/cli_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import moeplan

COMMAND = ["size", "mixtral-8x22b", "--quant", "int4"]


def seconds(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def interleaved_medians(a: list[str], b: list[str], runs: int) -> tuple[float, float, float]:
    """Medians of a and b, run alternately so that load on a shared machine hits both alike,
    and the median of the per-pair ratios b/a."""
    pairs = [(seconds(a), seconds(b)) for _ in range(runs)]
    return (
        statistics.median(p[0] for p in pairs),
        statistics.median(p[1] for p in pairs),
        statistics.median(p[1] / p[0] for p in pairs),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    exe = shutil.which("moeplan")
    moeplan_cmd = [exe] if exe else [sys.executable, "-m", "moeplan"]
    compileall.compile_dir(Path(moeplan.__file__).parent, quiet=1)
    with tempfile.TemporaryDirectory() as cache:
        cold_env = {**os.environ, "MOEPLAN_CACHE_DIR": cache}
        cold = seconds(moeplan_cmd + COMMAND, cold_env)
    seconds(moeplan_cmd + COMMAND)  # fill the user's cache
    bare, cli, ratio = interleaved_medians(
        [sys.executable, "-c", "pass"], moeplan_cmd + COMMAND, args.runs
    )
    probe = (
        f"import sys, runpy; sys.argv = ['moeplan', *{COMMAND!r}]\n"
        "try:\n    runpy.run_module('moeplan', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(','.join(m for m in ('torch', 'pynvml', 'numpy') if m in sys.modules) or 'none')"
    )
    heavy = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout
    print(f"python -c pass            : {bare * 1000:7.1f} ms (median of {args.runs}, interleaved)")
    print(f"moeplan {' '.join(COMMAND)}: {cli * 1000:7.1f} ms (median of {args.runs})")
    verdict = "met" if ratio <= 4 else "NOT met"
    print(f"ratio (median of pairs)   : {ratio:7.2f} x (target <= 4.0: {verdict})")
    print(f"first run, empty cache    : {cold * 1000:7.1f} ms (parses the catalog YAML)")
    print(f"heavy modules imported    : {heavy.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
