"""An offline benchmark run: R requests of ISL/OSL all queued at once (trtllm-bench throughput,
the "infinite rate" runs of TensorRT-LLM's perf-overview), served step by step until the last
one ends. Its "Total Output Throughput" is R x OSL over the whole run, so the ramp (the batch
fills a few prompts per step) and the tail (the last requests drain) count, and the engine's caps
bound every step: `max_batch_size` requests, `max_num_tokens` tokens, the KV room (the capacity
scheduler reserves ISL + OSL per request, GUARANTEED_NO_EVICT), and whole prompts when chunked
prefill is off (trtllm-bench's default). Each step is priced by `serving.mixed_step`; a decode-only
step at the CUDA-graph batch it is padded to (`cuda_graph_batch`, the perf-overview config); a step
with prompts runs eagerly, so it takes at least its op-by-op launch time (`perf.host.eager_step_s`,
`eager_ops`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from moeplan.errors import MoeplanError
from moeplan.model.params import count_params
from moeplan.perf.host import eager_step_s
from moeplan.perf.kernel_counts import kernels_per_step
from moeplan.perf.phases import Setup
from moeplan.perf.serving import Workload, mixed_step
from moeplan.perf.terms import stage_fraction

GIB = 1024**3

TRTLLM_BENCH_KV_FRACTION = 0.90
"""trtllm-bench throughput --kv_cache_free_gpu_mem_fraction default (bench/benchmark/
throughput.py: `default=.90`), passed to its engine-setting heuristic."""

TRTLLM_BENCH_MAX_REQUESTS = 4096
TRTLLM_BENCH_MAX_TOKENS = 32768
"""Caps of trtllm-bench's heuristic (bench/build/tuning.py finetune_setting): batch size at 4096
(decoder buffers), tokens per step at 32768 (activation buffers)."""

TRTLLM_BENCH_BYTES_PER_ELEM = {"fp8": 1.0, "fp8-block": 1.0, "nvfp4": 0.5}
"""bench/build/tuning.py BYTES_PER_ELEM: FP8 and FP8 block scales 1, NVFP4 0.5, others 2."""

PERF_OVERVIEW_CUDA_GRAPH_BATCH_SIZES = (
    1,
    2,
    4,
    8,
    16,
    32,
    64,
    128,
    256,
    384,
    512,
    1024,
    2048,
    4096,
    8192,
)
"""CUDA-graph batch sizes of the perf-overview runs, padding on: the `llm_options.yml` the
document gives for dense and MoE models alike (`cuda_graph_config: enable_padding: true,
batch_sizes: [1, 2, 4, 8, 16, 32, 64, 128, 256, 384, 512, 1024, 2048, 4096, 8192]`;
NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md at 00f37686, "Running the
Benchmark"; sizes above a run's largest decode batch are cut, `cuda_graph_batch`).
A decode-only step is padded up to the next captured size (NVIDIA/TensorRT-LLM@7b437aa
tensorrt_llm/_torch/pyexecutor/cuda_graph_runner.py, _get_padded_batch / _round_up_batch_size):
the graph runs its GEMMs, MoE and LM head over every row, so the padding is real work
(tech blog 20, "Tuning CUDA Graph Batch Sizes", NVIDIA/TensorRT-LLM@baf363e: the doubling
sizes above 128 cost "up to 50% padding waste"; filling the gaps gave up to 1.3x output
throughput at high concurrency on 4xGB200)."""

STEP_BUCKETS = 512
"""Decode batches are priced in steps of 1/512 of the KV room (a step's time varies smoothly
with the batch; this keeps a run of thousands of steps to a few hundred distinct prices)."""


@dataclass(frozen=True)
class EngineCaps:
    """What one executor rank schedules per step (with attention DP: each rank)."""

    max_batch_size: int
    max_num_tokens: int  # whole prompts: trtllm-bench leaves chunked prefill off


def _round_up(x: float, step: int) -> int:
    return step * math.ceil(x / step)


def trtllm_bench_caps(setup: Setup, workload: Workload, world_gpus: int) -> EngineCaps:
    """max_batch_size and max_num_tokens that trtllm-bench picks when neither is given
    (bench/benchmark/utils/general.py get_settings -> bench/build/tuning.py calc_engine_setting
    and finetune_setting): KV requests of ISL + OSL that fit in 0.9 of (all GPUs' memory - the
    parameters at the checkpoint's bytes per element), KV per token 2 x layers x max(tp, kv
    heads) x head size x KV bytes; batch rounded up (to 32 under 256, 128 under 1024, else 256;
    at least 64), tokens = batch x (1 + ISL/OSL) rounded up (256 under 4096, 512 under 8192,
    else 1024; at least 2048); chunked prefill off, so tokens >= ISL + batch."""
    spec, pp = setup.spec, setup.layout.pp
    if spec.attention is None:
        raise MoeplanError(f"{spec.name}: no attention shape for trtllm-bench's heuristic")
    kv_elem = 1.0 if setup.kv_quant in ("fp8", "fp8-block") else 2.0
    kv_heads = max(world_gpus // pp, spec.attention.num_kv_heads)
    per_token = 2 * spec.num_layers * kv_heads * spec.attention.head_dim * kv_elem
    weights = count_params(spec).total * TRTLLM_BENCH_BYTES_PER_ELEM.get(setup.scheme.id, 2.0)
    free = setup.gpu.memory_bytes * world_gpus - weights
    requests = (
        max(free, 0.0)
        * TRTLLM_BENCH_KV_FRACTION
        / (per_token * (workload.input_len + workload.output_len))
    )
    raw_bs = min(requests, TRTLLM_BENCH_MAX_REQUESTS) / pp
    raw_tokens = min(
        raw_bs * (1 + workload.prompt_tokens_per_output_token), TRTLLM_BENCH_MAX_TOKENS
    )
    if raw_bs < 256:
        bs = max(64, _round_up(raw_bs, 32))
    elif raw_bs < 1024:
        bs = _round_up(raw_bs, 128)
    else:
        bs = _round_up(raw_bs, 256)
    if raw_tokens < 4096:
        tokens = max(2048, _round_up(raw_tokens, 256))
    elif raw_tokens < 8192:
        tokens = _round_up(raw_tokens, 512)
    else:
        tokens = _round_up(raw_tokens, 1024)
    return EngineCaps(bs, max(tokens, workload.input_len + bs))


def cuda_graph_batch(decoding: int, caps: EngineCaps) -> int:
    """The captured CUDA-graph batch a decode-only step of `decoding` requests a rank replays:
    the smallest captured size >= the batch. Sizes above the largest pure-decode batch,
    min(max_batch_size, max_num_tokens), are dropped and that batch is captured instead
    (NVIDIA/TensorRT-LLM@1a0dc5f tensorrt_llm/_torch/pyexecutor/model_engine.py,
    _filter_cuda_graph_batch_sizes, padding on). Under attention DP every rank pads to the
    largest rank's batch (_get_padded_batch's tp_allgather); the ranks here are alike. 0 when
    nothing is decoding."""
    if decoding < 1:
        return 0
    cap = min(caps.max_batch_size, caps.max_num_tokens)
    sizes = [b for b in PERF_OVERVIEW_CUDA_GRAPH_BATCH_SIZES if b <= cap] + [cap]
    return next((b for b in sizes if b >= decoding), decoding)


def eager_ops(setup: Setup) -> float:
    """PyTorch ops one rank launches in an eager step: the kernels of its pipeline stage
    (`kernel_counts.kernels_per_step`, the engine's per-layer counts), once per micro-batch (pp
    of them, as `serving.mixed_step` prices). A lower bound: views, metadata and collective ops
    of an eager forward also cost CPU time and are not counted."""
    engine = setup.rates.engine
    kernels = kernels_per_step(setup.spec, setup.rates.moe_overhead_measured, engine.kernels)
    return kernels * stage_fraction(setup.spec, setup.layout) * setup.layout.pp


@dataclass(frozen=True)
class OfflineRun:
    requests: int  # over the replica
    seconds: float
    steps: int
    mean_running: float  # requests in flight per step, over the replica

    def output_tok_s(self, workload: Workload) -> float:
        return self.requests * workload.output_len / self.seconds


def offline_run(
    setup: Setup, workload: Workload, requests: int, caps: EngineCaps, kv_room_per_rank: int
) -> OfflineRun:
    """Step through a run of `requests` queued at once over the attention-DP ranks of one
    replica (spread evenly, each rank alike). A step admits whole prompts while the batch, the
    token budget and the KV room allow; an admitted request emits its first token in its prefill
    step and OSL - 1 more in the steps after."""
    dp = setup.layout.dp
    per_rank = math.ceil(requests / dp)
    room = min(caps.max_batch_size, kv_room_per_rank)
    if room < 1 or caps.max_num_tokens < workload.input_len:
        raise MoeplanError("one request does not fit the engine's caps")
    bucket = max(1, room // STEP_BUCKETS)
    prices: dict[tuple[int, int], float] = {}
    engine_id, ops = setup.rates.engine.id, eager_ops(setup)

    def price(decoding: int, new: int) -> float:
        key = (_round_up(decoding, bucket) if decoding else 0, new)
        if key not in prices:
            prompt = new * workload.input_len * dp
            # a decode-only step replays a padded CUDA graph; a step with prompts runs eagerly
            graph = cuda_graph_batch(key[0], caps) * dp if not new else None
            step = mixed_step(setup, workload, key[0] * dp, prompt, graph_batch=graph).total_s
            prices[key] = eager_step_s(engine_id, setup.gpu.id, step, ops) if new else step
        return prices[key]

    ends: dict[int, int] = {}  # step -> requests that emit their last token in it
    queued, running, decoding, seconds, step, in_flight = per_rank, 0, 0, 0.0, 0, 0
    while queued or running:
        tokens_left = caps.max_num_tokens - decoding
        new = min(queued, room - running, max(tokens_left, 0) // workload.input_len)
        seconds += price(decoding, new)
        in_flight += running + new
        running, queued = running + new, queued - new
        if new:
            last = step + workload.output_len - 1
            ends[last] = ends.get(last, 0) + new
        done = ends.pop(step, 0)
        decoding += new - done
        running -= done
        step += 1
    return OfflineRun(per_rank * dp, seconds, step, in_flight / step * dp)
