"""A Triton fused-MoE backend in the style of vLLM's fused_moe: token copies sorted by expert and
padded to BLOCK_M per expert; one grouped GEMM kernel reads each touched expert's weights once
for all its tokens (gate_up, then down with the routing weight applied), SiLU-and-mul between.
Tiles are autotuned (triton.autotune) over AUTOTUNE_CONFIGS per (N, K, token copies) during the
timer's warm-up, before any CUDA graph is captured.

Runs on CUDA (Triton ships with CUDA builds of torch); on CPU only under Triton's interpreter
(TRITON_INTERPRET=1), which the tests use to check its arithmetic against the plain backends.
"""

from __future__ import annotations

import os
from typing import Any

_KERNEL: Any = None

AUTOTUNE_CONFIGS = (
    # (BLOCK_N, BLOCK_K, num_warps, num_stages): the tile shapes vLLM's fused_moe tuning tables
    # pick most often on H100/H200 for bf16, small to large M
    (64, 64, 4, 3),
    (128, 64, 4, 4),
    (64, 128, 4, 4),
    (128, 128, 8, 3),
    (256, 64, 8, 4),
    (32, 128, 4, 5),
)
"""The small config set the Triton backend autotunes over, per (N, K, token copies); under
Triton's CPU interpreter only the first is run (autotuning there measures nothing)."""


def autotune_configs(interpret: bool) -> tuple[tuple[int, int, int, int], ...]:
    return AUTOTUNE_CONFIGS[:1] if interpret else AUTOTUNE_CONFIGS


def triton_available(device: str) -> str | None:
    """None when the Triton backend can run on `device`, else why not."""
    if device == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        return "Triton kernels need CUDA (or TRITON_INTERPRET=1 for a slow CPU check)"
    try:
        import triton  # noqa: F401  (a second or more to import: only where it can run)
    except ImportError:
        return "Triton is not installed (it ships with CUDA builds of torch)"
    return None


def _kernel() -> Any:
    global _KERNEL
    if _KERNEL is not None:
        return _KERNEL
    import triton
    import triton.language as tl

    configs = [
        triton.Config({"BLOCK_N": n, "BLOCK_K": k}, num_warps=w, num_stages=st)
        for n, k, w, st in autotune_configs(os.environ.get("TRITON_INTERPRET") == "1")
    ]

    @triton.autotune(configs=configs, key=["N", "K", "num_valid", "BLOCK_M"])
    @triton.jit
    def moe_gemm(
        a_ptr,
        b_ptr,
        c_ptr,
        sorted_ptr,
        expert_ptr,
        weight_ptr,
        padded_len_ptr,
        num_valid,
        N,
        K,
        stride_am,
        stride_ak,
        stride_be,
        stride_bn,
        stride_bk,
        stride_cm,
        stride_cn,
        TOP_K: tl.constexpr,
        A_PER_TOKEN: tl.constexpr,
        MUL_WEIGHT: tl.constexpr,
        BLOCK_M: tl.constexpr,
        BLOCK_N: tl.constexpr,
        BLOCK_K: tl.constexpr,
    ):
        pid = tl.program_id(0)
        num_pid_n = tl.cdiv(N, BLOCK_N)
        pid_m = pid // num_pid_n
        pid_n = pid % num_pid_n
        if pid_m * BLOCK_M < tl.load(padded_len_ptr):
            offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
            copy = tl.load(sorted_ptr + offs_m)  # token * TOP_K + slot, or num_valid for padding
            mask_m = copy < num_valid
            expert = tl.load(expert_ptr + pid_m)
            a_row = copy // TOP_K if A_PER_TOKEN else copy
            offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
            offs_k = tl.arange(0, BLOCK_K)
            a_ptrs = a_ptr + a_row[:, None] * stride_am + offs_k[None, :] * stride_ak
            b_ptrs = (
                b_ptr
                + expert * stride_be
                + offs_n[None, :] * stride_bn
                + offs_k[:, None] * stride_bk
            )
            acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
            for k in range(tl.cdiv(K, BLOCK_K)):
                k_left = K - k * BLOCK_K
                a = tl.load(a_ptrs, mask=mask_m[:, None] & (offs_k[None, :] < k_left), other=0.0)
                b = tl.load(
                    b_ptrs, mask=(offs_k[:, None] < k_left) & (offs_n[None, :] < N), other=0.0
                )
                acc += tl.dot(a, b)
                a_ptrs += BLOCK_K * stride_ak
                b_ptrs += BLOCK_K * stride_bk
            if MUL_WEIGHT:
                w = tl.load(weight_ptr + copy, mask=mask_m, other=0.0)
                acc = acc * w[:, None]
            c_ptrs = c_ptr + copy[:, None] * stride_cm + offs_n[None, :] * stride_cn
            tl.store(
                c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=mask_m[:, None] & (offs_n[None, :] < N)
            )

    _KERNEL = moe_gemm
    return _KERNEL


