"""Quantized MoE backends, the formats people deploy: fp8 (e4m3) weights and activations
through torch._scaled_grouped_mm (one grouped GEMM per projection, row-wise scales, as
DeepSeek-V3/Qwen3 FP8 checkpoints are served), and int4 weight-only (group size 128, asymmetric,
bf16 activations) through torch's tinygemm kernel (torch._weight_int4pack_mm), one GEMM per
touched expert. Each is checked against the bf16 loop on dequantized weights before it is
timed; where the kernel does not run here the backend is skipped with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .moe import Backend, MoELayer, MoEShape, _combine, _permute, _silu_mul, experts_loop

FP8_E4M3_MAX = 448.0
"""Largest finite float8_e4m3fn value (OCP FP8 spec): scales map each row's amax onto it."""
INT4_GROUP_SIZE = 128
"""Weights per (scale, zero) pair along K, the common GPTQ/AWQ/HQQ group size."""
QUANT_CHECK_REL_ERROR = 0.1
"""A quantized backend must match the bf16 loop on its own dequantized weights to 10%."""


@dataclass
class Fp8Layer:
    shape: MoEShape
    w13: Any  # [E, 2I, H] float8_e4m3fn
    w13_scale: Any  # [E, 2I] float32, per output channel
    w2: Any  # [E, H, I]
    w2_scale: Any  # [E, H]

    @property
    def expert_bytes(self) -> int:
        """1 byte per weight plus a float32 scale per output channel."""
        s = self.shape
        return s.expert_params + 4 * (2 * s.width + s.hidden)

    def dequantized(self, like: MoELayer) -> MoELayer:
        w13 = self.w13.float() * self.w13_scale.unsqueeze(-1)
        w2 = self.w2.float() * self.w2_scale.unsqueeze(-1)
        return MoELayer(self.shape, like.router, w13.to(like.w13.dtype), w2.to(like.w2.dtype))


def quantize_fp8_rows(w: Any) -> tuple[Any, Any]:
    """Row-wise e4m3: scale = amax(|row|) / 448, q = row / scale. Works on any leading dims."""
    import torch

    scale = w.float().abs().amax(-1).clamp(min=1e-12) / FP8_E4M3_MAX
    return (w.float() / scale.unsqueeze(-1)).to(torch.float8_e4m3fn), scale


def prepare_fp8(layer: MoELayer) -> Fp8Layer:
    w13, s13 = quantize_fp8_rows(layer.w13)
    w2, s2 = quantize_fp8_rows(layer.w2)
    return Fp8Layer(layer.shape, w13, s13, w2, s2)


def experts_fp8_grouped(x: Any, ids: Any, weights: Any, layer: Fp8Layer) -> Any:
    """Sort by expert, quantize the activations per row (dynamic, as serving engines do), one
    torch._scaled_grouped_mm each for gate_up and down; offsets on the device (no host sync)."""
    import torch

    s = layer.shape
    xs, token_idx, order = _permute(x, ids, s.top_k)
    offs = torch.cumsum(torch.bincount(ids.flatten(), minlength=s.num_experts), 0).to(torch.int32)
    q, sq = quantize_fp8_rows(xs)
    h = torch._scaled_grouped_mm(
        q, layer.w13.transpose(1, 2), sq, layer.w13_scale, offs=offs, out_dtype=torch.bfloat16
    )
    qa, sa = quantize_fp8_rows(_silu_mul(h, s.width))
    out = torch._scaled_grouped_mm(
        qa, layer.w2.transpose(1, 2), sa, layer.w2_scale, offs=offs, out_dtype=torch.bfloat16
    )
    return _combine(out.to(x.dtype), token_idx, order, weights, x.shape[0], s.hidden)


@dataclass
class Int4Layer:
    shape: MoEShape
    w13: list[tuple[Any, Any]]  # per expert: (packed int4 weight, [K/g, N, 2] scales and zeros)
    w2: list[tuple[Any, Any]]
    device: str

    @property
    def expert_bytes(self) -> int:
        """Half a byte per weight plus a bf16 scale and zero per group of 128 per column."""
        s = self.shape
        return s.expert_params // 2 + 2 * 2 * s.expert_params // INT4_GROUP_SIZE


