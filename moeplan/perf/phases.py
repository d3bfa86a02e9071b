"""Roofline estimates of prefill (TTFT) and decode (TPOT, tokens/s) on a GPU and layout.

Each component of a phase (dense weights, routed experts, LM head, attention over the KV cache)
takes bytes / bandwidth + FLOPs / peak (`Phase.add_roofline`: measured GEMMs do not overlap
the two); communication (communication.py) and fixed overheads add to that. All per GPU of the
busiest pipeline stage; a token crosses every stage in turn.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from moeplan.hardware.gpus import GPU
from moeplan.memory.estimate import ACTIVATION_BYTES
from moeplan.memory.quant import QuantScheme
from moeplan.model.specs import ModelSpec
from moeplan.perf.communication import communication_s, link, routed_load
from moeplan.perf.engines import EngineProfile
from moeplan.perf.kernel_counts import SGLANG_FI_MLA_KERNELS, kernels_per_step
from moeplan.perf.llamacpp_fattn import vec_fa_reread_bytes
from moeplan.perf.measured import ExpertRead, Measured, MeasuredRates
from moeplan.perf.moe_activations import (
    activation_format,
    expanded_rows_per_gpu,
    moe_activation_bytes_per_gpu,
)
from moeplan.perf.network import Network
from moeplan.perf.parallel import Layout
from moeplan.perf.rocm_rates import decode_dense_bw
from moeplan.perf.terms import (
    ROUTING_SKEW_DEFAULT,
    WeightSplit,
    attention_core_flops,
    bytes_per_expert_per_gpu,
    dense_weight_bytes_per_gpu,
    expected_experts_touched,
    expert_bytes_per_gpu,
    is_dense_mla,
    kv_read_bytes_per_gpu,
    p2p_seconds,
    stage_fraction,
)
from moeplan.perf.trtllm_fmha import measured_context_fmha
from moeplan.perf.trtllm_moe import fused_moe_rates


@dataclass(frozen=True)
class Rates:
    """Achievable rates on one GPU: engine defaults, or measured ones from a calibration
    (`measured`: expert, KV and attention rates and collective times where the file has them;
    weights stream at stream_bw_bytes_per_s otherwise)."""

    stream_bw_bytes_per_s: float
    flops: Callable[[str], float | None]  # by math datatype; None when no peak is published
    engine: EngineProfile
    source: str
    moe_overhead_measured: bool = False  # the calibrated MoE curve already holds its launches
    measured: MeasuredRates | None = None

    @classmethod
    def from_engine(cls, gpu: GPU, engine: EngineProfile) -> Rates:
        bw = gpu.mem_bw_bytes_per_s * engine.bw_efficiency_for(gpu)

        def flops(dtype: str) -> float | None:
            if gpu.bf16_flops is None:
                return None
            return gpu.peak_flops(dtype) * engine.compute_efficiency_for(gpu, dtype)

        return cls(bw, flops, engine, f"defaults of engine '{engine.id}'")


def _read(got: Measured | None, default: float, notes: list[str]) -> float:
    """A measured rate with its notes added once, else the default."""
    if got is None:
        return default
    notes.extend(n for n in got[1] if n not in notes)
    return got[0]


@dataclass
class Phase:
    """Seconds of one phase split by what bounds them."""

    memory_s: float = 0.0
    compute_s: float = 0.0
    communication_s: float = 0.0
    overhead_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    # the LM head's share of memory_s / compute_s: it runs on the last pipeline stage only
    head_memory_s: float = 0.0
    head_compute_s: float = 0.0
    # of memory_s: llama.cpp's vector FA re-reading a quantized cache (perf/llamacpp_fattn.py)
    fa_reread_s: float = 0.0

    def add_roofline(self, bytes_: float, bw: float, flops: float, peak: float | None) -> None:
        """A kernel's time: bytes / achievable bandwidth + FLOPs / achievable peak. Measured
        GEMMs do not overlap the two: DeepGEMM's last published FP8 table (README at 55ab91f,
        2025-03-25, H800, 28 shapes from 64 x 2112 x 7168 to grouped 8 x 4096 x 4096 x 7168)
        runs a median 0.89x of this sum (0.73-1.39x) at 0.88 of HBM bandwidth and 0.7 of peak,
        and 1.25x (0.97-1.96x) of the larger of the two, slowest near the ridge point; its
        grouped rows at 256-8192 tokens a group run 0.78-1.22x of the sum with weight bytes
        (tests/test_kernel_tables.py). Where one term dominates (small decode batches, long
        prefills) the sum is that term."""
        self.memory_s += bytes_ / bw if bytes_ else 0.0
        self.compute_s += flops / peak if peak else 0.0

    def add_measured(self, bytes_: float, bw: float, flops: float, peak: float | None) -> None:
        """A kernel whose measured efficiency curve already holds its compute (a calibration's
        MoE curve: weight bytes / measured layer time): max(bytes / bw, FLOPs / peak), the
        compute term only past the curve, where its held efficiency stops growing with tokens.
        Also a kernel that overlaps its reads with its math (FlashMLA's decode kernel,
        engines.FLASHMLA_DECODE_GPUS): the larger term, the roofline."""
        t_mem = bytes_ / bw if bytes_ else 0.0
        t_flop = flops / peak if peak else 0.0
        if t_flop > t_mem:
            self.compute_s += t_flop
        else:
            self.memory_s += t_mem

    @property
    def total_s(self) -> float:
        return self.memory_s + self.compute_s + self.communication_s + self.overhead_s

    @property
    def split(self) -> dict[str, float]:
        return {
            "memory": self.memory_s,
            "compute": self.compute_s,
            "communication": self.communication_s,
            "overhead": self.overhead_s,
        }

    @property
    def bound(self) -> str:
        return max(self.split.items(), key=lambda kv: kv[1])[0]

    def scaled(self, factor: float) -> Phase:
        return Phase(
            self.memory_s * factor,
            self.compute_s * factor,
            self.communication_s * factor,
            self.overhead_s * factor,
            self.notes,
            self.head_memory_s * factor,
            self.head_compute_s * factor,
            self.fa_reread_s * factor,
        )


@dataclass(frozen=True)
class Setup:
    """Everything fixed across batch sizes for one model on one deployment."""

    spec: ModelSpec
    scheme: QuantScheme
    gpu: GPU
    layout: Layout
    split: WeightSplit
    rates: Rates
    network: Network
    kv_quant: str = "bf16"
    state_dtype: str = "fp32"  # linear-attention / Mamba state (memory.cache)
    routing_skew: float = ROUTING_SKEW_DEFAULT  # expert popularity spread (terms.py)
    gpu_moe_fraction: float = 1.0  # share of the routed-MoE layers run on the GPU (offload.py)


def _expert_bw(setup: Setup, stage_tokens: float, notes: list[str]) -> tuple[float, bool]:
    """Bandwidth for routed-expert reads, and whether it is measured: the calibration's MoE
    curve for the experts' weight format, the bytes of one expert read per GPU and the tokens
    per touched expert (uniform routing), else the stream bandwidth."""
    rates, spec, layout = setup.rates, setup.spec, setup.layout
    if rates.measured is None or spec.moe is None:
        return rates.stream_bw_bytes_per_s, False
    moe = spec.moe
    per_expert = bytes_per_expert_per_gpu(setup.split, spec, layout)
    touched = expected_experts_touched(moe.num_experts, moe.top_k, stage_tokens)
    read = ExpertRead(
        setup.scheme.formats["routed_experts"],
        per_expert,
        stage_tokens * moe.top_k / touched if touched else 1.0,
        stage_tokens,
    )
    got = rates.measured.expert_bw(read)
    return _read(got, rates.stream_bw_bytes_per_s, notes), got is not None


def prompt_attention_peak(setup: Setup, prompt_tokens: float) -> float | None:
    """Achievable FLOP rate of the attention core over prompts of `prompt_tokens` tokens: the
    engine's measured context attention on this GPU by prompt length where it has one
    (EngineProfile.context_fmha_by_gpu, trtllm_fmha.py), else the BF16 rate."""
    gpu, engine = setup.gpu, setup.rates.engine
    fraction = measured_context_fmha(
        engine.context_fmha_by_gpu, gpu.id, setup.kv_quant, prompt_tokens
    )
    if fraction is None or gpu.bf16_flops is None:
        return setup.rates.flops("bf16")
    return gpu.peak_flops("bf16") * fraction


def _kernel_overhead(setup: Setup) -> float:
    frac = stage_fraction(setup.spec, setup.layout)
    engine = setup.rates.engine
    kernels = kernels_per_step(setup.spec, setup.rates.moe_overhead_measured, engine.kernels)
    return kernels * frac * engine.kernel_overhead_for(setup.gpu.vendor)


def stage_pass(
    setup: Setup,
    tokens_per_group: float,
    sequences_per_group: float,
    new_tokens_per_seq: int,
    context_start: int,
    logits_per_group: float,
    stage_tokens: float | None = None,
    *,
    decode: bool = False,
) -> Phase:
    """One forward pass of one pipeline stage on the busiest GPU: `tokens_per_group` and
    `sequences_per_group` are the busiest attention-DP group's, `stage_tokens` all tokens the
    stage's experts see (default tokens_per_group x dp). The phase carries the LM head; its share
    is kept apart (head_memory_s / head_compute_s) so a pipeline counts it once. `decode`: the
    `new_tokens_per_seq` of each sequence are a decode token (and its draft tokens to verify)
    over a cached context, run by the decode attention kernel; otherwise a prefill."""
    spec, layout, split, rates = setup.spec, setup.layout, setup.split, setup.rates
    frac = stage_fraction(spec, layout)
    if stage_tokens is None:
        stage_tokens = tokens_per_group * layout.dp
    phase = Phase()
    dense_peak = rates.flops(setup.scheme.dense_compute)
    expert_peak = rates.flops(setup.scheme.expert_compute)
    attn_peak = rates.flops("bf16") if decode else prompt_attention_peak(setup, new_tokens_per_seq)
    if dense_peak is None:
        phase.notes.append(f"no published TFLOPS for {setup.gpu.id}: compute time not modelled")
    if rates.engine.kernels is SGLANG_FI_MLA_KERNELS and not is_dense_mla(spec):
        phase.notes.append(
            f"engine '{rates.engine.id}' counts the kernels of SGLang's DeepSeek MLA path "
            "(trtllm_mla attention); this model has other attention, so its launch count is rough"
        )
    if rates.engine.kernels is SGLANG_FI_MLA_KERNELS and not setup.gpu.fp4_flops:
        phase.notes.append(
            f"engine '{rates.engine.id}' prices SGLang's FlashInfer TRT-LLM path, a Blackwell "
            f"(FP4 tensor core) path; {setup.gpu.id} has none, so SGLang would run another one"
        )
    # dense weights: attention projections, dense FFN, shared experts, router; at decode, the
    # engine's measured rate for their format on this GPU where it has one (rocm_rates.py)
    dense_bw = decode_dense_bw(
        rates.engine.decode_dense_bw_by_gpu, setup.gpu.id, setup.scheme.formats["attention"]
    )
    phase.add_roofline(
        dense_weight_bytes_per_gpu(split, spec, layout),
        dense_bw if decode and dense_bw else rates.stream_bw_bytes_per_s,
        2 * split.dense_params * tokens_per_group / layout.tp * frac,
        dense_peak,
    )
    # routed experts: distinct experts touched by all tokens of the stage; the busiest EP rank
    # multiplies its share of the picks (rank_load_factor). An engine without a fused-MoE
    # kernel for the experts' datatype runs every expert over every token (runs_moe_ootb):
    # num_experts "picks" per token, every expert read, no routing imbalance
    if spec.is_moe and spec.moe is not None:
        ootb = rates.engine.runs_moe_ootb(setup.scheme.expert_compute)
        picks = spec.moe.num_experts if ootb else spec.moe.top_k
        load = routed_load(setup, stage_tokens)
        expert_flops = (
            load
            * 2
            * split.expert_params
            * picks
            * stage_tokens
            * spec.num_moe_layers
            * frac
            / layout.gpus_per_stage
        )
        bw, measured = _expert_bw(setup, stage_tokens, phase.notes)
        add = phase.add_measured if measured else phase.add_roofline
        expert_bytes = expert_bytes_per_gpu(split, spec, layout, stage_tokens, every_expert=ootb)
        # the expanded rows' activation traffic (moe_activations.py); a measured MoE curve's
        # layer times already hold it, and an engine running every expert over every token
        # runs them as dense GEMMs, priced like the dense part (no activation bytes)
        if not measured and not ootb:
            expert_bytes += setup.gpu_moe_fraction * moe_activation_bytes_per_gpu(
                spec,
                layout,
                activation_format(setup.scheme.expert_compute, setup.gpu),
                stage_tokens,
                picks,
                load,
            )
        # TensorRT-LLM's NVFP4 fused MoE on SM100: its math at a measured fraction of the FP4
        # peak plus a cost an expanded row (trtllm_moe.py), in place of the GEMM rate
        fused = fused_moe_rates(
            rates.engine.fused_moe_by_gpu, setup.gpu.id, setup.scheme.formats["routed_experts"]
        )
        if fused is not None and not measured and not ootb:
            expert_peak = setup.gpu.peak_flops(setup.scheme.expert_compute) * fused[0]
            rows = expanded_rows_per_gpu(spec, layout, stage_tokens, picks, load)
            phase.compute_s += setup.gpu_moe_fraction * rows * fused[1]
        add(expert_bytes, bw, expert_flops, expert_peak)
        if ootb:
            phase.notes.append(
                f"engine '{rates.engine.id}' has no fused-MoE kernel for "
                f"{setup.scheme.expert_compute} experts: every expert runs over every token"
            )
    # LM head, on the last stage, for the positions whose logits are needed
    memory_before, compute_before = phase.memory_s, phase.compute_s
    phase.add_roofline(
        split.head_bytes / layout.tp,
        rates.stream_bw_bytes_per_s,
        2 * split.head_params * logits_per_group / layout.tp,
        dense_peak,
    )
    phase.head_memory_s = phase.memory_s - memory_before
    phase.head_compute_s = phase.compute_s - compute_before
    # attention over the KV cache
    kv_bytes = kv_read_bytes_per_gpu(
        spec,
        layout,
        sequences_per_group,
        context_start + new_tokens_per_seq,
        setup.kv_quant,
        setup.state_dtype,
    )
    attn_flops = sequences_per_group * attention_core_flops(
        spec, new_tokens_per_seq, context_start, decode=decode
    )
    kv_bw = rates.stream_bw_bytes_per_s
    reread = 0.0  # llama.cpp CUDA: a quantized cache read again by each query head of a group
    if decode and rates.engine.vec_fa_quantized_kv and layout.tp == 1:
        context_end = context_start + new_tokens_per_seq
        reread = frac * vec_fa_reread_bytes(
            spec, context_end, setup.kv_quant, setup.gpu, sequences_per_group, new_tokens_per_seq
        )
    if rates.measured is not None:
        phase.notes.extend(n for n in rates.measured.notes if n not in phase.notes)
        layers = spec.num_layers * frac
        if kv_bytes and layers:  # the measured decode kernel, by KV bytes per layer call
            kv_bw = _read(rates.measured.kv_bw(kv_bytes / layers), kv_bw, phase.notes)
        if not decode and attn_peak is not None:  # prefill, by prompt tokens
            got = rates.measured.attention_flops(new_tokens_per_seq)
            attn_peak = _read(got, attn_peak, phase.notes)
    overlap = decode and is_dense_mla(spec) and rates.engine.overlaps_mla_decode(setup.gpu.id)
    add = phase.add_measured if overlap else phase.add_roofline
    add(kv_bytes + reread, kv_bw, attn_flops / layout.tp * frac, attn_peak)
    phase.fa_reread_s += reread / kv_bw
    phase.communication_s += communication_s(setup, tokens_per_group, stage_tokens)
    phase.overhead_s += _kernel_overhead(setup)
    return phase


def _through_pipeline(setup: Setup, stage: Phase, tokens_per_group: float) -> Phase:
    """A token crosses every stage in turn: pp stage passes plus pp - 1 hops. The LM head runs
    on the last stage only, so pp - 1 of the pp copies of its time come off: at batch 1 a
    pipeline costs one GPU's pass over all layers plus the hops (issue 17)."""
    pp = setup.layout.pp
    total = stage.scaled(pp)
    total.memory_s -= (pp - 1) * stage.head_memory_s
    total.compute_s -= (pp - 1) * stage.head_compute_s
    total.head_memory_s, total.head_compute_s = stage.head_memory_s, stage.head_compute_s
    if pp > 1:
        bw, lat = link(setup, setup.layout.gpus)  # stages sit on different GPUs/nodes
        msg = tokens_per_group * setup.spec.hidden_size * ACTIVATION_BYTES
        total.communication_s += (pp - 1) * p2p_seconds(msg, bw, lat)
    return total


