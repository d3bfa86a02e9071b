"""Wall time of `moeplan size mixtral-8x22b --quant int4` beside `python -c pass`.

Median of repeated runs, printed as figures (no assertion): the target is under 0.25 s on a
2-core machine. Also prints which heavy modules the command imported (should be none).
Usage: python benchmarks/cli_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

COMMAND = ["size", "mixtral-8x22b", "--quant", "int4"]


def median_seconds(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    exe = shutil.which("moeplan")
    moeplan = [exe] if exe else [sys.executable, "-m", "moeplan"]
    bare = median_seconds([sys.executable, "-c", "pass"], args.runs)
    cli = median_seconds(moeplan + COMMAND, args.runs)
    probe = (
        f"import sys, runpy; sys.argv = ['moeplan', *{COMMAND!r}]\n"
        "try:\n    runpy.run_module('moeplan', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(','.join(m for m in ('torch', 'pynvml', 'numpy') if m in sys.modules) or 'none')"
    )
    heavy = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout
    print(f"python -c pass            : {bare * 1000:7.1f} ms (median of {args.runs})")
    print(f"moeplan {' '.join(COMMAND)}: {cli * 1000:7.1f} ms (median of {args.runs})")
    print(
        f"target                    :   250.0 ms on 2 cores -> {'met' if cli < 0.25 else 'NOT met'}"
    )
    print(f"heavy modules imported    : {heavy.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
