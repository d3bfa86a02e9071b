"""Prompt (prefill) time of an expert-offload run: what each engine does with the routed experts
that sit in host RAM when a prompt pass goes through them, from its source code.

llama.cpp (op offload, on by default; ``--no-op-offload`` turns it off): the scheduler runs an op
whose weights sit in host memory on the GPU when the GPU backend asks for it, and the CUDA backend
asks for every op whose batch is at least GGML_OP_OFFLOAD_MIN_BATCH tokens (32; for MUL_MAT_ID
the batch is the tokens of the ubatch). The weights are then copied to the GPU for every ubatch,
and for MUL_MAT_ID only the experts the ubatch routes to (LLAMACPP_OP_OFFLOAD_SOURCE). The copy
is queued on the GPU's compute stream after a host-side wait for the router ids, so it does not
overlap the GPU's compute: the pass costs the copy plus the compute. Below 32 tokens (and with op
offload off) the CPU computes the host experts. The engine does not choose the faster path: it
does what the threshold says, and the other path is kept as the alternative figure.

ktransformers (V0.2/V0.3, local_chat and balance_serve): the routed experts stay on the CPU for
prompts too; its layer-wise GPU prefill is off in every shipped rule file (KTRANSFORMERS_PREFILL
_SOURCE). kt-kernel + SGLang: hybrid (GPU-resident experts on the GPU, the rest on the CPU, the two
overlapped) unless --kt-gpu-prefill-token-threshold is set and a chunk reaches it; then each
MoE layer's whole expert set is written into pinned double buffers, copied to the GPU and run
there, layer after layer (KT_SGLANG_LAYERWISE_SOURCE). The server's default threshold is unset
(off).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from moeplan.model.specs import ModelSpec
from moeplan.perf.phases import Setup, prefill
from moeplan.perf.terms import expected_experts_touched

LLAMACPP_OP_OFFLOAD_SOURCE = (
    "ggml-org/ggml@d99724f2b141fed9e1a9f402213506c081433465 src/ggml-backend.cpp (the same code "
    "as ggml-org/llama.cpp@0054c01370c2105fa7ba68c16c5e8ff5f55e430d ggml/src/ggml-backend.cpp): "
    "ggml_backend_sched_backend_id_from_cur, lines 958-966, 'check if a backend with higher prio "
    "wants to offload the op' (sched->op_offload, weights in a host buffer of the CPU backend, "
    "ggml_backend_offload_op); ggml_backend_sched_compute_splits, lines 1641-1710, 'when "
    "offloading MoE weights, we can reduce the amount of data copied by copying only the experts "
    "that are used' (MUL_MAT_ID: the ids are read back, ggml_backend_synchronize(ids_backend), "
    "and each run of consecutive used experts is one ggml_backend_tensor_set_async on the split "
    "backend); src/ggml-cuda/ggml-cuda.cu get_op_batch_size (MUL_MAT_ID: ne[2], the tokens) and "
    "ggml_backend_cuda_device_offload_op, lines 5321-5340: batch >= op_offload_min_batch_size, "
    "GGML_OP_OFFLOAD_MIN_BATCH default 32 (line 5510); ggml_backend_cuda_set_tensor_async, line "
    "2431: cudaMemcpyAsync on cuda_ctx->stream(), the stream the split's kernels run on, so copy "
    "and compute are serial. With one GPU the scheduler keeps one copy of its inputs "
    "(n_copies = 1 unless pipeline-parallel) and synchronizes the GPU before each weight copy. "
    "Pinned or not: llama-model.cpp make_cpu_buft_list puts the GPU's host (pinned, "
    "cudaMallocHost) buffer type first for CPU weights, but llama-model-loader.cpp 'avoid using "
    "a host buffer when using mmap' swaps it for the plain CPU buffer under mmap (the default), "
    "so a default run copies from pageable memory, staged by one CPU thread through the driver's "
    "bounce buffer (offload_link.py pageable_copy_bytes_per_s), and --no-mmap (the pinned host "
    "buffer) at the link's pinned rate. Published llama.cpp pinned/pageable prompt pairs: "
    "ggml-org/llama.cpp PR 28223 (closed, 2026-09-02: a 26k-token prompt at 166 -> 330 tok/s "
    "with the host experts pinned, 2 x RTX 3090, 40 expert layers in RAM, a cold page cache "
    "included), issue 25859 (2026-07-18: +21% from page-locking the mapped experts alone, RTX "
    "3060, Ryzen 5600X, pp2048/ub2048, where GPU compute takes much of the pass) and "
    "JordanFableFur/llama.cpp BENCHMARKS.md (GGML_CUDA_REGISTER_HOST=1, RTX 5090, Core Ultra 9 "
    "285K: 228.9 -> 494.0 tok/s at ub 512)"
)

KTRANSFORMERS_PREFILL_SOURCE = (
    "kvcache-ai/ktransformers@95009ea6856c0799e517e93cb12be5e8494bc7ce archive/ktransformers: "
    "operators/experts.py KTransformersExperts (lines 686-757) holds a prefill_op "
    "(KExpertsTorch on cuda) and a generate_op (KExpertsCPU) but runs the prefill one only in "
    "InferenceState.PREFILL, which nothing outside operators/models.py sets; load() defaults to "
    "GENERATE (util/utils.py load_weights, line 342: module.load()), so prompts run on "
    "KExpertsCPU (llamafile or AMX backend, lines 167-255); operators/models.py "
    "KDeepseekV2Model/KQwen2MoeModel per_layer_prefill_intput_threshold (lines 200-243, "
    "562-600) would load each layer to the GPU for longer prompts, but every rule file sets it to "
    "0 ('0 is close layer wise prefill', optimize_rules/DeepSeek-V3-Chat.yaml line 69)"
)

KT_SGLANG_LAYERWISE_SOURCE = (
    "kvcache-ai/sglang@aafedd704debb7ae55c22a193d311cb3c877d930 python/sglang/srt/layers/moe/"
    "kt_ep_wrapper.py: KTEPWrapperMethod.apply runs the full-GPU fallback when "
    "gpu_prefill_token_threshold > 0 and the forward's tokens >= it (the threshold is "
    "kt_config.gpu_prefill_token_threshold or 0; server_args kt_gpu_prefill_token_threshold "
    "defaults to None); SharedFullContext.load writes every expert of the layer from the kt-kernel "
    "CPU weights into pinned double buffers (cudaHostRegister) and copies them "
    "('write(e+1) || copy(e)') before the layer's GPU MoE runs, then torch.cuda.synchronize(): "
    "all E experts, layer after layer, not overlapped with the layer's compute. Below the "
    "threshold: submit to the CPU, GPU-resident experts on the GPU, sync (overlapped). "
    "kvcache-ai/ktransformers kt-kernel/README.md: '> threshold: Uses layerwise GPU prefill'"
)


@dataclass(frozen=True)
class PrefillTime:
    seconds: float
    path: str  # "cpu", "stream" or "mixed" (a short last pass on the CPU)
    alternative_s: float | None  # every pass the other way


def passes(tokens: int, ubatch: int) -> list[tuple[int, int]]:
    """The forward passes of a prompt as (tokens a pass, passes of that size): the full ubatches,
    then the rest; at most two sizes, so pricing a prompt does not walk it pass by pass."""
    full, rest = divmod(tokens, ubatch)
    return [(size, count) for size, count in ((ubatch, full), (rest, 1)) if size and count]


def streamed_experts(spec: ModelSpec, tokens: int, used_only: bool) -> float:
    """Experts of one host MoE layer copied to the GPU for a pass of `tokens` tokens: llama.cpp
    copies the ones the pass routes to (expected_experts_touched), kt-kernel's layer-wise
    prefill all of them."""
    if spec.moe is None:
        return 0.0
    if used_only:
        return expected_experts_touched(spec.moe.num_experts, spec.moe.top_k, tokens)
    return float(spec.moe.num_experts)


def prefill_time(
    spec: ModelSpec,
    gpu_part: Setup,
    full: Setup,
    host_layers: int,
    batch: int,
    input_len: int,
    ubatch_tokens: int,
    stream_min_batch: int | None,
    streams_used_experts: bool,
    link_bytes_per_s: float,
    cpu_pass_s: Callable[[int], float],
    disk_s_per_byte: float = 0.0,
) -> PrefillTime:
    """Prompt time: the GPU-resident part on the GPU for the whole prompt, plus, pass by pass
    (ubatch_tokens each, the last one shorter), the host experts either streamed (a pass of at
    least stream_min_batch tokens; None: never) - the experts copied over the link, then the GPU
    computing them, serial - or computed by the CPU (cpu_pass_s(tokens)). The GPU's share of
    the host experts' compute is the whole model's prompt time on the GPU less the resident
    part's, split over the passes by tokens. `disk_s_per_byte`: when RAM is short, each pass
    pages in its share of the host experts it reads from disk (the decode's mmap estimate,
    perf/offload.py), on either path."""
    tokens = batch * input_len
    base = prefill(gpu_part, batch, input_len).total_s
    if not host_layers or spec.moe is None:
        return PrefillTime(base, "cpu", None)
    gpu_host_share = max(0.0, prefill(full, batch, input_len).total_s - base)
    cpu_total = stream_total = chosen = 0.0
    streamed = on_cpu = 0
    for t, count in passes(tokens, max(1, min(ubatch_tokens, tokens))):
        read = host_layers * streamed_experts(spec, t, True) * full.split.expert_bytes
        cpu = count * (cpu_pass_s(t) + read * disk_s_per_byte)
        copied_bytes = (
            read
            if streams_used_experts
            else host_layers * streamed_experts(spec, t, False) * full.split.expert_bytes
        )
        stream = count * (
            copied_bytes * (1.0 / link_bytes_per_s + disk_s_per_byte) + gpu_host_share * t / tokens
        )
        cpu_total += cpu
        stream_total += stream
        if stream_min_batch is not None and t >= stream_min_batch:
            chosen += stream
            streamed += count
        else:
            chosen += cpu
            on_cpu += count
    path = "stream" if not on_cpu else "cpu" if not streamed else "mixed"
    other = {"stream": cpu_total, "cpu": stream_total}.get(path)
    return PrefillTime(base + chosen, path, None if other is None else base + other)
