"""Parallel layouts and how they shard memory across GPUs.

Semantics follow vLLM/SGLang: a pipeline stage holds `gpus_per_stage` GPUs; attention and dense
layers are tensor-parallel over `tp` GPUs (replicated over the stage's other `dp` groups, which
serve different sequences); routed experts are split over all GPUs of the stage, either whole
experts per GPU (expert parallel, ``ep == gpus_per_stage``) or each expert tensor-parallel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from moeplan.errors import LayoutError
from moeplan.memory.cache import kv_bytes_per_rank
from moeplan.memory.estimate import DEFAULT_USABLE_FRACTION as DEFAULT_USABLE_FRACTION  # re-export
from moeplan.memory.estimate import MemoryEstimate
from moeplan.model.specs import AttentionKind, ModelSpec

GPUS_PER_NODE = 8
"""GPUs that share one NVLink/Infinity Fabric domain (HGX/DGX and MI300X platforms)."""


@dataclass(frozen=True)
class Layout:
    tp: int = 1
    ep: int = 1
    pp: int = 1
    dp: int = 1  # attention data-parallel groups inside a stage

    @property
    def gpus_per_stage(self) -> int:
        return self.tp * self.dp

    @property
    def gpus(self) -> int:
        return self.gpus_per_stage * self.pp

    def describe(self) -> str:
        parts = [f"TP{self.tp}"]
        if self.dp > 1:
            parts.append(f"DP{self.dp}")
        if self.ep > 1:
            parts.append(f"EP{self.ep}")
        if self.pp > 1:
            parts.append(f"PP{self.pp}")
        return "+".join(parts)


def make_layout(
    spec: ModelSpec,
    gpus: int | None = None,
    tp: int | None = None,
    ep: int | None = None,
    pp: int | None = None,
) -> Layout:
    """Fill in a layout from what the user gave; --gpus alone means TP over all of them
    (pipeline across nodes when more than one node's worth)."""
    for name, value in (("gpus", gpus), ("tp", tp), ("ep", ep), ("pp", pp)):
        if value is not None and value < 1:
            raise LayoutError(f"--{name} must be at least 1, got {value}")
    pp = pp or 1
    if tp is None and ep is None:
        total = gpus or 1
        if total % pp:
            raise LayoutError(f"--gpus {total} is not divisible by --pp {pp}")
        per_stage = total // pp
        tp = per_stage
        if per_stage > GPUS_PER_NODE and pp == 1 and total % GPUS_PER_NODE == 0:
            tp, pp = GPUS_PER_NODE, total // GPUS_PER_NODE
        layout = Layout(tp=tp, ep=1, pp=pp)
    else:
        tp = tp or 1
        ep = ep or 1
        per_stage = max(tp, ep)
        if per_stage % tp:
            raise LayoutError(f"--ep {ep} must be a multiple of --tp {tp}")
        if ep not in (1, per_stage):
            raise LayoutError(f"--ep {ep} must be 1 or the GPUs per stage ({per_stage})")
        layout = Layout(tp=tp, ep=ep, pp=pp, dp=per_stage // tp)
        if gpus is not None and gpus != layout.gpus:
            raise LayoutError(
                f"--gpus {gpus} does not match the layout {layout.describe()} ({layout.gpus} GPUs)"
            )
    validate_layout(spec, layout)
    return layout


def validate_layout(spec: ModelSpec, layout: Layout) -> None:
    attn = spec.attention
    if attn.num_heads % layout.tp:
        raise LayoutError(f"TP {layout.tp} does not divide {attn.num_heads} attention heads")
    kv = attn.num_kv_heads
    if attn.kind is AttentionKind.GQA and kv % layout.tp and layout.tp % kv:
        raise LayoutError(f"TP {layout.tp} and {kv} KV heads: one must divide the other")
    for kind, split in _recurrent_splits(spec):
        if any(n and n % layout.tp for n in split):
            raise LayoutError(f"TP {layout.tp} does not divide the {kind} heads")
    if layout.ep > 1:
        if not spec.is_moe or spec.moe is None:
            raise LayoutError(f"EP {layout.ep} needs a MoE model")
        if spec.moe.num_experts % layout.ep:
            raise LayoutError(f"EP {layout.ep} does not divide {spec.moe.num_experts} experts")
    if layout.pp > spec.num_layers:
        raise LayoutError(f"PP {layout.pp} exceeds the {spec.num_layers} layers")


@cache
def _recurrent_splits(spec: ModelSpec) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """The axes TP splits in each distinct recurrent layer: vLLM shards GDN / Mamba2 by heads,
    Mamba by channels (cached per frozen spec: the search validates thousands of layouts)."""
    return tuple(
        sorted(
            {
                (
                    r.kind.value,
                    (r.inner_size,) if r.kind.value == "mamba" else (r.num_heads, r.num_key_heads),
                )
                for r in spec.recurrent_layers
            }
        )
    )


def kv_shard_fraction(spec: ModelSpec, tp: int) -> float:
    """Share of a sequence's KV one TP rank holds: GQA heads split over TP (replicated when
    TP > kv_heads); the MLA latent has no head axis and is replicated on every rank."""
    attn = spec.attention
    if attn.kind is AttentionKind.MLA:
        return 1.0
    return max(1 / tp, 1 / attn.num_kv_heads)


@dataclass(frozen=True)
class PerGPUMemory:
    layout: Layout
    weights_bytes: int
    kv_cache_bytes: int
    overhead_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.overhead_bytes


def per_gpu_memory(spec: ModelSpec, mem: MemoryEstimate, layout: Layout) -> PerGPUMemory:
    """Memory on the busiest GPU: the stage with the most layers plus the larger of embedding
    and LM head (and any vision/audio tower); attention/dense weights / TP, experts / GPUs per
    stage, router and norms replicated; KV by kv_shard_fraction and recurrent state / TP
    (both in kv_cache_bytes), sequences spread over the DP groups."""
    w = mem.weights_by_component
    layers_per_stage = math.ceil(spec.num_layers / layout.pp)
    stage = layers_per_stage / spec.num_layers
    per_stage_gpus = layout.gpus_per_stage
    layer_weights = (
        (w["attention"] + w["dense_ffn"] + w["shared_experts"]) / layout.tp
        + w["routed_experts"] / per_stage_gpus
        + w["router"]
        + w["norms"]
        + w["mtp"] / per_stage_gpus
    ) * stage
    if layout.pp == 1:
        ends = (w["embedding"] + w["lm_head"]) / layout.tp
    else:
        ends = max(w["embedding"], w["lm_head"]) / layout.tp
    ends += w.get("towers", 0) / layout.tp  # vision/audio encoder, on the first stage
    seqs_per_group = math.ceil(mem.batch / layout.dp)
    # each attention layer's share by its own KV heads (memory.cache.shard_fraction)
    kv_rank = kv_bytes_per_rank(spec, mem.context, mem.kv_quant, layout.tp, mem.include_mtp)
    kv = kv_rank * seqs_per_group * stage
    # linear-attention / Mamba state: heads split over TP (vLLM shards the mixer by heads)
    kv += mem.state_bytes / mem.batch * seqs_per_group / layout.tp * stage
    return PerGPUMemory(
        layout, math.ceil(layer_weights + ends), math.ceil(kv), mem.runtime_overhead_bytes
    )


def gpus_needed(
    spec: ModelSpec,
    mem: MemoryEstimate,
    gpu_memory_bytes: int,
    usable_fraction: float = DEFAULT_USABLE_FRACTION,
    max_gpus: int = 1024,
) -> tuple[int, PerGPUMemory] | None:
    """The fewest GPUs (1, 2, 4, 8, 16, ...) whose busiest GPU fits in usable_fraction x memory:
    the widest TP inside a node that divides the model, pipeline stages for the rest."""
    usable = gpu_memory_bytes * usable_fraction
    n = 1
    while n <= max_gpus:
        for tp in range(min(n, GPUS_PER_NODE), 0, -1):
            layout = Layout(tp=tp, pp=n // tp)
            if n % tp:
                continue
            try:
                validate_layout(spec, layout)
            except LayoutError:
                continue
            shard = per_gpu_memory(spec, mem, layout)
            if shard.total_bytes <= usable:
                return n, shard
            break  # the widest valid TP holds the least per GPU; more GPUs are needed
        n *= 2
    return None
