"""`moeplan latency`: TTFT, TPOT and tokens/s for a model on a GPU and layout, per batch size."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from moeplan.errors import LayoutError
from moeplan.hardware.gpus import GPU
from moeplan.memory.cache import require_cache_type_of, state_dtype_bytes
from moeplan.memory.estimate import estimate_memory, weights_bytes_by_component
from moeplan.memory.quant import QuantScheme
from moeplan.model.params import count_params
from moeplan.model.specs import ModelSpec
from moeplan.perf.communication import collective_link
from moeplan.perf.engines import DEFAULT_ENGINE, EngineProfile, resolve_engine
from moeplan.perf.kernel_counts import linear_attention_note
from moeplan.perf.network import Network
from moeplan.perf.parallel import (
    DEFAULT_USABLE_FRACTION,
    Layout,
    PerGPUMemory,
    per_gpu_memory,
    validate_layout,
)
from moeplan.perf.phases import Phase, Rates, Setup, prefill
from moeplan.perf.speculation import (
    NO_SPECULATION,
    Speculation,
    speculation_json,
    speculation_notes,
    speculative_decode_step,
)
from moeplan.perf.terms import ROUTING_SKEW_DEFAULT, weight_split


@dataclass(frozen=True)
class LatencyPoint:
    batch: int
    prefill: Phase
    decode: Phase  # one step at the mean context of the output (verifying drafts, if any)
    input_len: int
    output_len: int
    memory: PerGPUMemory
    speculation: Speculation = NO_SPECULATION

    @property
    def ttft_ms(self) -> float:
        return self.prefill.total_s * 1e3

    @property
    def tpot_s(self) -> float:
        """Per output token: a step over the tokens a sequence gains from it (1 without
        drafting; Speculation.tokens_per_step)."""
        return self.decode.total_s / self.speculation.tokens_per_step

    @property
    def tpot_ms(self) -> float:
        return self.tpot_s * 1e3

    @property
    def tokens_per_s_per_seq(self) -> float:
        return 1.0 / self.tpot_s

    @property
    def tokens_per_s_total(self) -> float:
        return self.batch / self.tpot_s

    @property
    def end_to_end_s(self) -> float:
        """Prefill, then output_len - 1 more tokens (the first token comes from prefill)."""
        return self.prefill.total_s + max(0, self.output_len - 1) * self.tpot_s


@dataclass(frozen=True)
class LatencyReport:
    spec: ModelSpec
    scheme: QuantScheme
    gpu: GPU
    layout: Layout
    rates: Rates
    network: Network
    points: tuple[LatencyPoint, ...]
    notes: tuple[str, ...] = field(default=())
    usable_bytes: float = float("inf")  # per GPU; a point above it is a row that does not fit

    @property
    def tp_allreduce_latency_s(self) -> float | None:
        """Start-up latency of one TP all-reduce as the steps price it (the network's across
        nodes, else the engine's for the link and group size: communication.collective_link);
        None without TP (no all-reduce)."""
        if self.layout.tp <= 1:
            return None
        return collective_link(
            self.gpu, self.layout, self.network, self.rates.engine, self.layout.tp, True
        )[1]

    def missing_bytes(self, p: LatencyPoint) -> int:
        """Bytes per GPU the point lacks (0 when it fits)."""
        return max(0, math.ceil(p.memory.total_bytes - self.usable_bytes))


def make_setup(
    spec: ModelSpec,
    scheme: QuantScheme,
    gpu: GPU,
    layout: Layout,
    engine: EngineProfile | None = None,
    rates: Rates | None = None,
    network: Network | None = None,
    kv_quant: str = "bf16",
    state_dtype: str = "fp32",
    routing_skew: float = ROUTING_SKEW_DEFAULT,
) -> Setup:
    validate_layout(spec, layout)
    if layout.gpus > 1 and gpu.interconnect.kind == "none":
        raise LayoutError(f"{gpu.id} has no GPU interconnect: use one device")
    network = network or Network()
    if network.nodes < 1 or layout.gpus % network.nodes:
        raise LayoutError(f"--nodes {network.nodes} does not divide {layout.gpus} GPUs")
    engine = engine or resolve_engine(DEFAULT_ENGINE)
    require_cache_type_of(kv_quant, engine.id)
    counts = count_params(spec)
    split = weight_split(spec, counts, weights_bytes_by_component(spec, scheme, counts))
    state_dtype_bytes(state_dtype)  # an unknown dtype fails here, once
    return Setup(
        spec,
        scheme,
        gpu,
        layout,
        split,
        rates or Rates.from_engine(gpu, engine),
        network,
        kv_quant,
        state_dtype,
        routing_skew,
    )


def latency_point(
    setup: Setup,
    batch: int,
    input_len: int,
    output_len: int,
    usable_fraction: float = DEFAULT_USABLE_FRACTION,
    check_memory: bool = True,
    speculation: Speculation = NO_SPECULATION,
) -> LatencyPoint:
    """One batch size; rejects the layout when the busiest GPU does not fit. Drafting with
    the model's MTP layers loads them: their weights and KV count in the memory."""
    if batch < 1 or input_len < 1 or output_len < 1:
        raise LayoutError("batch, input and output lengths must be at least 1")
    context = input_len + output_len
    drafting = speculation.draft_tokens > 0
    mem = estimate_memory(
        setup.spec,
        setup.scheme,
        context,
        batch,
        setup.kv_quant,
        include_mtp=drafting,
        state_dtype=setup.state_dtype,
    )
    shard = per_gpu_memory(setup.spec, mem, setup.layout)
    usable = setup.gpu.memory_bytes * usable_fraction
    if check_memory and shard.total_bytes > usable:
        raise LayoutError(
            f"{setup.layout.describe()} on {setup.layout.gpus} x {setup.gpu.id} does not fit batch "
            f"{batch} x {context} tokens: {shard.total_bytes / 1e9:.1f} GB per GPU > "
            f"{usable / 1e9:.1f} GB usable"
        )
    mean_context = input_len + output_len // 2
    return LatencyPoint(
        batch,
        prefill(setup, batch, input_len),
        speculative_decode_step(setup, batch, mean_context, speculation),
        input_len,
        output_len,
        shard,
        speculation,
    )


def estimate_latency(
    spec: ModelSpec,
    scheme: QuantScheme,
    gpu: GPU,
    layout: Layout,
    batches: list[int],
    input_len: int,
    output_len: int,
    engine: EngineProfile | None = None,
    rates: Rates | None = None,
    network: Network | None = None,
    kv_quant: str = "bf16",
    usable_fraction: float = DEFAULT_USABLE_FRACTION,
    state_dtype: str = "fp32",
    routing_skew: float = ROUTING_SKEW_DEFAULT,
    speculation: Speculation = NO_SPECULATION,
) -> LatencyReport:
    """Every batch size; one that does not fit stays a point (see LatencyReport.missing_bytes),
    even when none fits: `latency` is informational and says what does not fit (exit 0)."""
    setup = make_setup(
        spec, scheme, gpu, layout, engine, rates, network, kv_quant, state_dtype, routing_skew
    )
    points = tuple(
        latency_point(setup, b, input_len, output_len, usable_fraction, False, speculation)
        for b in batches
    )
    usable = gpu.memory_bytes * usable_fraction
    notes = sorted({n for p in points for n in p.prefill.notes + p.decode.notes})
    gdn = linear_attention_note(spec, setup.rates.engine.kernels)
    notes += [gdn] if gdn else []
    notes += speculation_notes(spec, speculation)
    return LatencyReport(
        spec, scheme, gpu, layout, setup.rates, setup.network, points, tuple(notes), usable
    )


def phase_json(phase: Phase) -> dict[str, Any]:
    return {"bound": phase.bound, "seconds": {k: round(v, 9) for k, v in phase.split.items()}}


def point_json(p: LatencyPoint) -> dict[str, Any]:
    decode: dict[str, Any] = {
        "tpot_ms": round(p.tpot_ms, 4),
        "tokens_per_s_per_seq": round(p.tokens_per_s_per_seq, 3),
        "tokens_per_s_total": round(p.tokens_per_s_total, 3),
    }
    if p.speculation.draft_tokens:
        decode["speculation"] = {
            **speculation_json(p.speculation),
            "step_ms": round(p.decode.total_s * 1e3, 4),
        }
    return {
        "batch": p.batch,
        "prefill": {"ttft_ms": round(p.ttft_ms, 4), **phase_json(p.prefill)},
        "decode": {**decode, **phase_json(p.decode)},
        "end_to_end_s": round(p.end_to_end_s, 6),
        "memory_per_gpu_bytes": p.memory.total_bytes,
    }


def _fit_json(r: LatencyReport, p: LatencyPoint) -> dict[str, Any]:
    missing = r.missing_bytes(p)
    return {**point_json(p), "fits": missing == 0, "missing_bytes_per_gpu": missing}


def report_json(r: LatencyReport) -> dict[str, Any]:
    e = r.rates.engine
    doc: dict[str, Any] = {
        "model": r.spec.name,
        "quant": r.scheme.id,
        "gpu": r.gpu.id,
        "layout": {
            "description": r.layout.describe(),
            "tp": r.layout.tp,
            "ep": r.layout.ep,
            "pp": r.layout.pp,
            "dp": r.layout.dp,
            "gpus": r.layout.gpus,
            "nodes": r.network.nodes,
        },
        "efficiencies": {
            "source": r.rates.source,
            "engine": e.id,
            "stream_bw_bytes_per_s": r.rates.stream_bw_bytes_per_s,
            "bw_efficiency": e.bw_efficiency,
            "compute_efficiency": e.compute_efficiency,
            "kernel_overhead_s": e.kernel_overhead_s,
            "step_overhead_s": e.step_overhead_s,
            "collective_latency_s": e.collective_latency_s,
            "allreduce_latency_s": r.tp_allreduce_latency_s,
            "engine_source": e.source,
            "engine_fitted": e.fitted or None,
            "engine_fitted_on": list(e.fitted_on),
        },
        "notes": list(r.notes),
    }
    if len(r.points) == 1:
        doc.update(_fit_json(r, r.points[0]))
    else:
        doc["points"] = [_fit_json(r, p) for p in r.points]
    return doc
