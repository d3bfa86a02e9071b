"""The MoE layer, timed per backend: router GEMM, softmax/top-k, token permutation, expert
GEMMs (gate_up, SiLU-and-mul, down) and the weighted combine.

A backend is a name and one function `experts(x, ids, weights, layer) -> y`; anything with that
shape (an installed serving engine's fused-MoE kernel, say) can be added to BACKENDS.
Routing is planned, not learned: balanced (uniform, distinct experts per token) or skewed
(power-law expert popularity), so expert coverage is controlled; the router GEMM and top-k are
still computed and timed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

POWER_LAW_ALPHA = 1.2
"""Skewed routing: expert e is chosen with weight (e + 1)^-alpha (Zipf-like popularity)."""


@dataclass(frozen=True)
class MoEShape:
    hidden: int
    width: int  # expert intermediate size
    num_experts: int
    top_k: int

    @property
    def expert_params(self) -> int:
        return 3 * self.hidden * self.width

    def flops(self, tokens: int) -> float:
        """Router GEMM plus top_k experts (three matrices) per token."""
        return 2.0 * tokens * (self.hidden * self.num_experts + self.top_k * self.expert_params)

    def weight_bytes(self, touched: int, expert_bytes: int, router_element_bytes: int) -> int:
        """Weights read once: the router [E, H] and each touched expert (its three matrices)."""
        return self.hidden * self.num_experts * router_element_bytes + touched * expert_bytes

    def activation_bytes(self, tokens: int, element_bytes: int) -> int:
        """Activations read and written at least once by any implementation: the layer's input
        and output (T x H each); per token copy (T x top_k), the gate_up GEMM's input (H) and
        output (2I), SiLU-and-mul's output (I, read again by the down GEMM) and the down GEMM's
        output (H, read by the combine). Grows with tokens: at 4k+ tokens it is a large share of
        the traffic (Qwen3-235B, 4096 x 1536, top-8: 2 x 4096 + 8 x (2 x 4096 + 3 x 1536) =
        110,592 elements per token, 906 MB in bf16 at 4096 tokens, vs 128 experts x 37.7 MB =
        4.8 GB of weights)."""
        copies = tokens * self.top_k
        per_copy = 2 * self.hidden + 3 * self.width
        return element_bytes * (2 * tokens * self.hidden + copies * per_copy)


@dataclass
class MoELayer:
    shape: MoEShape
    router: Any  # [E, H]
    w13: Any  # [E, 2I, H] gate and up stacked
    w2: Any  # [E, H, I]

    @property
    def element_bytes(self) -> int:
        return self.w13.element_size()

    @property
    def expert_bytes(self) -> int:
        return self.shape.expert_params * self.element_bytes


def make_layer(shape: MoEShape, device: str, dtype: Any, seed: int = 0) -> MoELayer:
    import torch

    g = torch.Generator(device="cpu").manual_seed(seed)
    scale = shape.hidden**-0.5

    def rand(*dims: int) -> Any:
        return (torch.randn(*dims, generator=g) * scale).to(device=device, dtype=dtype)

    return MoELayer(
        shape,
        rand(shape.num_experts, shape.hidden),
        rand(shape.num_experts, 2 * shape.width, shape.hidden),
        rand(shape.num_experts, shape.hidden, shape.width),
    )


def plan_routing(
    tokens: int, shape: MoEShape, skewed: bool, device: str, seed: int = 0
) -> tuple[Any, Any]:
    """top_k distinct expert ids per token and normalized weights."""
    import torch

    g = torch.Generator(device="cpu").manual_seed(seed + tokens)
    if skewed:
        popularity = torch.arange(1, shape.num_experts + 1, dtype=torch.float64) ** -POWER_LAW_ALPHA
        ids = torch.multinomial(
            popularity.expand(tokens, -1), shape.top_k, replacement=False, generator=g
        )
    else:
        ids = torch.rand(tokens, shape.num_experts, generator=g).topk(shape.top_k, dim=-1).indices
    weights = torch.rand(tokens, shape.top_k, generator=g) + 0.5
    weights = weights / weights.sum(-1, keepdim=True)
    return ids.to(device), weights.to(device)


def router_topk(x: Any, layer: MoELayer) -> tuple[Any, Any]:
    """Router GEMM, softmax in float32, top-k, renormalized (Mixtral/Qwen style)."""
    import torch

    probs = torch.softmax((x @ layer.router.T).float(), dim=-1)
    vals, ids = probs.topk(layer.shape.top_k, dim=-1)
    return vals / vals.sum(-1, keepdim=True), ids


def _permute(x: Any, ids: Any, top_k: int) -> tuple[Any, Any, Any]:
    """Sort the token copies by expert: (x rows in expert order, their token index, order)."""
    flat = ids.flatten()
    order = flat.argsort(stable=True)
    return x[order // top_k], order // top_k, order


def _silu_mul(h: Any, width: int) -> Any:
    import torch

    return torch.nn.functional.silu(h[..., :width]) * h[..., width:]


def _combine(
    out_sorted: Any, token_idx: Any, order: Any, weights: Any, tokens: int, hidden: int
) -> Any:
    import torch

    scaled = out_sorted * weights.flatten()[order].unsqueeze(-1).to(out_sorted.dtype)
    y = torch.zeros(tokens, hidden, dtype=out_sorted.dtype, device=out_sorted.device)
    return y.index_add_(0, token_idx, scaled)


def experts_loop(x: Any, ids: Any, weights: Any, layer: MoELayer) -> Any:
    """Plain torch: sort by expert, one GEMM pair per expert that has tokens (host sync)."""
    import torch

    s = layer.shape
    xs, token_idx, order = _permute(x, ids, s.top_k)
    counts = torch.bincount(ids.flatten(), minlength=s.num_experts).tolist()
    out = torch.empty(xs.shape[0], s.hidden, dtype=x.dtype, device=x.device)
    start = 0
    for e, c in enumerate(counts):
        if c:
            h = _silu_mul(xs[start : start + c] @ layer.w13[e].T, s.width)
            out[start : start + c] = h @ layer.w2[e].T
            start += c
    return _combine(out, token_idx, order, weights, x.shape[0], s.hidden)


def experts_gather_bmm(x: Any, ids: Any, weights: Any, layer: MoELayer) -> Any:
    """Plain torch, batched: gather each token copy's expert weights and bmm (reads an expert
    once per token copy: cheap at 1 token, wasteful at many)."""
    import torch

    s = layer.shape
    flat = ids.flatten()
    xr = x.repeat_interleave(s.top_k, dim=0).unsqueeze(1)  # [T*k, 1, H]
    h = _silu_mul(torch.bmm(xr, layer.w13[flat].transpose(1, 2)), s.width)
    out = torch.bmm(h, layer.w2[flat].transpose(1, 2)).squeeze(1)  # [T*k, H]
    out = out.view(x.shape[0], s.top_k, s.hidden) * weights.unsqueeze(-1).to(out.dtype)
    return out.sum(1)


def experts_grouped_mm(x: Any, ids: Any, weights: Any, layer: MoELayer) -> Any:
    """torch._grouped_mm over expert-sorted tokens: one grouped GEMM each for gate_up and
    down, offsets computed on the device (no host sync, CUDA-graph capturable)."""
    import torch

    s = layer.shape
    xs, token_idx, order = _permute(x, ids, s.top_k)
    offs = torch.cumsum(torch.bincount(ids.flatten(), minlength=s.num_experts), 0).to(torch.int32)
    h = _silu_mul(torch._grouped_mm(xs, layer.w13.transpose(1, 2), offs=offs), s.width)
    out = torch._grouped_mm(h, layer.w2.transpose(1, 2), offs=offs)
    return _combine(out, token_idx, order, weights, x.shape[0], s.hidden)


def grouped_mm_available(device: str, dtype: Any) -> str | None:
    """None when torch._grouped_mm runs here, else why not."""
    import torch

    if not hasattr(torch, "_grouped_mm"):
        return f"torch {torch.__version__} has no torch._grouped_mm"
    try:
        shape = MoEShape(64, 64, 4, 2)
        layer = make_layer(shape, device, dtype)
        ids, w = plan_routing(8, shape, False, device)
        x = torch.randn(8, 64, device=device, dtype=dtype)
        ref = experts_loop(x, ids, w, layer)
        got = experts_grouped_mm(x, ids, w, layer)
        if not torch.allclose(ref.float(), got.float(), atol=5e-2, rtol=5e-2):
            return "torch._grouped_mm gave a different result than the loop backend"
    except Exception as exc:
        return f"torch._grouped_mm cannot run here: {str(exc).splitlines()[0][:120]}"
    return None


ExpertsFn = Callable[[Any, Any, Any, Any], Any]


@dataclass(frozen=True)
class Backend:
    """An experts implementation. `capturable`: no host sync (no .tolist()/.item(), no
    data-dependent shapes), so a CUDA graph of it can be captured; a backend that syncs is
    never captured. `prepare` turns the bf16 layer into the weights `fn` reads (quantized
    backends); `weight_dtype` keys the calibration's MoE rows."""

    name: str
    fn: ExpertsFn
    capturable: bool
    weight_dtype: str = "bf16"
    prepare: Callable[[MoELayer], Any] | None = None

    def layer_for(self, layer: MoELayer) -> Any:
        return layer if self.prepare is None else self.prepare(layer)


