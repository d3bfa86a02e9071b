"""llama.cpp's GPU compute buffer under expert offload (perf/offload_placement.py
llamacpp_compute_buffer_bytes): the logits of a whole ubatch, or the KQ masks, a layer's F32
activations and one copied host expert tensor, whichever is larger."""

from __future__ import annotations

from dataclasses import replace

import pytest

from moeplan.hardware.gpus import resolve_gpu
from moeplan.hardware.hosts import resolve_host, with_overrides
from moeplan.memory.quant import resolve_scheme, widest_routed_expert_bits
from moeplan.model.catalog import load_model
from moeplan.model.params import count_params
from moeplan.perf.offload_compute_buffer import compute_buffer_bytes, llamacpp_indexer_bytes
from moeplan.perf.offload_engines import OFFLOAD_ENGINES
from moeplan.perf.offload_flags import with_prompt_flags
from moeplan.perf.offload_placement import place
from moeplan.plan.validate_offload import validate_offload_record

LLAMACPP = OFFLOAD_ENGINES["llamacpp"]


def test_a_large_ubatch_is_bound_by_its_logits():
    # gpt-oss-120b: 201,088-token vocabulary, hidden 2880; 2048 outputs in F32 plus the normed
    # hidden state they come from: 2048 x (201,088 + 2,880) x 4 bytes
    spec = load_model("gpt-oss-120b")
    scheme = resolve_scheme("q8_0,experts=mxfp4", spec)
    engine = with_prompt_flags(LLAMACPP, 2048)
    assert compute_buffer_bytes(spec, scheme, engine, 4224, 1, 25) == 2048 * 203_968 * 4
    # doubling the ubatch doubles it (ai-maestro's sweep: each 2048 more tokens of ubatch cost
    # about one more layer of experts, 1.69 GB, on the host)
    wider = with_prompt_flags(LLAMACPP, 4096)
    assert compute_buffer_bytes(spec, scheme, wider, 8192, 1, 25) == 4096 * 203_968 * 4


def test_deepseek_host_experts_copy_their_widest_tensor_to_the_gpu():
    # Q4_K_M keeps ffn_down_exps in Q6_K (6.5625 bits): 256 experts x 7168 x 2048 of it
    spec = load_model("deepseek-v3")
    scheme = resolve_scheme("q4_k_m", spec)
    assert widest_routed_expert_bits(scheme, spec, count_params(spec)) == pytest.approx(6.5625)
    down = 256 * 7168 * 2048 * 6.5625 / 8
    # at 131,072 tokens of context the layer moment (F16 mask 131072 x 512 x 2 plus F32
    # activations) outweighs the 512 x 136,448 x 4 bytes of output, so the copy adds in full
    # (a build with an F16 mask input: the cast moment of older builds would mask the sum)
    engine = replace(LLAMACPP, casts_f32_kq_mask=False)
    with_copy = compute_buffer_bytes(spec, scheme, engine, 131072, 1, 58)
    no_host = compute_buffer_bytes(spec, scheme, engine, 131072, 1, 0)
    assert with_copy - no_host == pytest.approx(down, abs=1)
    # --no-op-offload: the prompt's host experts stay on the CPU, nothing is copied
    no_offload = with_prompt_flags(engine, None, op_offload=False)
    assert compute_buffer_bytes(spec, scheme, no_offload, 131072, 1, 58) == no_host
    # a ubatch below the op-offload batch (32 tokens) copies nothing either
    small = with_prompt_flags(LLAMACPP, 16)
    assert compute_buffer_bytes(spec, scheme, small, 8192, 1, 58) == compute_buffer_bytes(
        spec, scheme, small, 8192, 1, 0
    )


def test_the_masks_grow_with_the_context():
    # Qwen3-235B (full attention only): the F16 KQ mask is n_ctx x ubatch x 2 bytes
    spec = load_model("qwen3-235b-a22b")
    scheme = resolve_scheme("q4_k_m", spec)
    short = compute_buffer_bytes(spec, scheme, LLAMACPP, 8192, 1, 90)
    long = compute_buffer_bytes(spec, scheme, LLAMACPP, 32768, 1, 90)
    assert long - short == (32768 - 8192) * 512 * 2


