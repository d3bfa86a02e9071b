"""Rows and JSON of `moeplan throughput` (the serving frontier, capacity, cost, launch lines)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moeplan.cli.render import Table, pct
from moeplan.hardware.prices import Price, price_json, usd_per_hour, usd_per_million_tokens
from moeplan.perf.serving import ServingPoint
from moeplan.perf.serving_search import ServingResult
from moeplan.perf.speculation import speculation_json
from moeplan.plan.validate_serving import (
    ServingValidation,
    median_abs_serving_error,
    median_abs_serving_error_by_engine,
)

DEFINITIONS = {
    "output_tok_s_per_gpu": "output tokens/s of the whole deployment / all its GPUs "
    "(prompt tokens not counted)",
    "output_tok_s_per_user": "OSL / (TTFT + OSL x TPOT): a request's output over its whole "
    "life, the wait for the first token included",
    "decode_tok_s_per_user": "1000 / TPOT: speed after the first token",
    "ttft_ms": "arrival to first token under load: the request's own prefill in chunks of the "
    "engine's token budget, in steps shared with the decode batch (closed loop: no queue)",
    "tpot_ms": "mean time per output token after the first (one step / tokens gained per step)",
    "concurrency": "requests in flight over all replicas",
    "usd_per_hour": "whole deployment: price per GPU-hour x all GPUs",
    "usd_per_million_output_tokens": "usd_per_hour / (output tokens/s x 3600) x 1e6",
}


def point_json(p: ServingPoint, price: Price | None) -> dict[str, Any]:
    usd_h = usd_per_hour(price, p.gpus) if price else None
    per_m = usd_per_million_tokens(usd_h, p.output_tok_s) if usd_h is not None else None
    lay = p.setup.layout
    doc: dict[str, Any] = {
        "concurrency": p.concurrency,
        "concurrency_per_replica": p.concurrency_per_replica,
        "output_tok_s_per_gpu": round(p.output_tok_s_per_gpu, 2),
        "output_tok_s_per_user": round(p.output_tok_s_per_user, 3),
        "decode_tok_s_per_user": round(p.decode_tok_s_per_user, 3),
        "output_tok_s": round(p.output_tok_s, 4),
        "ttft_ms": round(p.ttft_s * 1e3, 3),
        "tpot_ms": round(p.tpot_s * 1e3, 4),
        "layout": lay.describe(),
        "tp": lay.tp,
        "ep": lay.ep,
        "pp": lay.pp,
        "dp": lay.dp,
        "replicas": p.replicas,
        "gpus": p.gpus,
        "usd_per_hour": None if usd_h is None else round(usd_h, 4),
        "usd_per_million_output_tokens": None if per_m is None else round(per_m, 4),
        "step_bound": p.step.bound,
    }
    if p.prefill_replicas:
        doc["prefill_replicas"] = p.prefill_replicas
        doc["decode_replicas"] = p.replicas - p.prefill_replicas
    return doc


@dataclass(frozen=True)
class ErrorBand:
    """How far the serving model was from published runs: [low, high] % or "n/a: why"."""

    pct: list[float] | str
    scope: str
    definition: str

    def describe(self) -> str:
        if isinstance(self.pct, str):
            return f"error band vs published serving runs: {self.pct} ({self.scope})"
        return (
            f"error band vs published serving runs (held out; 10th-90th percentile from 10 "
            f"runs): {self.pct[0]:+.1f}% to {self.pct[1]:+.1f}% of output tok/s ({self.scope}; "
            "positive: estimate faster)"
        )


def serving_json(
    r: ServingResult,
    price: Price | None,
    launch: dict[str, str] | None,
    band: ErrorBand | None = None,
    launch_notes: list[str] | None = None,
) -> dict[str, Any]:
    dep, wl = r.deployment, r.workload
    lay = r.best_layout
    cap = lay.capacity if lay else None
    return {
        "model": dep.spec.name,
        "quant": dep.scheme.id,
        "kv_quant": dep.kv_quant,
        "gpu": dep.gpu.id,
        "gpus": r.gpus,
        "engine": dep.engine.id,
        "workload": {
            "input_tokens": wl.input_len,
            "output_tokens": wl.output_len,
            "prompt_tokens_per_output_token": round(wl.prompt_tokens_per_output_token, 4),
            "mode": "disaggregated prefill/decode pools"
            if dep.disaggregated
            else "aggregated, chunked prefill",
        },
        "speculation": speculation_json(dep.speculation),
        "targets": {
            "min_tok_s_user": r.targets.min_tok_s_user,
            "max_tpot_ms": r.targets.max_tpot_ms,
            "max_ttft_ms": r.targets.max_ttft_ms,
        },
        "price": price_json(price),
        "max_concurrency": cap.per_replica * lay.replicas if cap and lay else 0,
        "max_concurrency_per_replica": cap.per_replica if cap else 0,
        "max_concurrency_layout": lay.layout.describe() if lay else None,
        "kv_bytes_per_request_per_gpu": round(cap.kv_bytes_per_request_per_gpu) if cap else None,
        "free_bytes_per_gpu": round(cap.free_bytes_per_gpu) if cap else None,
        "frontier": [point_json(p, price) for p in r.frontier],
        "best": point_json(r.best, price) if r.best else None,
        "reason": r.reason or None,
        "launch": launch or {},
        "launch_notes": launch_notes or [],
        "rejected_layouts": [
            {"layout": x.layout.describe(), "reason": x.rejected} for x in r.layouts if x.rejected
        ],
        "error_band_pct": band.pct if band else None,
        "error_band_scope": band.scope if band else None,
        "error_band": band.definition if band else None,
        "definitions": DEFINITIONS,
    }


HEADERS = [
    "layout x replicas",
    "concurrency (requests)",
    "tok/s/GPU (output)",
    "tok/s/user (incl. TTFT)",
    "decode tok/s/user",
    "TTFT ms",
    "TPOT ms",
    "$/hour",
    "$/M output tok",
]


def _row(p: ServingPoint, price: Price | None, mark: str = "") -> list[Any]:
    d = point_json(p, price)
    layout = f"{d['layout']} x {p.replicas}"
    if p.prefill_replicas:
        layout += f" ({p.prefill_replicas} prefill)"
    return [
        mark + layout,
        f"{p.concurrency:,}",
        f"{p.output_tok_s_per_gpu:,.1f}",
        f"{p.output_tok_s_per_user:,.1f}",
        f"{p.decode_tok_s_per_user:,.1f}",
        f"{p.ttft_s * 1e3:,.1f}",
        f"{p.tpot_s * 1e3:,.2f}",
        "-" if d["usd_per_hour"] is None else f"{d['usd_per_hour']:,.2f}",
        "-"
        if d["usd_per_million_output_tokens"] is None
        else f"{d['usd_per_million_output_tokens']:,.2f}",
    ]


def serving_tables(
    r: ServingResult,
    price: Price | None,
    launch: dict[str, str] | None,
    band: ErrorBand | None = None,
    launch_notes: list[str] | None = None,
) -> list[Table]:
    dep, wl = r.deployment, r.workload
    title = (
        f"{dep.spec.name} {dep.scheme.id} on {r.gpus} x {dep.gpu.id} ({dep.engine.id}), "
        f"ISL {wl.input_len} / OSL {wl.output_len}: frontier (* = best)"
    )
    rows = [_row(p, price, "* " if p is r.best else "") for p in r.frontier]
    if r.best is not None and r.best not in r.frontier:
        rows.append(_row(r.best, price, "* "))
    t = Table(title, HEADERS, rows)
    lay = r.best_layout
    if lay and lay.capacity:
        cap = lay.capacity
        t.notes.append(
            f"max concurrency: {cap.per_replica * lay.replicas:,} requests of "
            f"{wl.input_len + wl.output_len:,} tokens ({cap.per_replica:,} per replica of "
            f"{lay.layout.describe()}, x {lay.replicas}); KV "
            f"{cap.kv_bytes_per_request_per_gpu / 1e6:,.1f} MB per request per GPU, "
            f"{cap.free_bytes_per_gpu / 1e9:,.2f} GB free per GPU"
        )
    if r.best is None:
        t.notes.append(f"best: none ({r.reason})")
    t.notes.append(
        "tok/s/GPU: output tokens only / all GPUs; tok/s/user: OSL / (TTFT + OSL x TPOT); "
        "decode tok/s/user: 1000 / TPOT; chunked prefill runs "
        f"{wl.prompt_tokens_per_output_token:.2f} prompt tokens per generated token"
    )
    if band is not None:
        t.notes.append(band.describe())
    if price is None:
        t.notes.append(f"no price for {dep.gpu.id}: pass --gpu-hour-usd or --price-file")
    else:
        t.notes.append(
            f"price: ${price.usd_per_gpu_hour:.2f} per GPU-hour, {price.provider}, "
            f"as of {price.as_of or '-'} (read {price.read or '-'}), source: {price.source}"
        )
    tables = [t]
    if launch:
        tables.append(
            Table(
                "launch (one replica; run it once per replica behind a router)",
                ["engine", "command"],
                [[k, v] for k, v in launch.items()],
                list(launch_notes or []),
            )
        )
    return tables


def serving_validate_table(results: list[ServingValidation]) -> Table:
    rows = [
        [
            v.id,
            f"{v.published:,.0f}",
            "-" if v.predicted is None else f"{v.predicted:,.0f}",
            "-" if v.error is None else pct(v.error),
            v.layout,
            "-" if v.concurrency is None else f"{v.concurrency:,}",
            "not counted: " + v.not_counted
            if v.not_counted
            else ("counted; " + v.note if v.note else "counted"),
        ]
        for v in results
    ]
    t = Table(
        "validate: best output tok/s of published serving runs (held out, nothing fitted)",
        [
            "record",
            "published tok/s",
            "predicted tok/s",
            "error",
            "layout",
            "concurrency",
            "status",
        ],
        rows,
    )
    median = median_abs_serving_error(results)
    counted = sum(1 for v in results if v.error is not None and not v.not_counted)
    t.notes.append(
        "output tokens/s of all GPUs; predicted = the best over concurrency of the run's layout, "
        "or, for a run of N requests queued at once (trtllm-bench), that run step by step "
        "under the engine's caps (ramp and tail included); concurrency: mean requests in flight"
    )
    if median is not None:
        t.notes.append(f"median |error| over {counted} counted records: {median * 100:.1f}%")
    for engine, (eng_median, n) in median_abs_serving_error_by_engine(results).items():
        t.notes.append(f"{engine}: median |error| {eng_median * 100:.1f}% over {n}")
    return t


def serving_validate_json(results: list[ServingValidation]) -> dict[str, Any]:
    return {
        "kind": "best output tokens/s (all GPUs)",
        "median_abs_error": median_abs_serving_error(results),
        "counted": sum(1 for v in results if v.error is not None and not v.not_counted),
        "median_abs_error_by_engine": {
            engine: {"median_abs_error": m, "counted": n}
            for engine, (m, n) in median_abs_serving_error_by_engine(results).items()
        },
        "records": [
            {
                "id": v.id,
                "published": v.published,
                "predicted": v.predicted,
                "error": v.error,
                "layout": v.layout,
                "concurrency": v.concurrency,
                "note": v.note or None,
                "not_counted": v.not_counted or None,
            }
            for v in results
        ],
    }
