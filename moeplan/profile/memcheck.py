"""Free-memory check before each allocation the profiler makes: a kernel whose buffers would
not fit in the device's free memory is skipped with the reason, never run into an
out-of-memory error (least of all inside a CUDA-graph capture, where it poisons the context)."""

from __future__ import annotations

from .moe import MoEShape

FREE_MEMORY_USABLE_FRACTION = 0.9
"""Use at most 90% of free memory: the caching allocator rounds blocks up and cuBLAS/Triton
allocate workspaces of their own."""
GRAPH_POOL_FACTOR = 1.0
"""A CUDA graph's private memory pool holds one more copy of the call's transient buffers
(the eager warm-up run's blocks are not shared with the capture)."""


def free_bytes(device: str) -> int | None:
    """Free device memory (torch.cuda.mem_get_info), None on CPU (no check there)."""
    if device != "cuda":
        return None
    import torch

    return int(torch.cuda.mem_get_info()[0])


def moe_transient_bytes(
    shape: MoEShape, tokens: int, element_bytes: int, backend: str, expert_bytes: int
) -> int:
    """Buffers one call of the experts backend allocates: the activations (the layer's
    input/output, each token copy's gate_up input and output, SiLU output and down output:
    MoEShape.activation_bytes) plus, for torch-gather-bmm, a copy of an expert's weights per
    token copy (layer.w13[ids] and layer.w2[ids])."""
    need = shape.activation_bytes(tokens, element_bytes)
    if backend == "torch-gather-bmm":
        need += tokens * shape.top_k * expert_bytes
    return need


def call_bytes(transient_bytes: int, graph: bool) -> int:
    """Transient bytes of one timed call, doubled for a graph's private pool."""
    return int(transient_bytes * (1 + (GRAPH_POOL_FACTOR if graph else 0)))


def skip_reason(what: str, need_bytes: int, free: int | None) -> str | None:
    """None when `need_bytes` fits in the usable part of `free` (or no check: free is None)."""
    if free is None:
        return None
    usable = int(free * FREE_MEMORY_USABLE_FRACTION)
    if need_bytes <= usable:
        return None
    return f"{what} needs {_size(need_bytes)}, {_size(usable)} usable of {_size(free)} free"


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e9:.1f} GB" if n_bytes >= 1e9 else f"{n_bytes / 1e6:.1f} MB"
