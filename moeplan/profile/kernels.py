"""Device kernels other than the MoE layer: copy bandwidth, dense GEMM throughput and
attention decode over a KV cache. Each returns result rows with their shapes."""

from __future__ import annotations

from typing import Any

from .timing import Timer


def copy_bandwidth(timer: Timer, device: str, n_bytes: int) -> dict[str, Any]:
    """dst.copy_(src) of n_bytes: bytes moved = read + write = 2 x n_bytes."""
    import torch

    src = torch.empty(n_bytes, dtype=torch.uint8, device=device).fill_(1)
    dst = torch.empty_like(src)
    t = timer.time(lambda: dst.copy_(src), flush_l2=False)
    return {
        "kernel": "copy",
        "bytes": n_bytes,
        "seconds": t.median_s,
        "bytes_per_s": 2 * n_bytes / t.median_s,
        "cuda_graph": t.graph,
    }


def fp8_supported(device: str) -> bool:
    import torch

    if device != "cuda" or not hasattr(torch, "float8_e4m3fn") or not hasattr(torch, "_scaled_mm"):
        return False
    major, minor = torch.cuda.get_device_capability()
    return (major, minor) >= (8, 9)


def gemm(timer: Timer, device: str, m: int, n: int, k: int, dtype_name: str) -> dict[str, Any]:
    """C[m, n] = A[m, k] @ B[k, n]; FLOPs 2mnk. fp8 through torch._scaled_mm (e4m3, per-tensor
    scales, bf16 output)."""
    import torch

    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}.get(dtype_name, torch.bfloat16)
    if device == "cpu":
        dtype = torch.float32  # CPU BF16 GEMMs are emulated: time the path, not the datatype
    a = torch.randn(m, k, device=device).to(dtype)
    b = torch.randn(n, k, device=device).to(dtype)
    if dtype_name == "fp8":
        a8, b8 = a.to(torch.float8_e4m3fn), b.to(torch.float8_e4m3fn)
        one = torch.ones((), device=device)

        def fn():
            return torch._scaled_mm(a8, b8.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
    else:
        fn = lambda: a @ b.t()  # noqa: E731
    t = timer.time(fn)
    return {
        "kernel": "gemm",
        "dtype": dtype_name if device != "cpu" else "fp32",
        "m": m,
        "n": n,
        "k": k,
        "seconds": t.median_s,
        "flops_per_s": 2.0 * m * n * k / t.median_s,
        "cuda_graph": t.graph,
    }


def attention_decode_impl(device: str) -> str:
    """What a decode step is timed with, the first that runs here, closest to what serving
    engines run: "flash_attn.flash_attn_with_kvcache" (FlashAttention's split-KV decode kernel,
    vLLM's and SGLang's default on Hopper) when flash-attn is installed, else
    "sdpa, flash backend" (torch SDPA forced onto its FlashAttention-2 backend) on CUDA, else
    "sdpa, default dispatch" (whatever SDPA dispatches to: the CPU path)."""
    if device != "cuda":
        return "sdpa, default dispatch"
    try:
        from flash_attn import flash_attn_with_kvcache  # noqa: F401
    except ImportError:
        return "sdpa, flash backend"
    return "flash_attn.flash_attn_with_kvcache"


def attention_decode(
    timer: Timer, device: str, batch: int, heads: int, kv_heads: int, head_dim: int, context: int
) -> dict[str, Any]:
    """One decode step of attention: 1 query token per sequence over `context` cached tokens
    with GQA (heads / kv_heads queries per KV head); bytes = the K and V cache read. The
    kernel is attention_decode_impl's, named in the row."""
    import torch

    impl = attention_decode_impl(device)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    q = torch.randn(batch, heads, 1, head_dim, device=device, dtype=dtype)
    k = torch.randn(batch, kv_heads, context, head_dim, device=device, dtype=dtype)
    v = torch.randn_like(k)
    group = heads // kv_heads

    def sdpa() -> Any:
        try:
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True)
        except TypeError:  # torch without enable_gqa
            return torch.nn.functional.scaled_dot_product_attention(
                q, k.repeat_interleave(group, 1), v.repeat_interleave(group, 1)
            )

    fn: Any = sdpa
    if impl == "flash_attn.flash_attn_with_kvcache":
        from flash_attn import flash_attn_with_kvcache

        qf, kf, vf = (
            q.transpose(1, 2),
            k.transpose(1, 2).contiguous(),
            v.transpose(1, 2).contiguous(),
        )
        fn = lambda: flash_attn_with_kvcache(qf, kf, vf)  # noqa: E731
    elif impl == "sdpa, flash backend":
        from torch.nn.attention import SDPBackend, sdpa_kernel

        try:
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                sdpa()

            def fn() -> Any:
                with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                    return sdpa()
        except RuntimeError:  # the flash backend refuses this shape or GPU
            impl = "sdpa, default dispatch (the flash backend refused this shape)"

    t = timer.time(fn)
    kv_bytes = 2 * k.numel() * k.element_size()
    return {
        "kernel": "attention_decode",
        "implementation": impl,
        "batch": batch,
        "heads": heads,
        "kv_heads": kv_heads,
        "head_dim": head_dim,
        "context": context,
        "kv_bytes": kv_bytes,
        "seconds": t.median_s,
        "bytes_per_s": kv_bytes / t.median_s,
        "cuda_graph": t.graph,
    }


def attention_prefill(
    timer: Timer, device: str, batch: int, heads: int, kv_heads: int, head_dim: int, tokens: int
) -> dict[str, Any]:
    """Causal attention over a prompt of `tokens` tokens (SDPA, is_causal; GQA). FLOPs as the
    latency model counts them (terms.attention_core_flops): 2 x heads x (head_dim + v_head_dim)
    per attended pair, tokens x (tokens + 1) / 2 pairs per sequence."""
    import torch

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    q = torch.randn(batch, heads, tokens, head_dim, device=device, dtype=dtype)
    k = torch.randn(batch, kv_heads, tokens, head_dim, device=device, dtype=dtype)
    v = torch.randn_like(k)
    group = heads // kv_heads
    sdpa = torch.nn.functional.scaled_dot_product_attention
    try:
        sdpa(q, k, v, is_causal=True, enable_gqa=True)
        fn: Any = lambda: sdpa(q, k, v, is_causal=True, enable_gqa=True)  # noqa: E731
    except TypeError:  # torch without enable_gqa
        k, v = k.repeat_interleave(group, 1), v.repeat_interleave(group, 1)
        fn = lambda: sdpa(q, k, v, is_causal=True)  # noqa: E731
    t = timer.time(fn)
    flops = batch * 2 * heads * 2 * head_dim * tokens * (tokens + 1) / 2
    return {
        "kernel": "attention_prefill",
        "implementation": "sdpa, causal, default dispatch",
        "batch": batch,
        "heads": heads,
        "kv_heads": kv_heads,
        "head_dim": head_dim,
        "tokens": tokens,
        "flops": flops,
        "seconds": t.median_s,
        "flops_per_s": flops / t.median_s,
        "cuda_graph": t.graph,
    }
