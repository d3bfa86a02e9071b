"""`moeplan size`: parameters, memory, GPUs needed, and how the counts compare with the
publisher's. Pure: takes specs, returns a SizeReport."""

from __future__ import annotations

from dataclasses import dataclass, field

from moeplan.hardware.gpus import GPU
from moeplan.memory.estimate import MemoryEstimate, estimate_memory
from moeplan.memory.quant import QuantScheme, component_bits
from moeplan.model.params import ParamCounts, count_params
from moeplan.model.specs import ModelSpec
from moeplan.perf.parallel import (
    DEFAULT_USABLE_FRACTION,
    Layout,
    PerGPUMemory,
    gpus_needed,
    make_layout,
    per_gpu_memory,
)


@dataclass(frozen=True)
class OfficialComparison:
    figure: str  # "total" or "active"
    published: float
    computed: int
    convention: str
    relative_error: float
    note: str = ""


@dataclass(frozen=True)
class SizeReport:
    spec: ModelSpec
    scheme: QuantScheme
    params: ParamCounts
    memory: MemoryEstimate
    bits_per_weight: dict[str, float]
    comparisons: tuple[OfficialComparison, ...]
    gpu: GPU | None = None
    usable_fraction: float = DEFAULT_USABLE_FRACTION
    gpus_needed: int | None = None
    needed_shard: PerGPUMemory | None = None
    shard: PerGPUMemory | None = None  # for an explicit --gpus/--tp/--ep layout
    notes: tuple[str, ...] = field(default=())

    @property
    def average_bits_per_weight(self) -> float:
        """Weight bytes x 8 over the parameters stored (MTP only when it is loaded)."""
        stored = self.params.total + (
            self.params.breakdown["mtp"] if self.memory.weights_by_component["mtp"] else 0
        )
        return 8 * self.memory.weights_bytes / stored


def active_by_convention(params: ParamCounts, convention: str) -> int:
    return {
        "with_embedding": params.active_with_embedding,
        "without_input_embedding": params.active,
        "without_embeddings": params.active_without_embeddings,
    }[convention]


def compare_official(
    spec: ModelSpec, params: ParamCounts
) -> tuple[tuple[OfficialComparison, ...], list[str]]:
    """Computed vs published counts, on what the published figure includes."""
    official = spec.official
    if official is None:
        return (), []
    out, notes = [], []
    missing = ", ".join(official.not_in_config)
    if official.total:
        note = f"official total includes {missing}, not in this config" if missing else ""
        out.append(
            OfficialComparison(
                "total",
                official.total,
                params.total,
                "main model",
                params.total / official.total - 1,
                note,
            )
        )
        if note:
            notes.append(note)
    if official.active:
        computed = active_by_convention(params, official.active_convention)
        out.append(
            OfficialComparison(
                "active",
                official.active,
                computed,
                official.active_convention,
                computed / official.active - 1,
            )
        )
    if official.note:
        notes.append(official.note)
    return tuple(out), notes


def size_model(
    spec: ModelSpec,
    scheme: QuantScheme,
    context: int = 4096,
    batch: int = 1,
    kv_quant: str = "bf16",
    gpu: GPU | None = None,
    usable_fraction: float = DEFAULT_USABLE_FRACTION,
    include_mtp: bool = False,
    gpus: int | None = None,
    tp: int | None = None,
    ep: int | None = None,
    pp: int | None = None,
) -> SizeReport:
    params = count_params(spec)
    memory = estimate_memory(spec, scheme, context, batch, kv_quant, include_mtp, params)
    comparisons, notes = compare_official(spec, params)
    if spec.mtp_layers and not include_mtp:
        notes.append(
            f"{spec.mtp_layers} MTP layer(s) ({params.breakdown['mtp']:,} params) are in "
            "the checkpoint but not loaded without speculative decoding; --mtp counts them"
        )
    needed = needed_shard = shard = None
    if gpu is not None:
        found = gpus_needed(spec, memory, gpu.memory_bytes, usable_fraction)
        if found is not None:
            needed, needed_shard = found
        else:
            notes.append(f"does not fit on up to 1024 x {gpu.id}")
    if gpus is not None or tp is not None or ep is not None or pp is not None:
        layout: Layout = make_layout(spec, gpus=gpus, tp=tp, ep=ep, pp=pp)
        shard = per_gpu_memory(spec, memory, layout)
    return SizeReport(
        spec,
        scheme,
        params,
        memory,
        component_bits(scheme, spec, params),
        comparisons,
        gpu,
        usable_fraction,
        needed,
        needed_shard,
        shard,
        tuple(notes),
    )
