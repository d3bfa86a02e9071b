"""`moeplan size`: parameters, memory, GPUs needed, and how the counts compare with the
publisher's. Pure: takes specs, returns a SizeReport."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from moeplan.errors import LayoutError
from moeplan.memory.estimate import (
    DEFAULT_USABLE_FRACTION,
    MemoryEstimate,
    estimate_memory,
    kv_bytes_per_token,
)
from moeplan.memory.quant import QuantScheme, component_bits
from moeplan.model.official import OfficialComparison, compare_official
from moeplan.model.params import ParamCounts, count_params
from moeplan.model.specs import ModelSpec

if TYPE_CHECKING:  # layouts and the GPU catalog are loaded only when GPUs are named
    from moeplan.hardware.gpus import GPU
    from moeplan.perf.parallel import Layout, PerGPUMemory


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
        if self.memory.weights_by_component.get("towers"):
            stored += self.params.towers_total
        return 8 * self.memory.weights_bytes / stored

    @property
    def usable_bytes_per_gpu(self) -> float | None:
        return None if self.gpu is None else self.gpu.memory_bytes * self.usable_fraction

    @property
    def fits(self) -> bool | None:
        """With a GPU: does the explicit layout (else the smallest one found) hold the weights,
        KV cache and overhead within the usable fraction? None without a GPU."""
        usable = self.usable_bytes_per_gpu
        if usable is None:
            return None
        if self.shard is not None:
            return self.shard.total_bytes <= usable
        return self.gpus_needed is not None


def architecture_notes(spec: ModelSpec, params: ParamCounts, memory: MemoryEstimate) -> list[str]:
    """What the reader found that the totals do not show: towers (always named), recurrent
    state, Qwen4-Exp n-gram tables, zero-computation experts."""
    notes = []
    for t in spec.towers:
        if t.params is None:
            notes.append(f"{t.name} tower ({t.family}) present: {t.detail}; not in the totals")
            continue
        where = (
            "left out (--text-only)"
            if memory.text_only
            else "in the memory total (BF16; --text-only leaves it out)"
        )
        notes.append(
            f"{t.name} tower ({t.family}): {t.params / 1e9:.2f}B params beside the language "
            f"model's {params.total / 1e9:.2f}B, {where}"
        )
    if spec.recurrent_layers:
        kinds = sorted({r.kind.value for r in spec.recurrent_layers})
        per_seq = memory.state_bytes_per_sequence
        notes.append(
            f"{len(spec.recurrent_layers)} {'/'.join(kinds)} layers keep no KV cache but a fixed "
            f"state per sequence: {per_seq / 1e6:.1f} MB (recurrent state {memory.state_dtype}, "
            "conv window bf16; --state-dtype changes the former)"
        )
    if spec.ngram_ple is not None:
        ple = spec.ngram_ple
        notes.append(
            f"n-gram per-layer embeddings (PLE) on layers {list(ple.layer_ids)}: "
            f"{params.lookup_tables / 1e9:.2f}B params of the embedding component, a lookup "
            "(not active; runtimes may stream it from host memory)"
        )
    if params.active_range is not None:
        low, high = params.active_range
        notes.append(
            f"zero-computation experts: active per token ranges {low / 1e9:.2f}B-"
            f"{high / 1e9:.2f}B; {params.active / 1e9:.2f}B is the expected value (uniform routing)"
        )
    return notes


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
    state_dtype: str = "fp32",
    text_only: bool = False,
) -> SizeReport:
    params = count_params(spec)
    memory = estimate_memory(
        spec,
        scheme,
        context,
        batch,
        kv_quant,
        include_mtp,
        params,
        state_dtype=state_dtype,
        text_only=text_only,
    )
    comparisons, notes = compare_official(spec, params)
    notes = list(spec.reader_notes) + notes + architecture_notes(spec, params, memory)
    if spec.mtp_layers and not include_mtp:
        notes.append(
            f"{spec.mtp_layers} MTP layer(s) ({params.breakdown['mtp']:,} params) are in "
            "the checkpoint but not loaded without speculative decoding; --mtp counts them"
        )
    elif spec.mtp_layers:
        extra = memory.kv_bytes_per_token - kv_bytes_per_token(spec, kv_quant)
        kv_layers = sum(n for _, _, n in spec.mtp_attention_groups)
        notes.append(
            f"--mtp: {spec.mtp_layers} MTP layer(s) loaded ({params.breakdown['mtp']:,} params); "
            f"their {kv_layers} attention layer(s) keep a KV cache of their own, "
            f"+{extra:,} bytes/token (vLLM and SGLang allocate it beside the model's)"
        )
    needed = needed_shard = shard = None
    alone = gpu is not None and gpu.interconnect.kind == "none"  # no GPU-to-GPU links
    if gpu is not None or gpus is not None or tp is not None or ep is not None or pp is not None:
        from moeplan.perf.parallel import gpus_needed, make_layout, per_gpu_memory
    if gpu is not None:
        found = gpus_needed(spec, memory, gpu.memory_bytes, usable_fraction)
        if found is not None and not (alone and found[0] > 1):
            needed, needed_shard = found
        elif alone:
            notes.append(f"does not fit on one {gpu.id} (no GPU interconnect to shard over)")
        else:
            notes.append(f"does not fit on up to 1024 x {gpu.id}")
    if gpus is not None or tp is not None or ep is not None or pp is not None:
        layout: Layout = make_layout(spec, gpus=gpus, tp=tp, ep=ep, pp=pp)
        if alone and layout.gpus > 1 and gpu is not None:
            raise LayoutError(f"{gpu.id} has no GPU interconnect: use one device")
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
