"""Rows and JSON of `moeplan plan` with a demand (the deployment search)."""

from __future__ import annotations

from typing import Any

from moeplan.cli.render import Table
from moeplan.cli.views.serving import DEFINITIONS
from moeplan.hardware.prices import price_json
from moeplan.perf.serving import Workload
from moeplan.perf.serving_search import Targets
from moeplan.perf.speculation import speculation_json
from moeplan.plan.deploy import Demand, DeployResult, Option

HEADERS = [
    "GPU",
    "quant",
    "replica layout",
    "replicas",
    "GPUs",
    "requests",
    "tok/s/GPU (output)",
    "tok/s/user (incl. TTFT)",
    "TTFT ms",
    "TPOT ms",
    "$/hour",
    "$/M output tok",
    "verdict",
]


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def _row(o: Option) -> list[Any]:
    p = o.point
    return [
        o.gpu.id,
        o.scheme.id,
        o.layout.describe(),
        o.replicas if p else "-",
        o.gpus if p else o.layout.gpus,
        f"{p.concurrency * o.replicas:,}" if p else "-",
        f"{p.output_tok_s_per_gpu:,.1f}" if p else "-",
        f"{p.output_tok_s_per_user:,.1f}" if p else "-",
        f"{p.ttft_s * 1e3:,.1f}" if p else "-",
        f"{p.tpot_s * 1e3:,.2f}" if p else "-",
        _money(o.usd_per_hour),
        _money(o.usd_per_million_output_tokens),
        o.failure or "ok",
    ]


def _demand_text(d: Demand) -> str:
    if d.output_tok_s is not None:
        return f"{d.output_tok_s:,.0f} output tok/s"
    return f"{d.users:,} concurrent users"


def deploy_tables(
    r: DeployResult,
    wl: Workload,
    demand: Demand,
    top: int,
    launch: dict[str, str],
    launch_notes: list[str] | None = None,
) -> list[Table]:
    best = Table(
        f"deployments for {_demand_text(demand)}, ISL {wl.input_len} / OSL {wl.output_len} "
        f"({len(r.accepted)} accepted of {r.evaluated} evaluated), cheapest first",
        HEADERS,
        [_row(o) for o in r.accepted[:top]],
    )
    if not r.accepted:
        best.notes.append("no deployment fits and meets every target")
    else:
        o = r.accepted[0]
        if o.price is not None:
            best.notes.append(
                f"price of {o.gpu.id}: ${o.price.usd_per_gpu_hour:.2f} per GPU-hour, "
                f"{o.price.provider}, as of {o.price.as_of or '-'} (read {o.price.read or '-'}), "
                f"source: {o.price.source}"
            )
    best.notes.extend(r.notes)
    best.notes.append(
        "tok/s/GPU: output tokens / all GPUs; tok/s/user: OSL / (TTFT + OSL x TPOT); "
        "$/M output tok: $/hour / (output tok/s x 3600) x 1e6"
    )
    why = Table(
        "best rejected, with the constraint that failed",
        HEADERS,
        [_row(o) for o in r.rejected[:top]],
    )
    tables = [best, why]
    if launch:
        tables.append(
            Table(
                "launch (one replica of the cheapest; run it once per replica behind a router)",
                ["engine", "command"],
                [[k, v] for k, v in launch.items()],
                list(launch_notes or []),
            )
        )
    return tables


def _option_json(o: Option) -> dict[str, Any]:
    p = o.point
    return {
        "gpu": o.gpu.id,
        "quant": o.scheme.id,
        "layout": o.layout.describe(),
        "tp": o.layout.tp,
        "ep": o.layout.ep,
        "pp": o.layout.pp,
        "dp": o.layout.dp,
        "replicas": o.replicas if p else None,
        "gpus": o.gpus if p else o.layout.gpus,
        "concurrency": p.concurrency * o.replicas if p else None,
        "output_tok_s_per_gpu": round(p.output_tok_s_per_gpu, 2) if p else None,
        "output_tok_s_per_user": round(p.output_tok_s_per_user, 3) if p else None,
        "decode_tok_s_per_user": round(p.decode_tok_s_per_user, 3) if p else None,
        "ttft_ms": round(p.ttft_s * 1e3, 3) if p else None,
        "tpot_ms": round(p.tpot_s * 1e3, 4) if p else None,
        "usd_per_hour": None if o.usd_per_hour is None else round(o.usd_per_hour, 4),
        "usd_per_million_output_tokens": None
        if o.usd_per_million_output_tokens is None
        else round(o.usd_per_million_output_tokens, 4),
        "price": price_json(o.price),
        "failed": o.failure or None,
    }


def deploy_json(
    model: str,
    r: DeployResult,
    wl: Workload,
    demand: Demand,
    targets: Targets,
    top: int,
    launch: dict[str, str],
    launch_notes: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "model": model,
        "mode": "deployment",
        "workload": {"input_tokens": wl.input_len, "output_tokens": wl.output_len},
        "demand": {"output_tok_s": demand.output_tok_s, "users": demand.users},
        "targets": {
            "min_tok_s_user": targets.min_tok_s_user,
            "max_tpot_ms": targets.max_tpot_ms,
            "max_ttft_ms": targets.max_ttft_ms,
        },
        "evaluated": r.evaluated,
        "speculation": speculation_json(r.speculation),
        "best": _option_json(r.accepted[0]) if r.accepted else None,
        "accepted": [_option_json(o) for o in r.accepted[:top]],
        "frontier": [_option_json(o) for o in _cost_frontier(r.accepted)],
        "rejected": [_option_json(o) for o in r.rejected[:top]],
        "launch": launch,
        "launch_notes": launch_notes or [],
        "notes": r.notes,
        "definitions": DEFINITIONS,
    }


def _cost_frontier(options: list[Option]) -> list[Option]:
    """Accepted options no other beats on both $/M output tokens and tokens/s per user."""
    priced = [o for o in options if o.usd_per_million_output_tokens is not None and o.point]
    priced.sort(key=lambda o: -o.point.output_tok_s_per_user if o.point else 0.0)
    out: list[Option] = []
    for o in priced:
        cost = o.usd_per_million_output_tokens
        if cost is not None and (not out or cost < (out[-1].usd_per_million_output_tokens or 0)):
            out.append(o)
    return out
