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
"""

from __future__ import annotations

from dataclasses import dataclass

from moeplan.memory.estimate import MAX_BATCHED_TOKENS
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
    kv = KV_FLAGS["vllm"].get(x.kv_quant)
    if kv:
        parts.append(f"--kv-cache-dtype {kv}")
    parts.append(f"--gpu-memory-utilization {x.usable_fraction:g}")
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
    kv = KV_FLAGS["sglang"].get(x.kv_quant)
    if kv:
        parts.append(f"--kv-cache-dtype {kv}")
    parts.append(f"--mem-fraction-static {x.usable_fraction:g}")
    if x.engine == "sglang-fi":
        parts += SGLANG_FI_FLAGS
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
    if lay.dp > 1:
        parts.append("--extra_llm_api_options attention_dp.yaml  # enable_attention_dp: true")
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
