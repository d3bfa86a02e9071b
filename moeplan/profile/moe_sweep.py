"""The MoE layer swept over token counts per backend and routing, for one expert shape: the
rows a calibration's `moe` section holds (runner.py builds the rest of the document)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .calib_doc import dtype_name
from .moe import MoEShape, backends, distinct_experts, make_layer, moe_forward, plan_routing
from .timing import Timer

GATHER_BMM_MAX_COPIES = 512  # the gather backend copies an expert per token copy


def profile_moe(
    timer: Timer,
    device: str,
    shape: MoEShape,
    dtype: Any,
    tokens_grid: list[int],
    routings: tuple[str, ...],
    spec_bw: float,
    copy_bw: float,
    peak: float | None,
    notes: list[str],
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """The MoE layer per backend, token count and routing ("balanced": uniform random top-k,
    the latency model's routing; "skewed": power-law popularity). `curves` holds the backends
    of the layer's own dtype; `curves_by_dtype` every backend by its weight dtype (balanced
    routing), each row with its bytes per expert and tokens per expert."""
    import torch

    from .memcheck import call_bytes, free_bytes, moe_transient_bytes, skip_reason

    element = torch.tensor([], dtype=dtype).element_size()
    layer_bytes = shape.num_experts * (shape.hidden + shape.expert_params) * element
    out: dict[str, Any] = {
        "shape": shape.__dict__,
        "dtype": dtype_name(dtype),
        "expert_bytes": shape.expert_params * element,
        "best_backend": None,
        "curves": {},
        "curves_skewed": {},
        "curves_by_dtype": {},
        "skipped": {},
        "skipped_points": [],
    }
    why = skip_reason("the MoE layer's weights", layer_bytes, free_bytes(device))
    if why:
        notes.append(f"MoE layer skipped: {why}")
        out["skipped"]["all"] = why
        return out
    layer = make_layer(shape, device, dtype)
    runnable, skipped = backends(device, dtype)
    router_bytes = shape.hidden * shape.num_experts * element
    for name, backend in runnable.items():
        progress(f"MoE {name}: preparing weights")
        if backend.prepare is not None:
            # a quantized copy is at most as large as the bf16 layer
            why = skip_reason(f"{name}'s weights", layer_bytes, free_bytes(device))
            if why:
                skipped[name] = why
                continue
        expert_layer = backend.layer_for(layer)
        expert_bytes = expert_layer.expert_bytes
        balanced: list[dict[str, Any]] = []
        skew: list[dict[str, Any]] = []
        for tokens in tokens_grid:
            if name == "torch-gather-bmm" and tokens * shape.top_k > GATHER_BMM_MAX_COPIES:
                out["skipped_points"].append(
                    {"backend": name, "tokens": tokens, "reason": GATHER_BMM_REASON}
                )
                continue
            need = call_bytes(
                moe_transient_bytes(shape, tokens, element, name, expert_bytes),
                backend.capturable,
            )
            why = skip_reason(f"{name} at {tokens} tokens", need, free_bytes(device))
            if why:
                out["skipped_points"].append({"backend": name, "tokens": tokens, "reason": why})
                continue
            x = torch.randn(tokens, shape.hidden, device=device, dtype=dtype)
            for routing in routings:
                ids, weights = plan_routing(tokens, shape, routing == "skewed", device)
                touched = distinct_experts(ids)
                progress(f"MoE {name} {routing} {tokens} tokens")
                t = timer.time(
                    functools.partial(
                        moe_forward, x, layer, ids, weights, backend.fn, expert_layer
                    ),
                    graph=backend.capturable,
                )
                row = moe_row(shape, tokens, touched, element, expert_bytes, router_bytes, t)
                row.update(_fractions(row, t.median_s, spec_bw, copy_bw, peak, shape))
                row["routing"] = routing
                (balanced if routing == "balanced" else skew).append(row)
        weight_dtype = out["dtype"] if backend.prepare is None else backend.weight_dtype
        out["curves_by_dtype"].setdefault(weight_dtype, {})[name] = [dict(r) for r in balanced]
        if backend.prepare is None:  # the layer's own dtype: the schema-1 curves
            out["curves"][name] = balanced
            out["curves_skewed"][name] = skew
        del expert_layer
    for name, why in skipped.items():
        note = f"backend {name} skipped: {why}"
        if note not in notes:
            notes.append(note)
    out["skipped"].update(skipped)
    out["best_backend"] = best_backend(out["curves"])
    return out


def rescale_without_spec(
    moes: dict[str, Any] | list[dict[str, Any]], spec_bw: float, notes: list[str]
) -> float:
    """Without a catalog spec the reference bandwidth is the measured copy bandwidth, which a
    layer whose weights sit in a cache can beat (the CPU path's tiny shapes): then the highest
    achieved weight bandwidth is the reference, so fractions stay in (0, 1] as calibrations
    require, and the note says so. One reference for every shape in `moes`; returns it."""
    rows: dict[int, dict[str, Any]] = {}
    for moe in moes if isinstance(moes, list) else [moes]:
        for group in ("curves", "curves_skewed"):
            rows.update({id(r): r for backend_rows in moe[group].values() for r in backend_rows})
        for curves in moe["curves_by_dtype"].values():
            rows.update({id(r): r for backend_rows in curves.values() for r in backend_rows})
    top = max((r["fraction_of_spec_bw"] for r in rows.values()), default=0.0)
    if top <= 1:
        return spec_bw
    for r in rows.values():
        r["fraction_of_spec_bw"] /= top
        r["all_bytes_fraction_of_spec_bw"] /= top
    notes.append(
        f"the MoE layer read its weights at {top:.2f}x the copy bandwidth (they fit in a "
        "cache): 'spec' bandwidth is the highest achieved weight bandwidth"
    )
    return spec_bw * top


GATHER_BMM_REASON = (
    f"more than {GATHER_BMM_MAX_COPIES} token copies: gather-bmm copies one expert per token "
    "copy, slower than the grouped backends long before this"
)


def moe_row(
    shape: MoEShape,
    tokens: int,
    touched: int,
    element_bytes: int,
    expert_bytes: int,
    router_bytes: int,
    t: Any,
) -> dict[str, Any]:
    """A measured MoE point: the bytes it moves (weights once, plus activation traffic:
    MoEShape.activation_bytes), its keys (bytes per expert, tokens per touched expert)."""
    weight = router_bytes + touched * expert_bytes
    act = shape.activation_bytes(tokens, element_bytes)
    return {
        "tokens": tokens,
        "seconds": t.median_s,
        "distinct_experts": touched,
        "bytes_per_expert": expert_bytes,
        "tokens_per_expert": tokens * shape.top_k / touched,
        "weight_bytes": weight,
        "activation_bytes": act,
        "bytes": weight + act,
        "cuda_graph": t.graph,
        **({"cuda_graph_error": t.graph_error} if getattr(t, "graph_error", None) else {}),
    }


def _fractions(
    row: dict[str, Any],
    seconds: float,
    spec_bw: float,
    copy_bw: float,
    peak: float | None,
    shape: MoEShape,
) -> dict[str, Any]:
    """Achieved bandwidth counts all bytes moved (all_bytes_fraction_*: the % of bandwidth
    the layer reaches); fraction_of_spec_bw counts expert and router weights only, the
    efficiency the latency model's expert-bandwidth term reads from the curves (it prices
    activations apart)."""
    flops = shape.flops(row["tokens"]) / seconds
    return {
        "achieved_bytes_per_s": row["bytes"] / seconds,
        "all_bytes_fraction_of_spec_bw": row["bytes"] / seconds / spec_bw,
        "all_bytes_fraction_of_copy_bw": row["bytes"] / seconds / copy_bw,
        "fraction_of_spec_bw": row["weight_bytes"] / seconds / spec_bw,
        "flops_per_s": flops,
        "fraction_of_peak_flops": flops / peak if peak else None,
    }


def best_backend(curves: dict[str, list[dict[str, Any]]]) -> str | None:
    """The backend with the lowest total time over the token counts every backend measured."""
    if not curves:
        return None
    common = set.intersection(*({r["tokens"] for r in rows} for rows in curves.values()))
    totals = {
        b: sum(r["seconds"] for r in rows if r["tokens"] in common) for b, rows in curves.items()
    }
    return min(totals, key=totals.get)  # type: ignore[arg-type]
