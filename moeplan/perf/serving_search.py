"""The serving search of `moeplan throughput`: replica layouts within N GPUs (TP, EP, attention
data-parallel with EP, PP), concurrencies up to what fits in KV memory, the Pareto frontier of
tokens/s per GPU against tokens/s per user, and the best point under the latency targets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from moeplan.errors import LayoutError, MoeplanError
from moeplan.hardware.gpus import GPU
from moeplan.memory.quant import QuantScheme
from moeplan.model.specs import ModelSpec
from moeplan.perf.engines import EngineProfile
from moeplan.perf.latency import make_setup
from moeplan.perf.network import Network
from moeplan.perf.parallel import DEFAULT_USABLE_FRACTION, Layout, validate_layout
from moeplan.perf.phases import Setup
from moeplan.perf.serving import (
    Capacity,
    ServingPoint,
    Workload,
    aggregated_point,
    disaggregated_point,
    replica_capacity,
)
from moeplan.perf.speculation import NO_SPECULATION, Speculation
from moeplan.perf.terms import ROUTING_SKEW_DEFAULT

MAX_RUNNING_REQUESTS = {"vllm": 1024, "vllm-v0": 256, "sglang": 4096, "trtllm": 2048}
"""Most requests an engine runs at once by default, whatever the KV room: vLLM V1
`max_num_seqs` 1024 for the API server on data-center GPUs (256 before V1), TensorRT-LLM
`max_batch_size` 2048; SGLang sizes `max_running_requests` from the KV pool (4096 kept as a
bound on the sweep). Other engines: no cap."""


@dataclass(frozen=True)
class Targets:
    """Latency targets a point must meet to be chosen (None: no target)."""

    min_tok_s_user: float | None = None  # output tokens/s per user, TTFT included
    max_tpot_ms: float | None = None
    max_ttft_ms: float | None = None

    def failure(self, p: ServingPoint) -> str | None:
        """The first target `p` misses, in words, or None when it meets them all."""
        if self.min_tok_s_user is not None and p.output_tok_s_per_user < self.min_tok_s_user:
            return f"{p.output_tok_s_per_user:.1f} tok/s/user < {self.min_tok_s_user:g}"
        if self.max_tpot_ms is not None and p.tpot_s * 1e3 > self.max_tpot_ms:
            return f"TPOT {p.tpot_s * 1e3:.1f} ms > {self.max_tpot_ms:g} ms"
        if self.max_ttft_ms is not None and p.ttft_s * 1e3 > self.max_ttft_ms:
            return f"TTFT {p.ttft_s * 1e3:.0f} ms > {self.max_ttft_ms:g} ms"
        return None


@dataclass(frozen=True)
class Deployment:
    """What is served: a model and quantization on a GPU kind, the engine and its options."""

    spec: ModelSpec
    scheme: QuantScheme
    gpu: GPU
    engine: EngineProfile
    kv_quant: str = "bf16"
    state_dtype: str = "fp32"
    usable_fraction: float = DEFAULT_USABLE_FRACTION
    speculation: Speculation = NO_SPECULATION
    disaggregated: bool = False
    routing_skew: float = ROUTING_SKEW_DEFAULT  # expert popularity spread (perf.terms)


@dataclass(frozen=True)
class LayoutResult:
    layout: Layout
    replicas: int
    capacity: Capacity | None
    points: tuple[ServingPoint, ...]
    rejected: str = ""  # why this layout has no point


@dataclass(frozen=True)
class ServingResult:
    deployment: Deployment
    workload: Workload
    gpus: int
    targets: Targets
    layouts: tuple[LayoutResult, ...]
    frontier: tuple[ServingPoint, ...]
    best: ServingPoint | None
    reason: str = ""  # why best is None
    notes: tuple[str, ...] = field(default=())

    @property
    def best_layout(self) -> LayoutResult | None:
        """The layout of the best point, else the one that holds the most requests."""
        fits = [r for r in self.layouts if r.capacity is not None and r.points]
        if self.best is not None:
            for r in fits:
                if r.layout == self.best.setup.layout:
                    return r
        return max(
            fits,
            key=lambda r: r.capacity.per_replica * r.replicas if r.capacity else 0,
            default=None,
        )


def engine_cap(dep: Deployment, layout: Layout, default: int) -> int:
    """Requests the engine runs at once in one replica: its cap per engine instance (one per
    attention-DP rank in vLLM, SGLang and TensorRT-LLM) x the DP ranks."""
    per_rank = MAX_RUNNING_REQUESTS.get(dep.engine.id)
    return default if per_rank is None else per_rank * layout.dp


def running_cap(dep: Deployment, layout: Layout, capacity: Capacity) -> int:
    """Requests one replica runs at once: what its KV cache holds at full context, and the
    engine's own cap. A client that keeps more in flight (a benchmark's --max-concurrency above
    this) queues the rest: the engine admits a request only while it has KV blocks for it (vLLM
    V1 scheduler), so the running batch, and the throughput, stop growing here."""
    return min(capacity.per_replica, engine_cap(dep, layout, capacity.per_replica))


def _powers_of_two(limit: int) -> Iterator[int]:
    n = 1
    while n <= limit:
        yield n
        n *= 2


def replica_layouts(spec: ModelSpec, gpu: GPU, gpus: int) -> list[Layout]:
    """Layouts of one replica whose size divides `gpus`: TP inside the NVLink domain, MoE
    either tensor-parallel over the stage or expert-parallel (EP = GPUs per stage, attention
    then data-parallel over stage / TP groups), and 1, 2 or 4 pipeline stages."""
    out = []
    for size in sorted({s for s in _powers_of_two(gpus) if gpus % s == 0} | {gpus}):
        for pp in (1, 2, 4):
            if size % pp:
                continue
            stage = size // pp
            for tp in _powers_of_two(min(stage, gpu.nvlink_domain_gpus)):
                if stage % tp:
                    continue
                dp = stage // tp
                for ep in {1, stage} if spec.is_moe else {1}:
                    if dp > 1 and ep == 1:
                        continue  # attention DP is served with expert-parallel MoE
                    layout = Layout(tp=tp, ep=ep, pp=pp, dp=dp)
                    try:
                        validate_layout(spec, layout)
                    except LayoutError:
                        continue
                    out.append(layout)
    return out


def concurrencies(cap: int) -> list[int]:
    """1, 2, 4, ... up to `cap`, and `cap` itself."""
    return sorted({*(c for c in _powers_of_two(cap)), cap}) if cap >= 1 else []


def evaluate_layout(
    dep: Deployment, workload: Workload, layout: Layout, replicas: int
) -> LayoutResult:
    """Every concurrency of one replica layout, from 1 to what fits (and the engine runs)."""
    try:
        setup = setup_for(dep, layout)
    except LayoutError as exc:
        return LayoutResult(layout, replicas, None, (), str(exc))
    capacity = replica_capacity(setup, workload, dep.usable_fraction, dep.speculation)
    if capacity.per_replica < 1:
        short = capacity.kv_bytes_per_request_per_gpu - capacity.free_bytes_per_gpu
        return LayoutResult(
            layout,
            replicas,
            capacity,
            (),
            f"one request of {workload.input_len + workload.output_len} tokens does not fit: "
            f"{short / 1e9:.1f} GB per GPU missing",
        )
    cap = running_cap(dep, layout, capacity)
    points = []
    for c in concurrencies(cap):
        p = (
            disaggregated_point(setup, workload, c, replicas, dep.speculation)
            if dep.disaggregated
            else aggregated_point(setup, workload, c, replicas, dep.speculation)
        )
        if p is not None:
            points.append(p)
    why = "" if points else "prompts exceed the engine's token budget per step"
    return LayoutResult(layout, replicas, capacity, tuple(points), why)


def setup_for(dep: Deployment, layout: Layout) -> Setup:
    """The latency setup of one replica: nodes are the NVLink domains it spans."""
    gpu = dep.gpu
    nodes = max(1, -(-layout.gpus // gpu.nvlink_domain_gpus))
    while layout.gpus % nodes:
        nodes += 1
    network = Network(nodes, gpu.network_bytes_per_s)
    return make_setup(
        dep.spec,
        dep.scheme,
        gpu,
        layout,
        dep.engine,
        None,
        network,
        dep.kv_quant,
        dep.state_dtype,
        dep.routing_skew,
    )


def pareto(points: list[ServingPoint]) -> tuple[ServingPoint, ...]:
    """Points no other point beats on both tokens/s per GPU and tokens/s per user."""
    ordered = sorted(points, key=lambda p: (-p.output_tok_s_per_user, -p.output_tok_s_per_gpu))
    frontier: list[ServingPoint] = []
    for p in ordered:
        if not frontier or p.output_tok_s_per_gpu > frontier[-1].output_tok_s_per_gpu:
            frontier.append(p)
    return tuple(frontier)


def search_serving(
    dep: Deployment,
    workload: Workload,
    gpus: int,
    targets: Targets = Targets(),
    pinned: Layout | None = None,
) -> ServingResult:
    """The frontier over every replica layout within `gpus` GPUs (or the pinned one)."""
    if gpus < 1:
        raise MoeplanError("--gpus must be at least 1")
    if pinned is not None:
        if gpus % pinned.gpus:
            raise MoeplanError(
                f"--gpus {gpus} is not a multiple of the layout {pinned.describe()} "
                f"({pinned.gpus} GPUs)"
            )
        validate_layout(dep.spec, pinned)
        layouts = [pinned]
    else:
        layouts = replica_layouts(dep.spec, dep.gpu, gpus)
    results = tuple(evaluate_layout(dep, workload, lay, gpus // lay.gpus) for lay in layouts)
    points = [p for r in results for p in r.points]
    frontier = pareto(points)
    meeting = [p for p in points if targets.failure(p) is None]
    best = max(meeting, key=lambda p: p.output_tok_s_per_gpu, default=None)
    reason = ""
    if best is None:
        reason = _why_none(results, points, targets)
    return ServingResult(dep, workload, gpus, targets, results, frontier, best, reason)


def _why_none(
    results: tuple[LayoutResult, ...], points: list[ServingPoint], targets: Targets
) -> str:
    if not points:
        reasons = sorted({r.rejected for r in results if r.rejected})
        return "no layout fits: " + ("; ".join(reasons[:2]) or "no valid layout")
    fastest = max(points, key=lambda p: p.output_tok_s_per_user)
    return f"no point meets the targets; the fastest per user: {targets.failure(fastest)}"
