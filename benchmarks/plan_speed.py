"""How fast `moeplan plan` searches: candidates evaluated per second on a big search space
(DeepSeek-V3 and Qwen3-235B over four GPU kinds, up to 64 GPUs, every quantization level).
Prints figures; the target is thousands of candidates in well under a second.
Usage: python benchmarks/plan_speed.py
"""

from __future__ import annotations

import time

from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import MAIN_LEVELS, resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.engines import resolve_engine
from moeplan.plan.search import Targets, plan


def main() -> None:
    gpus = [resolve_gpu(g) for g in ("h100-sxm", "h200", "b200", "mi300x")]
    for model, max_gpus in (("qwen3-235b-a22b", 32), ("deepseek-v3", 64)):
        spec = load_model(model)
        schemes = [resolve_scheme(q, spec) for q in (*MAIN_LEVELS, "native")]
        start = time.perf_counter()
        result = plan(
            spec,
            schemes,
            gpus,
            max_gpus,
            2048,
            512,
            32,
            Targets(max_tpot_ms=50),
            resolve_engine("vllm"),
        )
        seconds = time.perf_counter() - start
        print(
            f"{model:16s} max {max_gpus:2d} GPUs: {result.evaluated:5d} candidates in "
            f"{seconds * 1000:7.1f} ms ({result.evaluated / seconds:,.0f}/s); "
            f"{len(result.accepted)} accepted"
        )


if __name__ == "__main__":
    main()
