"""Run the profile: device identity, copy bandwidth, GEMMs, the MoE layer per backend and
routing, attention decode, collectives under torchrun; build the calibration document."""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moeplan import __version__
from moeplan.hardware.gpus import gpu_catalog
from moeplan.perf.calibration import SCHEMA

from .calib_doc import attention_section, efficiency_table
from .device import DeviceInfo
from .moe import MoEShape
from .moe_sweep import profile_moe, rescale_without_spec
from .timing import Timer

GPU_TOKENS = [2**i for i in range(15)]  # 1 .. 16384
GPU_TOKENS_QUICK = [1, 8, 32, 256, 4096]
CPU_TOKENS = [1, 2, 4, 8, 16, 32, 64]
CPU_TOKENS_QUICK = [1, 8, 32]
DEFAULT_GPU_MODEL = "qwen3-235b-a22b"  # experts of 4096 x 1536: the 1-token target shape
EXTRA_GPU_MODELS = ("qwen3-30b-a3b", "mixtral-8x7b")
"""More expert shapes for the calibration's MoE curves (experts of 2048 x 768 and 4096 x 14336:
9.4 and 352 MB in bf16 around qwen3-235b's 37.7 MB), at the quick token grid and balanced
routing; --quick keeps the first."""
CPU_SHAPE = MoEShape(hidden=256, width=128, num_experts=16, top_k=4)
CPU_EXTRA_SHAPE = MoEShape(hidden=256, width=512, num_experts=8, top_k=2)


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


def _moe_shape(opts: ProfileOptions, model: str | None) -> tuple[MoEShape, str]:
    from moeplan.model.catalog import load_model

    if opts.device == "cpu" and model is None:
        return CPU_SHAPE, "tiny CPU shape"
    spec = load_model(model or DEFAULT_GPU_MODEL)
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


def _moe_shapes(opts: ProfileOptions, info: DeviceInfo) -> list[tuple[MoEShape, str]]:
    """The main shape (--model, else the default) first, then other expert sizes for the
    calibration's curves over shapes (a shape equal to one already listed is left out)."""
    shapes = [_moe_shape(opts, opts.model)]
    if opts.device == "cpu":
        extras = [(CPU_EXTRA_SHAPE, "tiny CPU shape, wider experts")]
    else:
        models = EXTRA_GPU_MODELS[:1] if opts.quick else EXTRA_GPU_MODELS
        extras = [_moe_shape(opts, m) for m in models]
    for shape, name in extras:
        if all(shape != s for s, _ in shapes):
            shapes.append((shape, name))
    return shapes


def _tokens_grid(device: str, quick: bool) -> list[int]:
    if device == "cuda":
        return GPU_TOKENS_QUICK if quick else GPU_TOKENS
    return CPU_TOKENS_QUICK if quick else CPU_TOKENS


def _attention(
    timer: Timer, device: str, quick: bool, notes: list[str], progress: Callable[[str], None]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Attention decode over a KV cache at a few contexts, and causal prefill at a few prompt
    lengths (32 query heads, 8 KV heads; tiny on CPU), each sized against free memory."""
    from .kernels import attention_decode, attention_prefill
    from .memcheck import free_bytes, skip_reason

    heads, kv_heads = (32, 8) if device == "cuda" else (4, 2)
    element = 2 if device == "cuda" else 4
    progress("attention decode")
    decode = []
    contexts = [1024, 8192, 32768] if device == "cuda" else [256, 1024]
    batch, head_dim = (8, 128) if device == "cuda" else (2, 32)
    for context in contexts[:2] if quick else contexts:
        kv_bytes = 2 * batch * kv_heads * context * head_dim * element  # K and V
        why = skip_reason(
            f"attention decode at {context} context", 2 * kv_bytes, free_bytes(device)
        )
        if why:
            notes.append(f"skipped: {why}")
            continue
        decode.append(attention_decode(timer, device, batch, heads, kv_heads, head_dim, context))
    if decode:
        notes.append(f"attention decode timed with {decode[0]['implementation']}")
    progress("attention prefill")
    prefill = []
    lengths = [512, 2048, 8192] if device == "cuda" else [64, 256]
    for tokens in lengths[:2] if quick else lengths:
        # q, k, v, out and (a math fallback's) scores of one sequence
        need = (4 * heads * tokens * head_dim + heads * tokens * tokens) * element
        why = skip_reason(f"attention prefill of {tokens} tokens", need, free_bytes(device))
        if why:
            notes.append(f"skipped: {why}")
            continue
        prefill.append(attention_prefill(timer, device, 1, heads, kv_heads, head_dim, tokens))
    return decode, prefill


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
        shape, _ = _moe_shape(opts, opts.model)
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
    from .kernels import copy_bandwidth, fp8_supported, gemm
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

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    peak = catalog.peak_flops("bf16") if catalog and catalog.bf16_flops else gemm_best.get("bf16")
    if peak is None and gemm_best:  # the CPU path: its fp32 GEMM is the reference
        peak = max(gemm_best.values())
        notes.append("no BF16 peak: fractions of peak FLOP/s are of the best measured GEMM")
    shape_docs = []
    for i, (shape, model_name) in enumerate(_moe_shapes(opts, info)):
        grid = _tokens_grid(device, opts.quick or i > 0)
        routings = ("balanced", "skewed") if i == 0 else ("balanced",)
        shape_doc = profile_moe(
            timer, device, shape, dtype, grid, routings, spec_bw, copy["bytes_per_s"], peak,
            notes, progress,
        )  # fmt: skip
        shape_doc["model"] = model_name
        shape_docs.append(shape_doc)
    if catalog is None:
        spec_bw = rescale_without_spec(shape_docs, spec_bw, notes)
    moe_doc = {**shape_docs[0], "more_shapes": shape_docs[1:]}
    moe_doc["efficiency"] = efficiency_table(shape_docs)

    decode_rows, prefill_rows = _attention(timer, device, opts.quick, notes, progress)
    attention = attention_section(decode_rows, prefill_rows, spec_bw, peak, notes)

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
        "attention": attention,
        "collectives": collective_rows,
        "raw": {"copy": [copy], "gemm": gemm_rows},
        "notes": notes,
    }
    return ProfileResult(doc, notes)


def _collective_sizes(device: str) -> list[int]:
    """4 KiB .. 256 MiB on GPUs; a few small messages on CPU."""
    return [1 << s for s in range(12, 29, 2)] if device == "cuda" else [1 << 12, 1 << 16, 1 << 20]