@pytest.mark.parametrize(("ubatch", "prompt", "k"), [(4096, 4096, 26), (8192, 8192, 28)])
def test_the_ubatch_sweep_on_an_rtx_3090(ubatch: int, prompt: int, k: int):
    """ai-maestro.online 'Drastically improve prompt processing speed for n-cpu-moe partially
    offloaded models' (2026-05-12): gpt-oss-120b (unsloth F16 GGUF) on a 24 GB RTX 3090 with
    llama-bench, '-ub 4096 needed --n-cpu-moe 26, and -ub 8192 needed --n-cpu-moe 28' (pp4096,
    the 8192 point pp8192; tg128): K fits, K - 1 does not."""
    spec = load_model("gpt-oss-120b")
    scheme = resolve_scheme("native", spec)
    gpu = resolve_gpu("rtx-3090")
    host = with_overrides(resolve_host("ryzen-9-9950x"), ram_gb=103.08)
    engine = with_prompt_flags(LLAMACPP, ubatch)
    context = prompt + 128
    fits = [place(spec, scheme, gpu, host, engine, n, context).fits_gpu for n in (k - 1, k)]
    assert fits == [False, True]


def test_other_engines_keep_one_output_a_sequence():
    spec = load_model("gpt-oss-120b")
    scheme = resolve_scheme("q8_0,experts=mxfp4", spec)
    kt = replace(LLAMACPP, reserves_ubatch_logits=False)
    assert compute_buffer_bytes(spec, scheme, kt, 4224, 1, 25) < 2048 * 201_088 * 4 // 4


def test_a_run_that_ran_is_priced_even_if_moeplan_sizes_it_over_its_gpu():
    how = {
        "model": "gpt-oss-120b",
        "quant": "q8_0,experts=mxfp4",
        "gpu": "rtx-4070",
        "host": "ryzen-9-9950x",
        "engine": "llamacpp",
        "n_cpu_moe": 30,
        "input_len": 24000,
        "output_len": 576,
        "ubatch_tokens": 4096,
    }
    rec = {"id": "synthetic", "metric": "decode_tok_s", "value": 10.0, "moeplan": how}
    v = validate_offload_record(rec)
    assert v.predicted is not None and v.predicted > 0
    assert v.gpu_over_bytes > 1e9  # 6 MoE layers' experts and 3.3 GB of logits on 12 GB
    fit = validate_offload_record({**rec, "metric": "fit", "value": True})
    assert fit.predicted is False and fit.gpu_over_bytes == 0


@pytest.mark.parametrize(
    ("model", "quant", "ubatch", "context", "host_layers", "logged_mib"),
    [
        # ikawrakow/ik_llama.cpp issue 822 (a mainline b6699 log): llama-server gpt-oss-20b mxfp4
        # -ngl 99 --n-cpu-moe 99 -c 131072 -fa on, n_ubatch 512, RTX 3070:
        # 'CUDA0 compute buffer size = 456.98 MiB'
        ("gpt-oss-20b", "q8_0,experts=mxfp4", 512, 131072, 24, 456.98),
        # ikawrakow/ik_llama.cpp PR 689 (Thireus, mainline b6168): llama-server GLM-4.5-Air -fa
        # -c 131072 -ngl 99 -b 4096 -ub 4096, one RTX PRO 6000: 'CUDA0 compute buffer size =
        # 3584.09 MiB' (the weights' types do not enter: no host experts)
        ("glm-4.5-air", "q4_k_m", 4096, 131072, 0, 3584.09),
    ],
)
def test_published_compute_buffer_logs(
    model: str, quant: str, ubatch: int, context: int, host_layers: int, logged_mib: float
):
    spec = load_model(model)
    scheme = resolve_scheme(quant, spec)
    engine = with_prompt_flags(LLAMACPP, ubatch)
    mib = compute_buffer_bytes(spec, scheme, engine, context, 1, host_layers) / (1 << 20)
    assert 0.85 <= mib / logged_mib <= 1.0  # moeplan counts less than llama.cpp reserves


def test_a_dsa_indexer_adds_its_scores():
    # DeepSeek-V3.2's lightning indexer, 64 heads: F32 scores [n_kv, T, 64] and their permuted
    # copy, plus its own F16 mask: at 32768 cells and T = 512, 2 x 4 GiB + 32 MiB
    spec = load_model("deepseek-v3.2")
    assert llamacpp_indexer_bytes(spec, 32768, 512) == 2 * 32768 * 512 * 64 * 4 + 32768 * 512 * 2
    scheme = resolve_scheme("q4_k_m", spec)
    assert compute_buffer_bytes(spec, scheme, LLAMACPP, 32768, 1, 0) > 8 * (1 << 30)
    assert llamacpp_indexer_bytes(load_model("deepseek-v3"), 32768, 512) == 0
