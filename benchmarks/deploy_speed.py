"""How fast `moeplan plan` searches deployments with a demand: every catalog model over every
catalog GPU kind, up to 64 GPUs (72 on the NVL72 kinds are searched the same way), the main
quantization levels and native, 1000 users at >= 20 output tok/s each, ISL 2000 / OSL 500.
Prints the wall time of each search (the target: under 1 s each on a 2-core machine).
Usage: python benchmarks/deploy_speed.py [MODEL ...]
"""

from __future__ import annotations

import sys
import time

from moeplan.hardware.gpus import gpu_catalog
from moeplan.hardware.prices import price_for
from moeplan.memory.quant import MAIN_LEVELS, resolve_scheme
from moeplan.model.catalog import catalog_ids, load_model
from moeplan.perf.engines import resolve_engine
from moeplan.perf.serving import Workload
from moeplan.perf.serving_search import Deployment, Targets
from moeplan.plan.deploy import Demand, plan_deployment


def main(models: list[str]) -> None:
    gpus = list(gpu_catalog().values())
    prices = {g.id: price_for(g.id) for g in gpus}
    worst = 0.0
    for model in models or catalog_ids():
        spec = load_model(model)
        schemes = list(
            {s.id: s for s in (resolve_scheme(q, spec) for q in (*MAIN_LEVELS, "native"))}.values()
        )
        base = Deployment(spec, schemes[0], gpus[0], resolve_engine("vllm"))
        start = time.perf_counter()
        result = plan_deployment(
            base,
            schemes,
            gpus,
            prices,
            Workload(2000, 500),
            Demand(users=1000),
            Targets(min_tok_s_user=20),
            64,
        )
        seconds = time.perf_counter() - start
        worst = max(worst, seconds)
        print(
            f"{model:28s} {result.evaluated:6d} layouts x quant x GPU in {seconds * 1000:7.1f} ms; "
            f"{len(result.accepted)} accepted"
        )
    print(f"slowest search: {worst * 1000:.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1:])
