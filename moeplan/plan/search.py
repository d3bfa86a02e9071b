"""`moeplan plan`: search quantization x GPU kind x count x TP/EP/PP layouts for the cheapest
deployment that fits and meets every service target."""

from __future__ import annotations

from dataclasses import dataclass, field

from moeplan.errors import LayoutError, MoeplanError
from moeplan.hardware.gpus import GPU
from moeplan.memory.quant import QuantScheme
from moeplan.model.specs import ModelSpec
from moeplan.perf.engines import EngineProfile
from moeplan.perf.latency import LatencyPoint, latency_point, make_setup
from moeplan.perf.network import Network
from moeplan.perf.parallel import DEFAULT_USABLE_FRACTION, GPUS_PER_NODE, Layout, validate_layout
from moeplan.perf.speculation import NO_SPECULATION, Speculation


@dataclass(frozen=True)
class Targets:
    max_ttft_ms: float | None = None
    max_tpot_ms: float | None = None
    min_tokens_per_s: float | None = None  # total decode tokens/s at the given concurrency

    def failures(self, p: LatencyPoint) -> list[str]:
        out = []
        if self.max_ttft_ms is not None and p.ttft_ms > self.max_ttft_ms:
            out.append(f"TTFT {p.ttft_ms:.1f} ms > {self.max_ttft_ms:g} ms")
        if self.max_tpot_ms is not None and p.tpot_ms > self.max_tpot_ms:
            out.append(f"TPOT {p.tpot_ms:.2f} ms > {self.max_tpot_ms:g} ms")
        if self.min_tokens_per_s is not None and p.tokens_per_s_total < self.min_tokens_per_s:
            out.append(f"{p.tokens_per_s_total:.0f} tokens/s < {self.min_tokens_per_s:g}")
        return out


@dataclass(frozen=True)
class Candidate:
    scheme: QuantScheme
    gpu: GPU
    layout: Layout
    point: LatencyPoint | None
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class PlanResult:
    accepted: list[Candidate]
    rejected: list[Candidate]
    evaluated: int
    notes: list[str] = field(default_factory=list)
    speculation: Speculation = NO_SPECULATION


def layouts_for(spec: ModelSpec, gpus: int) -> list[Layout]:
    """Valid layouts on `gpus` GPUs: TP inside a node, EP over a stage's GPUs, PP across."""
    out = []
    for pp in _divisors(gpus):
        per_stage = gpus // pp
        for tp in _divisors(per_stage):
            if tp > GPUS_PER_NODE:
                continue
            dp = per_stage // tp
            for ep in {1, per_stage} if dp == 1 else {per_stage}:
                layout = Layout(tp=tp, ep=ep, pp=pp, dp=dp)
                try:
                    validate_layout(spec, layout)
                except LayoutError:
                    continue
                out.append(layout)
    return out


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def gpu_counts(max_gpus: int) -> list[int]:
    """1, 2, 4, 8, then whole nodes of 8."""
    counts = [n for n in (1, 2, 4) if n <= max_gpus]
    counts += list(range(GPUS_PER_NODE, max_gpus + 1, GPUS_PER_NODE))
    return counts


def plan(
    spec: ModelSpec,
    schemes: list[QuantScheme],
    gpus: list[GPU],
    max_gpus: int,
    input_len: int,
    output_len: int,
    concurrency: int,
    targets: Targets,
    engine: EngineProfile,
    kv_quant: str = "bf16",
    usable_fraction: float = DEFAULT_USABLE_FRACTION,
    nodes_of: int = GPUS_PER_NODE,
    state_dtype: str = "fp32",
    speculation: Speculation = NO_SPECULATION,
) -> PlanResult:
    """Every candidate (GPU kind x count x layout x quantization) priced at one batch of
    `concurrency`, decode drafting with `speculation` (its MTP weights and KV in the memory)."""
    if max_gpus < 1 or concurrency < 1:
        raise MoeplanError("--max-gpus and --concurrency must be at least 1")
    accepted: list[Candidate] = []
    rejected: list[Candidate] = []
    evaluated = 0
    for gpu in gpus:
        for n in gpu_counts(max_gpus):
            if n > 1 and gpu.interconnect.kind == "none":
                break
            network = Network(nodes=max(1, -(-n // nodes_of)))
            for layout in layouts_for(spec, n):
                for scheme in schemes:
                    evaluated += 1
                    cand = _evaluate(
                        spec,
                        scheme,
                        gpu,
                        layout,
                        network,
                        engine,
                        kv_quant,
                        input_len,
                        output_len,
                        concurrency,
                        targets,
                        usable_fraction,
                        state_dtype,
                        speculation,
                    )
                    (accepted if cand.ok else rejected).append(cand)
    accepted.sort(key=lambda c: (c.layout.gpus, -c.point.tokens_per_s_total if c.point else 0))
    rejected.sort(key=lambda c: (c.layout.gpus, len(c.failures)))
    return PlanResult(accepted, rejected, evaluated, speculation=speculation)


def _evaluate(
    spec: ModelSpec,
    scheme: QuantScheme,
    gpu: GPU,
    layout: Layout,
    network: Network,
    engine: EngineProfile,
    kv_quant: str,
    input_len: int,
    output_len: int,
    concurrency: int,
    targets: Targets,
    usable_fraction: float,
    state_dtype: str = "fp32",
    speculation: Speculation = NO_SPECULATION,
) -> Candidate:
    try:
        setup = make_setup(
            spec,
            scheme,
            gpu,
            layout,
            engine,
            network=network,
            kv_quant=kv_quant,
            state_dtype=state_dtype,
        )
        point = latency_point(
            setup, concurrency, input_len, output_len, usable_fraction, speculation=speculation
        )
    except LayoutError as exc:
        return Candidate(scheme, gpu, layout, None, (str(exc).split(": ")[-1],))
    # TTFT is arrival to first token: `concurrency` prompts arriving together wait for the
    # batch's prefill, as in `latency` and `check` (one definition, issue 17)
    return Candidate(scheme, gpu, layout, point, tuple(targets.failures(point)))
