"""The chosen deployment as the command that starts it, for each engine where the layout applies.

Flags as each engine documents them (read 2026-11-24):
- vLLM `vllm serve`: --tensor-parallel-size, --pipeline-parallel-size, --data-parallel-size,
  --enable-expert-parallel, --max-num-seqs, --max-model-len, --kv-cache-dtype,
  --gpu-memory-utilization (docs.vllm.ai, engine arguments).
- SGLang `python -m sglang.launch_server`: --model-path, --tp, --dp, --ep, --enable-dp-attention
  (DP attention inside the --tp GPUs), --pp-size, --max-running-requests, --context-length,
  --kv-cache-dtype fp8_e4m3, --mem-fraction-static (docs.sglang.io, server arguments). The
  `sglang-fi` profile adds the flags that define it (SGLANG_FI_FLAGS, as the InferenceX
  dsr1_fp4_b200.sh / dsr1_fp4_b300.sh scripts its records ran pass them, spelled as SGLang's own
  server tests pass them; read 2026-12-04).
- TensorRT-LLM `trtllm-serve MODEL`: --tp_size, --pp_size, --ep_size, --max_batch_size,
  --max_num_tokens, --max_seq_len, --kv_cache_free_gpu_memory_fraction; attention DP through
  `enable_attention_dp: true` in the --extra_llm_api_options YAML (nvidia.github.io/TensorRT-LLM,
  trtllm-serve; TensorRT-LLM's MoE perf template).
- llama.cpp `llama-server`: -m, -c (context of all slots), -np (parallel slots), -ngl,
  --split-mode layer|row, -ctk/-ctv q8_0 (tools/server/README.md). No expert or data
  parallelism: given only for TP-free or PP-only layouts on one node.

Weights planned in a scheme other than the checkpoint's (LaunchInputs.quant, quant_native):
- vLLM and SGLang quantize a BF16/FP16 checkpoint to FP8 on load with `--quantization fp8` (per-
  tensor weight scales, the `fp8` scheme; docs.vllm.ai/en/stable/features/quantization/fp8/
  "Online Dynamic Quantization"; docs.sglang.io advanced_features/quantization "online
  quantization"). Other schemes (int8/int4/AWQ/GPTQ/NVFP4/MXFP4/GGUF, FP8 block scales) need a
  checkpoint already in that format: launch_notes says so and the command is left without a flag.
- trtllm-serve has no on-load quantization: a pre-quantized checkpoint (e.g. NVIDIA ModelOpt).
- llama.cpp loads GGUF only: a GGUF of the planned quant (llama-quantize, tools/quantize).

Speculative decoding with the model's own MTP layers (`throughput --mtp K`), a chain of K draft
tokens:
- vLLM: --speculative-config '{"method": "mtp", "num_speculative_tokens": K}' (docs.vllm.ai
  features/speculative_decoding/mtp: "method": "mtp" picks the model's own MTP module).
- SGLang: --speculative-algorithm EAGLE --speculative-num-steps K --speculative-eagle-topk 1
  --speculative-num-draft-tokens K+1 (docs.sglang.io advanced_features/speculative_decoding,
  "Multi Token Prediction": MTP runs through the EAGLE worker; top-k 1 is a chain).
- TensorRT-LLM: speculative_config {decoding_type: MTP, num_nextn_predict_layers: K} in the
  --extra_llm_api_options YAML (nvidia.github.io/TensorRT-LLM features/speculative-decoding).
- llama.cpp: no MTP drafting flag is planned; its command serves without speculation.
A model without MTP layers needs a separate draft model (EAGLE-3, a smaller LLM) whose weights
and cache moeplan does not count: launch_notes says so and no flag is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from moeplan.memory.estimate import MAX_BATCHED_TOKENS
from moeplan.memory.quant import resolve_scheme, weight_format
from moeplan.perf.parallel import Layout

KV_FLAGS = {
    "vllm": {"fp8": "fp8", "int8": None},
    "sglang": {"fp8": "fp8_e4m3", "int8": None},
    "llamacpp": {"fp8": None, "int8": "q8_0"},
}


@dataclass(frozen=True)
class LaunchInputs:
    model_ref: str  # Hugging Face repo (or the path the user gave)
    layout: Layout
    max_concurrency: int  # per replica
    max_model_len: int  # ISL + OSL
    kv_quant: str = "bf16"
    usable_fraction: float = 0.9
    replicas: int = 1
    engine: str = ""  # the engine profile planned for ("sglang-fi" adds SGLANG_FI_FLAGS)
    quant: str = "native"  # the planned weight scheme id (memory/quant.py)
    quant_native: bool = True  # the planned scheme is the checkpoint's own format
    checkpoint_quant: str = "bf16"  # the checkpoint's format (ModelSpec.native_quant)
    draft_tokens: int = 0  # speculative tokens a step (throughput --mtp K)
    mtp_layers: int = 0  # the model's own MTP layers (ModelSpec.mtp_layers)

    @property
    def mtp_drafting(self) -> bool:
        """Drafting with the model's own MTP layers, which the commands can switch on."""
        return self.draft_tokens > 0 and self.mtp_layers > 0

    @property
    def on_load_quant(self) -> str | None:
        """The --quantization value vLLM/SGLang apply to this checkpoint on load, if any."""
        if self.quant_native or self.checkpoint_quant not in ON_LOAD_FROM:
            return None
        return ON_LOAD_QUANT.get(self.quant)