def decode_step(setup: Setup, batch: int, context: int, verify: int = 1) -> Phase:
    """One decode step of `batch` sequences at `context` tokens each, `verify` tokens a sequence
    (1 + k draft tokens to check, perf/speculation.py). With pipeline stages the batch is split
    into pp micro-batches that keep every stage busy. With attention data-parallel the busiest
    group holds ceil(micro / dp) whole sequences (parallel.py); the experts see all its tokens."""
    layout = setup.layout
    micro = max(1, math.ceil(batch / layout.pp))
    per_group = math.ceil(micro / layout.dp)
    rows, stage_rows = per_group * verify, micro * verify
    stage = stage_pass(
        setup, rows, per_group, verify, context, rows, stage_tokens=stage_rows, decode=True
    )
    total = _through_pipeline(setup, stage, rows)
    total.overhead_s += setup.rates.engine.step_overhead_s
    return total


def prefill(setup: Setup, batch: int, input_len: int) -> Phase:
    """Prefill of `batch` prompts of `input_len` tokens in one forward pass; the busiest
    attention-DP group holds ceil(batch / dp) whole prompts."""
    layout = setup.layout
    per_group_seqs = math.ceil(batch / layout.dp)
    stage = stage_pass(
        setup,
        per_group_seqs * input_len,
        per_group_seqs,
        input_len,
        0,
        per_group_seqs,
        stage_tokens=batch * input_len,
    )
    total = _through_pipeline(setup, stage, per_group_seqs * input_len)
    total.overhead_s += setup.rates.engine.step_overhead_s
    return total
