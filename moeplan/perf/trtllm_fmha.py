"""Measured rate of TensorRT-LLM's context (prompt) attention by prompt length, by GPU and KV-cache
type, from NVIDIA's aiconfigurator kernel database (issue 14).

Source: github:ai-dynamo/aiconfigurator@095f58a51c4ca8e61b66ec108d86f223f8d559ce
aic-core/src/aiconfigurator_core/systems/data/<system>/attention/trtllm/1.3.0rc20/
context_attention_perf.parquet (systems b200_sxm, gb200, h200_sxm, h100_sxm, rtx_pro_6000_server;
kernel_source torch_flow, window 0): the latency of TensorRT-LLM's attention op over a batch of
whole prompts (collector/trtllm/collect_attn.py at that commit: the op as the model calls it, its
QKV preprocessing and KV-cache write included). With an FP8 KV cache the rows are its FP8 context
FMHA (attn_dtype fp8, the quantized-model case the collector documents); with a BF16 one, BF16.
Kernel measurements, not end-to-end results; aiconfigurator's own model of a step is not used.

Reading: moeplan's causal attention FLOPs (terms.attention_core_flops: 2 x heads x 256 a scored
pair, head_dim 128, s(s + 1) / 2 pairs a prompt) over the measured time, as a fraction of the GPU's
dense BF16 peak (gpus.yaml), for the three GQA shapes of the MoE models TensorRT-LLM publishes
(32 / 4, 64 / 4 and 40 / 8 query / KV heads) at prompt lengths s = 1024 to 16384 and 1-16 prompts
(2048 to 32768 tokens a batch): 54 rows a GPU and KV type. The fraction rises with s, as a fixed
cost per query token would make it: fraction(s) = e_max x s / (s + s0), fitted in log space over
the 54 rows (least squares on a grid of 0.005 in e_max and 20 tokens in s0); every row lies within
0.68-1.24x of the fit. At s = 2048 a B200 reaches 0.31 of its BF16 peak, an H100 0.44, against the
0.7 moeplan assumed for any prompt length. Prompted by the held-out perf-overview serving records'
error on prompt-heavy ISL/OSL (issue 14); no value was taken from them.
"""

from __future__ import annotations

TRTLLM_CONTEXT_FMHA: tuple[tuple[str, str, float, float], ...] = (
    # (GPU id, KV-cache type, e_max, s0 in tokens); rows / fit: median, range over 54 rows
    ("b200", "fp8", 0.745, 3060),  # 1.02, 0.68-1.22
    ("b200", "bf16", 0.725, 3260),  # 1.04, 0.73-1.24
    ("gb200-nvl72", "fp8", 0.770, 3420),  # 1.02, 0.69-1.24
    ("gb200-nvl72", "bf16", 0.755, 3660),  # 1.03, 0.72-1.24
    ("h200", "fp8", 0.830, 1940),  # 1.01, 0.81-1.15
    ("h200", "bf16", 0.920, 2400),  # 1.01, 0.80-1.14
    ("h100-sxm", "fp8", 0.820, 1920),  # 1.02, 0.79-1.14
    ("h100-sxm", "bf16", 0.925, 2480),  # 1.01, 0.78-1.15
    ("rtx-pro-6000", "fp8", 0.850, 840),  # 1.01, 0.82-1.12
    ("rtx-pro-6000", "bf16", 0.500, 960),  # 0.96, 0.87-1.13
)
"""TensorRT-LLM 1.3.0rc20's context attention on these GPUs: e_max and s0 of the fit above, by
the KV cache's type (fp8, else bf16)."""


def context_fmha_fraction(e_max: float, s0: float, prompt_tokens: float) -> float:
    """Fraction of the BF16 dense peak a context attention over prompts of `prompt_tokens`
    reaches: e_max x s / (s + s0)."""
    return e_max * prompt_tokens / (prompt_tokens + s0)


def measured_context_fmha(
    table: tuple[tuple[str, str, float, float], ...],
    gpu_id: str,
    kv_quant: str,
    prompt_tokens: float,
) -> float | None:
    """The fraction of the BF16 peak `table` gives for prompts of `prompt_tokens` on `gpu_id`
    with a KV cache of `kv_quant` (fp8 rows for an FP8 cache, else bf16); None off the table."""
    kv = "fp8" if kv_quant == "fp8" else "bf16"
    for gid, cache, e_max, s0 in table:
        if gid == gpu_id and cache == kv:
            return context_fmha_fraction(e_max, s0, prompt_tokens)
    return None
