"""`moeplan plan` with a demand: the cheapest deployment (GPU kind, quantization, replica layout,
replicas) that serves a workload at a per-user speed, ranked by $ per million output tokens.

Each (GPU kind, quantization, replica layout) is evaluated once with the serving model; the
replica's best point that meets the latency targets sets its throughput, and the replicas the
demand needs follow. Concurrency is searched by bisection over 1, 2, 4, ... (tokens/s per user
falls as concurrency grows), and pipeline stages only where the replica does not fit without
them, and replicas no wider than 8x the narrowest that fits, which keeps the whole search
under a second (benchmarks/deploy_speed.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from moeplan.errors import LayoutError, MoeplanError
from moeplan.hardware.gpus import GPU
from moeplan.hardware.prices import Price, usd_per_hour, usd_per_million_tokens
from moeplan.memory.quant import QuantScheme
from moeplan.perf.parallel import Layout
from moeplan.perf.serving import ServingPoint, Workload, aggregated_point, replica_capacity
from moeplan.perf.serving_search import (
    Deployment,
    Targets,
    concurrencies,
    engine_cap,
    replica_layouts,
    setup_for,
)
from moeplan.perf.speculation import NO_SPECULATION, Speculation

WIDEST_OVER_NARROWEST = 8
"""Replicas wider than 8x the narrowest that fits are not searched: more replicas of a narrower
layout serve the same demand, and a replica 8x wider already holds 8x the KV and experts."""


@dataclass(frozen=True)
class Demand:
    """What must be served: output tokens/s in total, or concurrent users."""

    output_tok_s: float | None = None
    users: int | None = None

    def __post_init__(self) -> None:
        if (self.output_tok_s is None) == (self.users is None):
            raise MoeplanError("give one demand: --target-output-tok-s or --users")

    def replicas(self, p: ServingPoint) -> int:
        """Replicas of the point's layout that serve the demand."""
        if self.output_tok_s is not None:
            return max(1, math.ceil(self.output_tok_s / p.output_tok_s))
        assert self.users is not None
        return max(1, math.ceil(self.users / p.concurrency))


@dataclass(frozen=True)
class Option:
    gpu: GPU
    scheme: QuantScheme
    layout: Layout
    point: ServingPoint | None  # one replica's chosen point
    replicas: int
    price: Price | None
    failure: str = ""  # the constraint it failed; "" when accepted

    @property
    def gpus(self) -> int:
        return self.layout.gpus * self.replicas

    @property
    def usd_per_hour(self) -> float | None:
        return None if self.price is None else usd_per_hour(self.price, self.gpus)

    @property
    def usd_per_million_output_tokens(self) -> float | None:
        if self.price is None or self.point is None:
            return None
        per_replica = usd_per_hour(self.price, self.layout.gpus)
        return usd_per_million_tokens(per_replica, self.point.output_tok_s)


@dataclass
class DeployResult:
    accepted: list[Option]
    rejected: list[Option]
    evaluated: int
    notes: list[str] = field(default_factory=list)
    speculation: Speculation = NO_SPECULATION


def best_point(
    dep: Deployment, workload: Workload, layout: Layout, targets: Targets
) -> tuple[ServingPoint | None, str]:
    """The replica's highest-throughput point meeting the targets, or the reason there is none."""
    try:
        setup = setup_for(dep, layout)
    except LayoutError as exc:
        return None, str(exc)
    cap = replica_capacity(setup, workload, dep.usable_fraction, dep.speculation)
    if cap.per_replica < 1:
        missing = cap.kv_bytes_per_request_per_gpu - cap.free_bytes_per_gpu
        return None, f"does not fit: {missing / 1e9:.1f} GB per GPU missing"
    limit = min(cap.per_replica, engine_cap(dep, layout, cap.per_replica))
    grid = concurrencies(limit)

    def at(i: int) -> ServingPoint | None:
        return aggregated_point(setup, workload, grid[i], 1, dep.speculation)

    first = at(0)
    if first is None:
        return None, "prompts exceed the engine's token budget per step"
    failed = targets.failure(first)
    if failed:
        return None, failed
    lo, hi, best = 0, len(grid) - 1, first  # grid[lo] meets the targets
    while lo < hi:
        mid = (lo + hi + 1) // 2
        p = at(mid)
        if p is not None and targets.failure(p) is None:
            lo, best = mid, p
        else:
            hi = mid - 1
    return best, ""


def plan_deployment(
    base: Deployment,
    schemes: list[QuantScheme],
    gpus: list[GPU],
    prices: dict[str, Price | None],
    workload: Workload,
    demand: Demand,
    targets: Targets,
    max_gpus: int,
    rank_by_gpus: bool = False,
) -> DeployResult:
    if max_gpus < 1:
        raise MoeplanError("--max-gpus must be at least 1")
    accepted: list[Option] = []
    rejected: list[Option] = []
    evaluated = 0
    for gpu in gpus:
        limit = max_gpus if gpu.interconnect.kind != "none" else 1
        sizes = [s for s in range(1, limit + 1) if s & (s - 1) == 0 or s == limit]
        layouts = list(
            dict.fromkeys(lay for s in sizes for lay in replica_layouts(base.spec, gpu, s))
        )
        for scheme in schemes:
            dep = Deployment(
                base.spec,
                scheme,
                gpu,
                base.engine,
                base.kv_quant,
                base.state_dtype,
                base.usable_fraction,
                base.speculation,
            )
            fits_without_pp: set[int] = set()
            for layout in sorted(layouts, key=lambda lay: (lay.gpus, lay.pp)):
                if layout.pp > 1 and layout.gpus in fits_without_pp:
                    continue
                if fits_without_pp and layout.gpus > WIDEST_OVER_NARROWEST * min(fits_without_pp):
                    continue
                evaluated += 1
                point, why = best_point(dep, workload, layout, targets)
                if point is not None or not why.startswith("does not fit"):
                    fits_without_pp.add(layout.gpus)
                price = prices.get(gpu.id)
                if point is None:
                    rejected.append(Option(gpu, scheme, layout, None, 0, price, why))
                    continue
                replicas = demand.replicas(point)
                opt = Option(gpu, scheme, layout, point, replicas, price)
                if opt.gpus > max_gpus:
                    why = f"needs {opt.gpus} GPUs ({replicas} replicas) > --max-gpus {max_gpus}"
                    rejected.append(Option(gpu, scheme, layout, point, replicas, price, why))
                else:
                    accepted.append(opt)
    accepted.sort(key=lambda o: _rank(o, rank_by_gpus))
    rejected.sort(key=lambda o: (o.point is None, o.layout.gpus))
    result = DeployResult(accepted, rejected, evaluated, speculation=base.speculation)
    unpriced = sorted({o.gpu.id for o in accepted if o.price is None})
    if unpriced:
        result.notes.append(
            f"no price for {', '.join(unpriced)}: ranked after priced options "
            "(pass --gpu-hour-usd or --price-file)"
        )
    return result


def _rank(o: Option, by_gpus: bool) -> tuple[float, ...]:
    cost = o.usd_per_million_output_tokens
    cost_key = (0.0, cost) if cost is not None else (1.0, 0.0)
    per_gpu = -(o.point.output_tok_s_per_gpu if o.point else 0.0)
    if by_gpus:
        return (float(o.gpus), *cost_key, per_gpu)
    return (*cost_key, float(o.gpus), per_gpu)
