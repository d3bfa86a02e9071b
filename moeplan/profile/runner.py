"""Run the profile: device identity, copy bandwidth, GEMMs, the MoE layer per backend and
routing, attention decode, collectives under torchrun; build the calibration document."""

from __future__ import annotations

import datetime as dt
import functools
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moeplan import __version__
from moeplan.hardware.gpus import gpu_catalog
from moeplan.perf.calibration import SCHEMA

from .device import DeviceInfo
from .moe import MoEShape, backends, distinct_experts, make_layer, moe_forward, plan_routing
from .timing import Timer

GPU_TOKENS = [2**i for i in range(15)]  # 1 .. 16384
GPU_TOKENS_QUICK = [1, 8, 32, 256, 4096]
CPU_TOKENS = [1, 2, 4, 8, 16, 32, 64]
CPU_TOKENS_QUICK = [1, 8, 32]
GATHER_BMM_MAX_COPIES = 512  # the gather backend copies an expert per token copy
DEFAULT_GPU_MODEL = "qwen3-235b-a22b"  # experts of 4096 x 1536: the 1-token target shape
CPU_SHAPE = MoEShape(hidden=256, width=128, num_experts=16, top_k=4)


@dataclass
class ProfileOptions:
    device: str = "cuda"
    model: str | None = None
    quick: bool = False
    repeats: int | None = None
    collectives: bool = True