ON_LOAD_QUANT = {"fp8": "fp8"}
"""Planned scheme -> vLLM/SGLang `--quantization` value that makes it from a 16-bit checkpoint."""
ON_LOAD_FROM = ("bf16", "fp16", "fp32")


SGLANG_FI_FLAGS = (
    "--attention-backend trtllm_mla",
    "--moe-runner-backend flashinfer_trtllm",
    "--enable-flashinfer-allreduce-fusion",
)
"""SGLang's FlashInfer / TensorRT-LLM-gen Blackwell path that the `sglang-fi` profile counts
(perf/kernel_counts.py SGLANG_FI_MLA_KERNELS). trtllm_mla serves MLA models (DeepSeek) only;
stage_pass notes the profile's use on other attention."""


def vllm_command(x: LaunchInputs) -> str:
    lay = x.layout
    parts = ["vllm serve", x.model_ref, f"--tensor-parallel-size {lay.tp}"]
    if lay.dp > 1:
        parts.append(f"--data-parallel-size {lay.dp}")
    if lay.ep > 1:
        parts.append("--enable-expert-parallel")
    if lay.pp > 1:
        parts.append(f"--pipeline-parallel-size {lay.pp}")
    parts += [f"--max-num-seqs {_per_engine(x.max_concurrency, lay.dp)}"]
    parts += [f"--max-model-len {x.max_model_len}"]
    if x.on_load_quant:
        parts.append(f"--quantization {x.on_load_quant}")
    kv = KV_FLAGS["vllm"].get(x.kv_quant)
    if kv:
        parts.append(f"--kv-cache-dtype {kv}")
    parts.append(f"--gpu-memory-utilization {x.usable_fraction:g}")
    if x.mtp_drafting:
        config = f'{{"method": "mtp", "num_speculative_tokens": {x.draft_tokens}}}'
        parts.append(f"--speculative-config '{config}'")
    return " ".join(parts)


def sglang_command(x: LaunchInputs) -> str:
    lay = x.layout
    per_stage = lay.tp * lay.dp
    parts = ["python -m sglang.launch_server", f"--model-path {x.model_ref}", f"--tp {per_stage}"]
    if lay.dp > 1:
        parts += [f"--dp {lay.dp}", "--enable-dp-attention"]
    if lay.ep > 1:
        parts.append(f"--ep {lay.ep}")
    if lay.pp > 1:
        parts.append(f"--pp-size {lay.pp}")
    parts += [f"--max-running-requests {x.max_concurrency}", f"--context-length {x.max_model_len}"]
    if x.on_load_quant:
        parts.append(f"--quantization {x.on_load_quant}")
    kv = KV_FLAGS["sglang"].get(x.kv_quant)
    if kv:
        parts.append(f"--kv-cache-dtype {kv}")
    parts.append(f"--mem-fraction-static {x.usable_fraction:g}")
    if x.engine == "sglang-fi":
        parts += SGLANG_FI_FLAGS
    if x.mtp_drafting:
        k = x.draft_tokens
        parts += [
            "--speculative-algorithm EAGLE",
            f"--speculative-num-steps {k}",
            "--speculative-eagle-topk 1",
            f"--speculative-num-draft-tokens {k + 1}",
        ]
    return " ".join(parts)