def align_block_size(ids: Any, num_experts: int, block_m: int) -> tuple[Any, Any, Any]:
    """Token copies sorted by expert, each expert's run padded to a multiple of block_m, all on
    the device (no host sync): sorted copy ids (pad = num copies), the expert of each block,
    and the padded length as a 1-element tensor."""
    import torch

    flat = ids.flatten()
    n = flat.numel()
    counts = torch.bincount(flat, minlength=num_experts)
    padded = (counts + block_m - 1) // block_m * block_m
    ends = torch.cumsum(padded, 0)
    starts = ends - padded
    order = flat.argsort(stable=True)
    sorted_experts = flat[order]
    first_of_expert = torch.cumsum(counts, 0) - counts
    rank = torch.arange(n, device=flat.device) - first_of_expert[sorted_experts]
    capacity = n + num_experts * (block_m - 1)
    capacity += (-capacity) % block_m
    sorted_ids = torch.full((capacity,), n, dtype=torch.int64, device=flat.device)
    sorted_ids[starts[sorted_experts] + rank] = order
    block_starts = torch.arange(0, capacity, block_m, device=flat.device)
    block_expert = torch.searchsorted(ends, block_starts, right=True).clamp_(max=num_experts - 1)
    return sorted_ids, block_expert, ends[-1:].clone()


def _gemm(
    a: Any,
    w: Any,
    out: Any,
    sorted_ids: Any,
    block_expert: Any,
    padded_len: Any,
    weights: Any,
    top_k: int,
    a_per_token: bool,
    mul_weight: bool,
    block_m: int,
) -> None:
    import triton

    n_out, k_in = w.shape[1], w.shape[2]
    blocks = block_expert.numel()

    def grid(meta: dict[str, Any]) -> tuple[int]:
        return (blocks * triton.cdiv(n_out, meta["BLOCK_N"]),)

    _kernel()[grid](
        a,
        w,
        out,
        sorted_ids,
        block_expert,
        weights,
        padded_len,
        out.shape[0],
        n_out,
        k_in,
        a.stride(0),
        a.stride(1),
        w.stride(0),
        w.stride(1),
        w.stride(2),
        out.stride(0),
        out.stride(1),
        TOP_K=top_k,
        A_PER_TOKEN=a_per_token,
        MUL_WEIGHT=mul_weight,
        BLOCK_M=block_m,
    )


def experts_triton(x: Any, ids: Any, weights: Any, layer: Any) -> Any:
    """The Triton fused-MoE backend (same signature as the torch backends)."""
    import torch

    s = layer.shape
    tokens = x.shape[0]
    block_m = 16 if tokens * s.top_k <= 32 * s.num_experts else 64
    sorted_ids, block_expert, padded_len = align_block_size(ids, s.num_experts, block_m)
    copies = tokens * s.top_k
    flat_w = weights.flatten().to(torch.float32).contiguous()
    h = torch.empty(copies, 2 * s.width, dtype=x.dtype, device=x.device)
    _gemm(
        x, layer.w13, h, sorted_ids, block_expert, padded_len, flat_w, s.top_k, True, False, block_m
    )
    act = torch.nn.functional.silu(h[:, : s.width]) * h[:, s.width :]
    out = torch.empty(copies, s.hidden, dtype=x.dtype, device=x.device)
    _gemm(
        act,
        layer.w2,
        out,
        sorted_ids,
        block_expert,
        padded_len,
        flat_w,
        s.top_k,
        False,
        True,
        block_m,
    )
    return out.view(tokens, s.top_k, s.hidden).sum(1)