@dataclass
class ProfileResult:
    doc: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _moe_shape(opts: ProfileOptions, info: DeviceInfo) -> tuple[MoEShape, str]:
    from moeplan.model.catalog import load_model

    if opts.device == "cpu" and opts.model is None:
        return CPU_SHAPE, "tiny CPU shape"
    spec = load_model(opts.model or DEFAULT_GPU_MODEL)
    if spec.moe is None:
        from moeplan.errors import MoeplanError

        raise MoeplanError(f"--model {spec.name} has no MoE layers to profile")
    shape = MoEShape(
        spec.hidden_size, spec.moe.expert_intermediate_size, spec.moe.num_experts, spec.moe.top_k
    )
    if opts.device == "cpu":  # the same code path on tiny shapes: scale widths down
        shape = MoEShape(
            max(64, shape.hidden // 16),
            max(32, shape.width // 16),
            min(shape.num_experts, 16),
            min(shape.top_k, 4),
        )
    return shape, spec.name


def _software() -> dict[str, Any]:
    import torch

    out = {
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "cuda": None if torch.version.cuda is None else str(torch.version.cuda),
        "moeplan": __version__,
    }
    try:
        import triton

        out["triton"] = str(triton.__version__)
    except ImportError:
        out["triton"] = None
    return out


def run_profile(
    opts: ProfileOptions, info: DeviceInfo, progress: Callable[[str], None] = lambda _: None
) -> ProfileResult:
    import torch

    from .collectives import distributed_env, model_collectives, time_collectives

    device = opts.device
    collective_rows: list[dict[str, Any]] = []
    if distributed_env():
        # every rank runs the collectives first, together, so no rank waits in a collective
        # while rank 0 times the single-GPU kernels; then rank 0 alone goes on and writes
        progress("collectives")
        shape, _ = _moe_shape(opts, info)
        collective_rows = time_collectives(
            device, _collective_sizes(device), model_shapes=model_collectives(shape, device)
        )
        if int(os.environ.get("RANK", "0")) != 0:
            return ProfileResult({}, [])
    repeats = opts.repeats or (5 if opts.quick else 20)
    timer = Timer(device, repeats=repeats, warmup=2 if opts.quick else 3)
    catalog = gpu_catalog().get(info.catalog_id or "")
    notes = list(info.warnings)

    progress("copy bandwidth")
    from .kernels import attention_decode, copy_bandwidth, fp8_supported, gemm
    from .memcheck import free_bytes, skip_reason

    copy_bytes = (1 << 30) if device == "cuda" else (64 << 20)
    free = free_bytes(device)
    while copy_bytes > (16 << 20) and skip_reason("copy", 2 * copy_bytes, free):
        copy_bytes //= 2
    copy = copy_bandwidth(timer, device, copy_bytes)
    spec_bw = catalog.mem_bw_bytes_per_s if catalog else copy["bytes_per_s"]
    if catalog is None:
        notes.append(
            "no catalog spec for this device: fractions of 'spec' bandwidth are of the "
            "measured copy bandwidth"
        )

    progress("GEMM grid")
    gemm_rows = []
    sizes = [(16, 4096, 4096), (512, 4096, 4096), (4096, 4096, 4096), (16384, 8192, 8192)]
    if opts.quick:
        sizes = [(512, 4096, 4096), (8192, 8192, 8192)]
    if device == "cpu":
        sizes = [(16, 256, 256), (256, 512, 512)]
    dtypes = ["bf16"] + (["fp8"] if fp8_supported(device) else [])
    for m, n, k in sizes:
        # bf16 A, B and C plus fp8 copies of A and B
        why = skip_reason(f"GEMM {m}x{n}x{k}", 2 * (m * k + n * k + m * n) * 2, free_bytes(device))
        if why:
            notes.append(f"skipped: {why}")
            continue
        for gemm_dtype in dtypes:
            gemm_rows.append(gemm(timer, device, m, n, k, gemm_dtype))
    gemm_best: dict[str, float] = {}
    for row in gemm_rows:
        gemm_best[row["dtype"]] = max(gemm_best.get(row["dtype"], 0.0), row["flops_per_s"])
    if device == "cpu":
        notes.append("CPU GEMMs run in fp32 (BF16 is emulated on CPU)")

    shape, model_name = _moe_shape(opts, info)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    peak = catalog.peak_flops("bf16") if catalog and catalog.bf16_flops else gemm_best.get("bf16")
    moe_doc = _profile_moe(
        timer, device, shape, dtype, opts, spec_bw, copy["bytes_per_s"], peak, notes, progress
    )
    moe_doc["model"] = model_name
    if catalog is None:
        spec_bw = _rescale_without_spec(moe_doc, spec_bw, notes)

    progress("attention decode")
    attn_rows = []
    contexts = [1024, 8192, 32768] if device == "cuda" else [256, 1024]
    batch, head_dim = (8, 128) if device == "cuda" else (2, 32)
    for context in contexts[:2] if opts.quick else contexts:
        kv_bytes = 2 * batch * 8 * context * head_dim * 2  # K and V, 8 KV heads, bf16
        why = skip_reason(
            f"attention decode at {context} context", 2 * kv_bytes, free_bytes(device)
        )
        if why:
            notes.append(f"skipped: {why}")
            continue
        attn_rows.append(attention_decode(timer, device, batch, 32, 8, head_dim, context))
    if attn_rows:
        notes.append(f"attention decode timed with {attn_rows[0]['implementation']}")

    if not distributed_env() and opts.collectives:
        notes.append("collectives not measured: run under torchrun with 2+ processes")

    doc = {
        "schema": SCHEMA,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "device": info.to_doc(),
        "software": _software(),
        "spec": {
            "mem_bw_bytes_per_s": spec_bw,
            "bf16_flops": peak,
            "source": "GPU catalog" if catalog else "measured copy bandwidth / best GEMM",
        },
        "measured": {"copy_bandwidth_bytes_per_s": copy["bytes_per_s"], "gemm_flops": gemm_best},
        "moe": moe_doc,
        "attention_decode": attn_rows,
        "collectives": collective_rows,
        "raw": {"copy": [copy], "gemm": gemm_rows},
        "notes": notes,
    }
    return ProfileResult(doc, notes)


def _profile_moe(
    timer: Timer,
    device: str,
    shape: MoEShape,
    dtype: Any,
    opts: ProfileOptions,
    spec_bw: float,
    copy_bw: float,
    peak: float | None,
    notes: list[str],
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """The MoE layer per backend, token count and routing. `curves` holds the bf16 backends
    (what schema-1 readers use); `curves_by_dtype` every backend by its weight dtype, each row
    with its bytes per expert and tokens per expert."""
    import torch

    from .memcheck import call_bytes, free_bytes, moe_transient_bytes, skip_reason

    element = torch.tensor([], dtype=dtype).element_size()
    layer_bytes = shape.num_experts * (shape.hidden + shape.expert_params) * element
    out: dict[str, Any] = {
        "shape": shape.__dict__,
        "dtype": str(dtype).split(".")[-1],
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
    tokens_grid = (
        (GPU_TOKENS_QUICK if opts.quick else GPU_TOKENS)
        if device == "cuda"
        else (CPU_TOKENS_QUICK if opts.quick else CPU_TOKENS)
    )
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
            for routing in ("balanced", "skewed"):
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
        notes.append(f"backend {name} skipped: {why}")
    out["skipped"].update(skipped)
    out["best_backend"] = _best_backend(out["curves"])
    return out


def _rescale_without_spec(moe: dict[str, Any], spec_bw: float, notes: list[str]) -> float:
    """Without a catalog spec the reference bandwidth is the measured copy bandwidth, which a
    layer whose weights sit in a cache can beat (the CPU path's tiny shapes): then the highest
    achieved weight bandwidth is the reference, so fractions stay in (0, 1] as calibrations
    require, and the note says so. Returns the reference used."""
    rows = {
        id(r): r
        for group in ("curves", "curves_skewed")
        for backend_rows in moe[group].values()
        for r in backend_rows
    }
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


def _collective_sizes(device: str) -> list[int]:
    """4 KiB .. 256 MiB on GPUs; a few small messages on CPU."""
    return [1 << s for s in range(12, 29, 2)] if device == "cuda" else [1 << 12, 1 << 16, 1 << 20]


def _best_backend(curves: dict[str, list[dict[str, Any]]]) -> str | None:
    """The backend with the lowest total time over the token counts every backend measured."""
    if not curves:
        return None
    common = set.intersection(*({r["tokens"] for r in rows} for rows in curves.values()))
    totals = {
        b: sum(r["seconds"] for r in rows if r["tokens"] in common) for b, rows in curves.items()
    }
    return min(totals, key=totals.get)  # type: ignore[arg-type]