def trtllm_command(x: LaunchInputs) -> str:
    lay = x.layout
    per_stage = lay.tp * lay.dp
    parts = ["trtllm-serve", x.model_ref, f"--tp_size {per_stage}"]
    if lay.ep > 1:
        parts.append(f"--ep_size {lay.ep}")
    if lay.pp > 1:
        parts.append(f"--pp_size {lay.pp}")
    parts += [
        f"--max_batch_size {_per_engine(x.max_concurrency, lay.dp)}",
        f"--max_num_tokens {MAX_BATCHED_TOKENS}",
        f"--max_seq_len {x.max_model_len}",
        f"--kv_cache_free_gpu_memory_fraction {x.usable_fraction:g}",
    ]
    extra = ["enable_attention_dp: true"] if lay.dp > 1 else []
    if x.mtp_drafting:
        extra.append(
            "speculative_config: {decoding_type: MTP, "
            f"num_nextn_predict_layers: {x.draft_tokens}}}"
        )
    if extra:
        name = "attention_dp.yaml" if len(extra) == 1 and lay.dp > 1 else "extra_options.yaml"
        parts.append(f"--extra_llm_api_options {name}  # {'; '.join(extra)}")
    return " ".join(parts)


def llamacpp_command(x: LaunchInputs) -> str | None:
    """llama.cpp splits layers (or rows) over the GPUs of one process: no EP or attention DP."""
    lay = x.layout
    if lay.ep > 1 or lay.dp > 1 or (lay.tp > 1 and lay.pp > 1):
        return None
    slots = x.max_concurrency
    parts = ["llama-server", f"-m {x.model_ref}", f"-c {slots * x.max_model_len}", f"-np {slots}"]
    parts.append("-ngl 999")
    if lay.gpus > 1:
        parts.append(f"--split-mode {'row' if lay.tp > 1 else 'layer'}")
    kv = KV_FLAGS["llamacpp"].get(x.kv_quant)
    if kv:
        parts.append(f"-ctk {kv} -ctv {kv}")
    return " ".join(parts)


def launch_notes(x: LaunchInputs, engines: list[str]) -> list[str]:
    """What the commands need beyond themselves: on-load quantization or a checkpoint in the
    planned format when the weights planned are not the checkpoint's, and the speculation."""
    return _speculation_notes(x, engines) + _quant_notes(x, engines)


def _speculation_notes(x: LaunchInputs, engines: list[str]) -> list[str]:
    if x.draft_tokens <= 0:
        return []
    if not x.mtp_layers:
        return [
            f"{x.draft_tokens} draft tokens a step were priced, but the model has no MTP layers: "
            "a separate draft model (EAGLE-3, a smaller LLM) is needed, its weights and cache "
            "are not counted, and no speculative flag is written"
        ]
    if "llamacpp" in engines:
        return ["llamacpp: served without MTP drafting (no flag planned)"]
    return []


def _quant_notes(x: LaunchInputs, engines: list[str]) -> list[str]:
    if x.quant_native:
        return []
    what = f"weights planned as {x.quant}; {x.model_ref} is {x.checkpoint_quant}"
    if x.on_load_quant:
        notes = [f"vllm, sglang: {what}: --quantization {x.on_load_quant} quantizes it on load"]
    else:
        notes = [
            f"vllm, sglang: {what}: neither quantizes to it on load; serve a checkpoint "
            f"already quantized to {x.quant} in its place"
        ]
    notes.append(
        "trtllm: trtllm-serve does not quantize on load; serve a checkpoint already quantized "
        f"to {x.quant} (e.g. made with NVIDIA ModelOpt) in its place"
    )
    if "llamacpp" in engines:
        if _is_gguf(x.quant):
            notes.append(f"llamacpp: -m needs a GGUF quantized as {x.quant} (llama-quantize)")
        else:
            notes.append(f"llamacpp: GGUF has no {x.quant} weights; plan a GGUF quant for it")
    return notes


def _is_gguf(quant: str) -> bool:
    """The scheme's expert weights are a GGUF block type (q8_0, q4_k_m, ...)."""
    experts = resolve_scheme(quant).formats["routed_experts"]
    return weight_format(experts).layout.startswith("GGUF")


def _per_engine(concurrency: int, dp: int) -> int:
    """vLLM's --max-num-seqs and TensorRT-LLM's --max_batch_size count per DP rank."""
    return max(1, -(-concurrency // dp))


def launch_commands(x: LaunchInputs) -> dict[str, str]:
    """Engine id -> command line for one replica (run it `replicas` times behind a router)."""
    out = {"vllm": vllm_command(x), "sglang": sglang_command(x), "trtllm": trtllm_command(x)}
    llama = llamacpp_command(x)
    if llama is not None:
        out["llamacpp"] = llama
    return out