def quantize_int4(w: Any) -> tuple[Any, Any]:
    """Asymmetric 4-bit per group of INT4_GROUP_SIZE along K, in tinygemm's convention
    w = (q - 8) x scale + zero: (q [N, K] int32 in 0..15, scales_and_zeros [K/g, N, 2])."""
    import torch

    n, k = w.shape
    g = w.float().reshape(n, k // INT4_GROUP_SIZE, INT4_GROUP_SIZE)
    lo, hi = g.amin(-1), g.amax(-1)
    scale = ((hi - lo) / 15).clamp(min=1e-8)
    q = ((g - lo.unsqueeze(-1)) / scale.unsqueeze(-1)).round().clamp(0, 15).to(torch.int32)
    zero = lo + 8 * scale
    sz = torch.stack([scale.t(), zero.t()], -1).to(torch.bfloat16).contiguous()
    return q.reshape(n, k), sz


def _pack_int4(q: Any, device: str) -> Any:
    import torch

    if device == "cpu":
        return torch._convert_weight_to_int4pack_for_cpu(q, 1)
    u8 = ((q[:, ::2] << 4) | q[:, 1::2]).to(torch.uint8).to(device)
    inner_k_tiles = 8 if q.shape[1] % 1024 == 0 else 2
    return torch._convert_weight_to_int4pack(u8, inner_k_tiles)


def _int4_mm(x: Any, packed: Any, sz: Any, device: str) -> Any:
    import torch

    if device == "cpu":
        return torch._weight_int4pack_mm_for_cpu(x, packed, INT4_GROUP_SIZE, sz)
    return torch._weight_int4pack_mm(x, packed, INT4_GROUP_SIZE, sz)


def prepare_int4(layer: MoELayer) -> Int4Layer:
    device = layer.w13.device.type

    def one(w: Any) -> tuple[Any, Any]:
        q, sz = quantize_int4(w)
        return _pack_int4(q, device), sz.to(w.device)

    e = layer.shape.num_experts
    return Int4Layer(
        layer.shape,
        [one(layer.w13[i]) for i in range(e)],
        [one(layer.w2[i]) for i in range(e)],
        device,
    )


def dequantize_int4(q: Any, sz: Any) -> Any:
    """The weights tinygemm computes with: (q - 8) x scale + zero per group."""
    scale = sz[..., 0].float().t().repeat_interleave(INT4_GROUP_SIZE, 1)
    zero = sz[..., 1].float().t().repeat_interleave(INT4_GROUP_SIZE, 1)
    return (q.float() - 8) * scale + zero


def experts_int4_loop(x: Any, ids: Any, weights: Any, layer: Int4Layer) -> Any:
    """int4 weight-only: sort by expert, one tinygemm GEMM pair per expert with tokens (host
    sync for the counts: never graph-captured)."""
    import torch

    s = layer.shape
    xs, token_idx, order = _permute(x.to(torch.bfloat16), ids, s.top_k)
    counts = torch.bincount(ids.flatten(), minlength=s.num_experts).tolist()
    out = torch.empty(xs.shape[0], s.hidden, dtype=torch.bfloat16, device=x.device)
    start = 0
    for e, c in enumerate(counts):
        if c:
            h = _silu_mul(_int4_mm(xs[start : start + c], *layer.w13[e], layer.device), s.width)
            out[start : start + c] = _int4_mm(h.contiguous(), *layer.w2[e], layer.device)
            start += c
    return _combine(out.to(x.dtype), token_idx, order, weights, x.shape[0], s.hidden)


def _check(backend: Backend, device: str, reference: Any) -> str | None:
    """None when `backend` runs here and matches `reference(prepared, layer)`, else why not."""
    import torch

    try:
        shape = MoEShape(256, 256, 4, 2)
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
        from .moe import make_layer, plan_routing

        layer = make_layer(shape, device, dtype)
        prepared = backend.layer_for(layer)
        ids, w = plan_routing(32, shape, False, device)
        x = torch.randn(32, shape.hidden, device=device, dtype=dtype)
        got = backend.fn(x, ids, w, prepared).float()
        want = experts_loop(x, ids, w, reference(prepared, layer)).float()
        err = float((got - want).norm() / want.norm())
    except Exception as exc:
        return f"cannot run here: {str(exc).splitlines()[0][:120]}"
    if not err <= QUANT_CHECK_REL_ERROR:
        return f"differs from the loop on its dequantized weights by {err:.0%}"
    return None


def dequantized_int4_layer(p: Int4Layer | None, like: MoELayer) -> MoELayer:
    """The bf16 layer int4 computes with: `like`'s weights quantized and dequantized (the
    quantization is deterministic, so this is what `p` holds)."""
    import torch

    def dq(w: Any) -> Any:
        return torch.stack([dequantize_int4(*quantize_int4(m)) for m in w]).to(w.dtype)

    return MoELayer(like.shape, like.router, dq(like.w13), dq(like.w2))


def quantized_backends(device: str) -> tuple[dict[str, Backend], dict[str, str]]:
    """The fp8 and int4 backends that run (and agree) here; the reason for the others."""
    import torch

    runnable: dict[str, Backend] = {}
    skipped: dict[str, str] = {}
    fp8 = Backend("torch-fp8-grouped-mm", experts_fp8_grouped, True, "fp8", prepare_fp8)
    if not hasattr(torch, "_scaled_grouped_mm") or not hasattr(torch, "float8_e4m3fn"):
        skipped[fp8.name] = f"torch {torch.__version__} has no torch._scaled_grouped_mm"
    elif device != "cuda":
        skipped[fp8.name] = "torch._scaled_grouped_mm runs on CUDA only (compute capability 9.0+)"
    else:
        why = _check(fp8, device, lambda p, like: p.dequantized(like))
        if why is None:
            runnable[fp8.name] = fp8
        else:
            skipped[fp8.name] = f"torch._scaled_grouped_mm {why}"
    int4 = Backend("torch-int4-loop", experts_int4_loop, False, "int4", prepare_int4)
    why = _check(int4, device, dequantized_int4_layer)
    if why is None:
        runnable[int4.name] = int4
    else:
        skipped[int4.name] = f"torch._weight_int4pack_mm {why}"
    return runnable, skipped
