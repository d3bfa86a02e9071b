"""Steady-state serving under continuous batching: the time of one engine step, TTFT and TPOT at
a concurrency, and how many requests fit in the KV memory left after weights and overhead.

The step model (DESIGN.md, Serving): with chunked prefill, every step runs the decode batch (one
token per running sequence, 1 + k with k speculative tokens to verify) plus its share of prompt
tokens, ISL/OSL prompt tokens per generated token, so that requests enter as fast as they leave.
The weights, the experts those tokens touch, the KV and recurrent state of the running sequences
at the mean context, and the communication of the layout are priced by the latency terms of
`perf.phases` (`stage_pass`); nothing here re-derives them. Concurrency is closed-loop (a fixed
number of requests in flight, a new one starts as one ends, as benchmark clients run), so a
request waits for no queue: its TTFT is its own prefill, in chunks of the engine's token budget,
inside steps it shares with the decode batch (in prefill batches of its own where the engine runs
them so, `EngineProfile.separate_prefill`: SGLang).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from moeplan.errors import MoeplanError
from moeplan.memory.cache import kv_bytes_per_sequence
from moeplan.memory.estimate import (
    MAX_BATCHED_TOKENS,
    MemoryEstimate,
    estimate_memory,
)
from moeplan.perf.host import host_step_s
from moeplan.perf.parallel import DEFAULT_USABLE_FRACTION, per_gpu_memory
from moeplan.perf.phases import (
    Phase,
    Setup,
    _through_pipeline,
    prefill,
    prompt_attention_peak,
    stage_pass,
)
from moeplan.perf.speculation import NO_SPECULATION, Speculation
from moeplan.perf.terms import attention_core_flops, stage_fraction


@dataclass(frozen=True)
class Workload:
    input_len: int  # ISL, prompt tokens per request
    output_len: int  # OSL, generated tokens per request

    def __post_init__(self) -> None:
        if self.input_len < 1 or self.output_len < 1:
            raise MoeplanError("--input and --output must be at least 1 token")

    @property
    def prompt_tokens_per_output_token(self) -> float:
        return self.input_len / self.output_len

    @property
    def mean_context(self) -> int:
        """KV a decode step reads per sequence, on average over the output: ISL + OSL / 2."""
        return self.input_len + self.output_len // 2


@dataclass(frozen=True)
class Capacity:
    """Requests of ISL + OSL tokens that fit in one replica: per DP group and per replica."""

    per_replica: int
    free_bytes_per_gpu: float  # usable memory left after weights and overhead (negative: short)
    kv_bytes_per_request_per_gpu: float
    weights_bytes_per_gpu: int
    overhead_bytes_per_gpu: int


def replica_capacity(
    setup: Setup,
    workload: Workload,
    usable_fraction: float = DEFAULT_USABLE_FRACTION,
    speculation: Speculation = NO_SPECULATION,
) -> Capacity:
    """max_concurrency of one replica: (usable - weights - overhead) per GPU / KV (and state) of
    one request of ISL + OSL tokens per GPU, per DP group, times the DP groups. The overhead is
    sized for a full token budget of activations (vLLM's profile run does the same). Drafting
    with the model's own MTP layers loads them: their weights and their KV cache."""
    layout = setup.layout
    context = workload.input_len + workload.output_len
    mem = _memory(setup, context, layout.dp, speculation.draft_tokens > 0)
    shard = per_gpu_memory(setup.spec, mem, layout)
    usable = setup.gpu.memory_bytes * usable_fraction
    free = usable - shard.weights_bytes - shard.overhead_bytes
    per_request = shard.kv_cache_bytes  # one request per DP group
    per_group = int(free // per_request) if per_request > 0 and free > 0 else 0
    return Capacity(
        per_group * layout.dp, free, per_request, shard.weights_bytes, shard.overhead_bytes
    )


def _memory(setup: Setup, context: int, batch: int, include_mtp: bool = False) -> MemoryEstimate:
    return estimate_memory(
        setup.spec,
        setup.scheme,
        context,
        batch,
        setup.kv_quant,
        include_mtp,
        max_batched_tokens=MAX_BATCHED_TOKENS,
        state_dtype=setup.state_dtype,
    )


def mixed_step(
    setup: Setup,
    workload: Workload,
    concurrency: float,
    prefill_tokens: float,
    speculation: Speculation = NO_SPECULATION,
    graph_batch: float | None = None,
) -> Phase:
    """One step of a replica: `concurrency` sequences decode (1 + k tokens each) at the mean
    context, plus `prefill_tokens` prompt tokens (chunked prefill) spread over the DP groups.
    With PP the batch is split into pp micro-batches that keep every stage busy, as in
    `phases.decode_step`. The executor's host loop over the rank's requests adds its time
    (`perf.host`). `graph_batch`: a decode-only step replayed as a CUDA graph captured for that
    many sequences (padded, `perf.offline_run.cuda_graph_batch`): the GEMMs, experts, LM head
    and collectives run over all its rows; attention reads the real sequences' KV only (the
    padding rows are one dummy request of a one-token cache)."""
    spec, layout = setup.spec, setup.layout
    micro = max(1.0, concurrency / layout.pp) if concurrency > 0 else 0.0
    per_group = micro / layout.dp
    rows = max(micro, graph_batch / layout.pp) / layout.dp if graph_batch else per_group
    prompt_per_group = prefill_tokens / layout.pp / layout.dp
    verify = 1 + speculation.draft_tokens
    tokens = rows * verify + prompt_per_group
    stage = stage_pass(
        setup, tokens, per_group, verify, workload.mean_context, rows * verify, decode=True
    )
    if prompt_per_group > 0:
        # the prompt chunks attend causally to their own prompt: a whole prompt's attention
        # FLOPs per input_len prompt tokens in the step
        prompts = prompt_per_group / workload.input_len
        flops = prompts * attention_core_flops(spec, workload.input_len, 0)
        peak = prompt_attention_peak(setup, workload.input_len)
        stage.add_roofline(0.0, 1.0, flops / layout.tp * stage_fraction(spec, layout), peak)
    total = _through_pipeline(setup, stage, tokens)
    total.overhead_s += setup.rates.engine.step_overhead_s
    # the executor rank's host loop over its requests (perf.host): decoding and new prompts
    requests = concurrency / layout.dp + prompt_per_group * layout.pp / workload.input_len
    total.overhead_s += host_step_s(setup.rates.engine.id, setup.gpu.id, requests)
    return speculation.with_drafts(total, spec)


@dataclass(frozen=True)
class ServingPoint:
    """One operating point of a deployment: `replicas` copies of `setup.layout` serving
    `concurrency_per_replica` requests each (closed loop)."""

    setup: Setup
    workload: Workload
    replicas: int
    concurrency_per_replica: int
    ttft_s: float  # arrival to first token: the request's own prefill under load
    tpot_s: float  # per output token after the first (a step / tokens gained per step)
    step: Phase
    gpus: int  # all GPUs of the deployment (prefill and decode pools together)
    output_tok_s: float  # whole deployment, output tokens only
    prefill_replicas: int = 0  # > 0: disaggregated, this many replicas do only prefill

    @property
    def concurrency(self) -> int:
        """Requests in flight over all (decode) replicas."""
        return self.concurrency_per_replica * (self.replicas - self.prefill_replicas)

    @property
    def request_s(self) -> float:
        return self.ttft_s + self.workload.output_len * self.tpot_s

    @property
    def output_tok_s_per_user(self) -> float:
        """OSL / (TTFT + OSL x TPOT): the wait for the first token counts."""
        return self.workload.output_len / self.request_s

    @property
    def decode_tok_s_per_user(self) -> float:
        return 1.0 / self.tpot_s

    @property
    def output_tok_s_per_gpu(self) -> float:
        """Output tokens only, over every GPU of the deployment."""
        return self.output_tok_s / self.gpus


def chunk_budget_ok(setup: Setup, tokens: float) -> bool:
    """Steady state needs the prompt tokens of a step per DP group within the engine's token
    budget (max_num_batched_tokens); beyond it prompts queue without end."""
    return tokens / setup.layout.dp / setup.layout.pp <= MAX_BATCHED_TOKENS


def aggregated_point(
    setup: Setup,
    workload: Workload,
    concurrency: int,
    replicas: int,
    speculation: Speculation = NO_SPECULATION,
) -> ServingPoint | None:
    """Continuous batching with chunked prefill in every replica; None when the prompts of
    this concurrency exceed the engine's token budget per step."""
    gained = speculation.tokens_per_step
    prompt_tokens = concurrency * gained * workload.prompt_tokens_per_output_token
    if not chunk_budget_ok(setup, prompt_tokens):
        return None
    chunk = min(workload.input_len, MAX_BATCHED_TOKENS)
    chunks = math.ceil(workload.input_len / MAX_BATCHED_TOKENS)
    # the steps that carry this request's prompt hold a full chunk in each DP group
    chunk_tokens = max(prompt_tokens, chunk * setup.layout.dp * setup.layout.pp)
    # SGLang runs a prompt in a prefill batch of its own, the decode batch waiting
    # (EngineProfile.separate_prefill); vLLM and TensorRT-LLM run it with the decode batch
    separate = setup.rates.engine.separate_prefill
    with_prompt = mixed_step(
        setup, workload, 0 if separate else concurrency, chunk_tokens, speculation
    )
    ttft = chunks * with_prompt.total_s
    # The scheduler takes a waiting prompt whole, up to the token budget, in the next step
    # (vLLM V1 / SGLang chunked prefill): prompts arrive as chunks, not as a trickle over every
    # step. While they average under a chunk a step, a share of the steps carries one chunk and
    # the rest only decode; a MoE step's expert reads grow with its distinct experts, which grow
    # slower than its tokens, so one chunk in a step reads far less than the same tokens spread.
    # Under attention DP the groups' chunks are taken to share steps, as the TTFT above assumes.
    # The request's own prompt is its TTFT steps: its OSL / gained decode steps carry the rest
    # of the concurrency x ISL prompt tokens of its cycle.
    share = max(0.0, prompt_tokens / chunk_tokens - chunks * gained / workload.output_len)
    decode = mixed_step(setup, workload, concurrency, 0.0, speculation)
    step = _blend(with_prompt, share, decode, decode_waits=separate)
    tpot = step.total_s / gained
    per_user = workload.output_len / (ttft + workload.output_len * tpot)
    return ServingPoint(
        setup,
        workload,
        replicas,
        concurrency,
        ttft,
        tpot,
        step,
        setup.layout.gpus * replicas,
        per_user * concurrency * replicas,
    )


def _blend(a: Phase, share: float, b: Phase, *, decode_waits: bool = False) -> Phase:
    """The mean step of a run whose steps are `a` for `share` of them and `b` otherwise; where
    the decode batch waits for a prefill batch of its own (`decode_waits`), a `share` of `a`
    comes on top of every step `b`."""
    x, y = a.scaled(share), b.scaled(1.0 if decode_waits else 1.0 - share)
    return Phase(
        x.memory_s + y.memory_s,
        x.compute_s + y.compute_s,
        x.communication_s + y.communication_s,
        x.overhead_s + y.overhead_s,
        a.notes,
        x.head_memory_s + y.head_memory_s,
        x.head_compute_s + y.head_compute_s,
    )


def kv_transfer_s(setup: Setup, workload: Workload) -> float:
    """Disaggregated serving moves a prompt's KV from the prefill to the decode pool: bytes of
    one sequence at ISL over the scale-out NIC of one GPU (NVLink inside one NVLink domain)."""
    kv = kv_bytes_per_sequence(setup.spec, workload.input_len, setup.kv_quant)
    gpu = setup.gpu
    in_domain = setup.layout.gpus * 2 <= gpu.nvlink_domain_gpus
    bw = gpu.interconnect.per_direction_bytes_per_s if in_domain else gpu.network_bytes_per_s
    return kv / max(bw, 1.0)


def disaggregated_point(
    setup: Setup,
    workload: Workload,
    concurrency: int,
    replicas: int,
    speculation: Speculation = NO_SPECULATION,
) -> ServingPoint | None:
    """Prefill and decode in separate pools of the same replica layout (DistServe, Zhong et al.
    2024): prefill replicas run full token budgets of prompts, decode replicas only decode; the
    split of `replicas` that serves the most requests is taken. None with one replica."""
    if replicas < 2:
        return None
    batch_p = max(1, MAX_BATCHED_TOKENS // workload.input_len)
    t_prefill = prefill(setup, batch_p, workload.input_len).total_s
    rate_prefill = batch_p / t_prefill  # requests/s per prefill replica
    step = mixed_step(setup, workload, concurrency, 0.0, speculation)
    tpot = step.total_s / speculation.tokens_per_step
    rate_decode = concurrency / (workload.output_len * tpot)  # requests/s per decode replica
    rp = max(range(1, replicas), key=lambda p: min(p * rate_prefill, (replicas - p) * rate_decode))
    requests_s = min(rp * rate_prefill, (replicas - rp) * rate_decode)
    ttft = t_prefill + kv_transfer_s(setup, workload)
    return ServingPoint(
        setup,
        workload,
        replicas,
        concurrency,
        ttft,
        tpot,
        step,
        setup.layout.gpus * replicas,
        requests_s * workload.output_len,
        prefill_replicas=rp,
    )