def backends(device: str, dtype: Any) -> tuple[dict[str, Backend], dict[str, str]]:
    """Backends that run here, and the reason for each one that does not."""
    runnable = {
        "torch-loop": Backend("torch-loop", experts_loop, capturable=False),
        # gather-bmm indexes with device tensors only: no host sync
        "torch-gather-bmm": Backend("torch-gather-bmm", experts_gather_bmm, capturable=True),
    }
    skipped: dict[str, str] = {}
    why = grouped_mm_available(device, dtype)
    if why is None:
        runnable["torch-grouped-mm"] = Backend("torch-grouped-mm", experts_grouped_mm, True)
    else:
        skipped["torch-grouped-mm"] = why
    from .triton_moe import triton_available

    why = triton_available(device)
    if why is None:
        from .triton_moe import experts_triton

        runnable["triton-fused"] = Backend("triton-fused", experts_triton, capturable=True)
    else:
        skipped["triton-fused"] = why
    from .moe_quant import quantized_backends

    quant, quant_skipped = quantized_backends(device)
    runnable.update(quant)
    skipped.update(quant_skipped)
    return runnable, skipped


def moe_forward(
    x: Any, layer: MoELayer, ids: Any, weights: Any, experts: ExpertsFn, expert_layer: Any = None
) -> Any:
    """The timed layer: router GEMM and top-k (computed; dispatch uses the planned ids so the
    coverage is controlled), then the experts backend on `expert_layer` (default `layer`)."""
    router_topk(x, layer)
    return experts(x, ids, weights, layer if expert_layer is None else expert_layer)


def distinct_experts(ids: Any) -> int:
    import torch

    return int(torch.unique(ids).numel())
