"""ktransformers V0.2's GPU side (perf/offload_kt_gpu.py), hand-computed from its source as read
at kvcache-ai/ktransformers@94ab2de (/work/notes/kt_vram.md's table): Marlin(k, n) = k n / 2 +
(k / 64) n 4 bytes (int4, FP32 scale per 64) for every linear but kv_b_proj, which stays BF16;
the router FP32; the token embedding on the CPU; a static MLA cache of --cache_lens tokens."""

from __future__ import annotations

import pytest

from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import resolve_gpu
from moeplan.hardware.hosts import resolve_host, with_overrides
from moeplan.memory.estimate import weights_bytes_by_component
from moeplan.memory.quant import (
    component_bits,
    kv_b_proj_share,
    resolve_scheme,
    weight_format,
    with_formats,
)
from moeplan.model.catalog import load_model
from moeplan.model.params import count_params
from moeplan.perf.offload_engines import OFFLOAD_ENGINES
from moeplan.perf.offload_flags import with_prompt_flags
from moeplan.perf.offload_placement import gpu_side_scheme, place
from moeplan.plan.validate_offload import validate_offload_all

GIB = 1 << 30
V02 = OFFLOAD_ENGINES["ktransformers-v02"]
SERVER = with_prompt_flags(V02, cache_lens=32768)  # ubergarm's --cache_lens 32768


def marlin(k: int, n: int, scale_bytes: int = 4) -> float:
    """KLinearMarlin bytes of a [k in, n out] linear: packed int4 plus a scale per 64 inputs."""
    return k * n / 2 + (k / 64) * n * scale_bytes


ATTENTION = 61 * (
    marlin(7168, 1536) + marlin(1536, 24576) + marlin(7168, 576) + marlin(16384, 7168)
)  # q_a, q_b, kv_a, o: 5.844 GB
DENSE = 3 * (2 * marlin(7168, 18432) + marlin(18432, 7168))  # layers 0-2: 0.669 GB
SHARED = 58 * (2 * marlin(7168, 2048) + marlin(2048, 7168))  # 1.437 GB
LM_HEAD = marlin(7168, 129280)  # 0.521 GB
KV_B = 61 * 128 * 256 * 512 * 2  # BF16: 2.047 GB
ROUTER = 58 * 256 * 7168 * 4  # FP32: 0.426 GB
EXPERT_LAYER = 256 * (2 * marlin(7168, 2048) + marlin(2048, 7168))  # 6.342 GB
KV_TOKEN = 61 * 576 * 2  # MLA latent + rope key, BF16: 70,272 B


def _ubergarm() -> tuple:
    spec = load_model("deepseek-r1")
    host = with_overrides(resolve_host("threadripper-pro-7995wx"), 307.2, 274.88, 16)
    return spec, resolve_scheme("q2_k", spec), resolve_gpu("rtx-a6000"), host


def test_marlin_format_and_kv_b_share():
    assert weight_format("int4-g64-s32").bits_per_weight == 4.5  # FP32 scales
    assert weight_format("int4-g64").bits_per_weight == 4.25  # BF16 scales (after 036ae25a)
    spec = load_model("deepseek-v3")
    counts = count_params(spec)
    # 512 x 128 x 256 of the 187.1M attention weights a layer (norms inside the count)
    per_layer = 7168 * 1536 + 1536 * 24576 + 7168 * 576 + 512 * 128 * 256 + 16384 * 7168
    assert kv_b_proj_share(spec, counts) == pytest.approx(512 * 128 * 256 / per_layer, rel=1e-4)
    mix = with_formats(resolve_scheme("q4_k_m"), (("attention", "int4-g64-s32"),
                                                   ("attention_kv_b", "bf16")))  # fmt: skip
    share = kv_b_proj_share(spec, counts)
    assert component_bits(mix, spec, counts)["attention"] == pytest.approx(
        (1 - share) * 4.5 + share * 16
    )
    # a model without MLA has no kv_b_proj: the exception changes nothing
    qwen = load_model("qwen3-235b-a22b")
    qc = count_params(qwen)
    assert kv_b_proj_share(qwen, qc) == 0
    assert component_bits(gpu_side_scheme(resolve_scheme("q4_k_m"), V02), qwen, qc)[
        "attention"
    ] == pytest.approx(4.5)


def test_gpu_weights_follow_the_source_whatever_the_gguf_type():
    spec = load_model("deepseek-r1")
    for quant in ("q2_k", "q4_k_m", "q8_0"):
        w = weights_bytes_by_component(spec, gpu_side_scheme(resolve_scheme(quant), V02))
        assert w["attention"] == pytest.approx(ATTENTION + KV_B, rel=2e-5)  # + 2 norms a layer
        assert w["dense_ffn"] == pytest.approx(DENSE, abs=1)
        assert w["shared_experts"] == pytest.approx(SHARED, abs=1)
        assert w["lm_head"] == pytest.approx(LM_HEAD, abs=1)
        assert w["router"] == pytest.approx(ROUTER, rel=2e-4)  # + the FP32 score bias
        assert w["routed_experts"] / 58 == pytest.approx(EXPERT_LAYER, rel=1e-9)
    assert round(EXPERT_LAYER / 1e6) == 6342


def test_ubergarm_a6000_allocation_and_verdicts():
    """94ab2de server, --cache_lens 32768: 13.25 GB allocated with no expert layer on the GPU,
    6.342 GB (5.906 GiB) a GPU expert layer; 4 layers 35.97 GiB fits the A6000, 6 layers
    47.78 GiB (+ the CUDA context) does not, even at 48 GiB (49140 MiB)."""
    spec, q2k, gpu, host = _ubergarm()
    fixed = ATTENTION + DENSE + SHARED + LM_HEAD + KV_B + ROUTER + 32768 * KV_TOKEN
    for gpu_layers, gib in ((0, 12.34), (2, 24.15), (4, 35.97), (6, 47.78)):
        p = place(spec, q2k, gpu, host, SERVER, 61 - gpu_layers, 460)
        allocated = p.gpu_weight_bytes + p.kv_cache_bytes
        assert allocated == pytest.approx(fixed + gpu_layers * EXPERT_LAYER, rel=1e-3)
        assert allocated / GIB == pytest.approx(gib, abs=0.01)
        assert p.fits_gpu == (gpu_layers <= 4)
        assert (p.gpu_bytes <= 48 * GIB) == (gpu_layers <= 4)
    assert fixed == pytest.approx(13.25e9, rel=1e-3)
    zero = place(spec, q2k, gpu, host, SERVER, 61, 460)
    assert zero.kv_cache_bytes == 32768 * KV_TOKEN  # 2.30 GB whatever the prompt
    # local_chat sizes the cache to prompt + max_new_tokens
    assert place(spec, q2k, gpu, host, V02, 61, 460).kv_cache_bytes == 460 * KV_TOKEN
    # the token embedding stays in RAM (yaml:69-75)
    embedding = weights_bytes_by_component(spec, q2k)["embedding"]
    assert zero.host_bytes == zero.host_expert_bytes + embedding


def test_cache_lens_is_a_ktransformers_flag():
    assert SERVER.kv_cache_tokens == 32768
    with pytest.raises(MoeplanError, match="cache-lens"):
        with_prompt_flags(OFFLOAD_ENGINES["llamacpp"], cache_lens=32768)
    with pytest.raises(MoeplanError):
        with_prompt_flags(V02, cache_lens=0)
    # a static cache shorter than the request could not serve it: refused, not sized as fitting
    spec, q2k, gpu, host = _ubergarm()
    assert place(spec, q2k, gpu, host, SERVER, 61, 32768).kv_cache_bytes == 32768 * KV_TOKEN
    with pytest.raises(MoeplanError, match="--cache-lens 32768 is below the request's 32769"):
        place(spec, q2k, gpu, host, SERVER, 61, 32769)


def test_a6000_verdicts_right():
    got = {v.id: v.verdict_right for v in validate_offload_all() if "rtxa6000-tr7965wx-gpu" in v.id}
    assert got == {f"fit-kt-dsr1-udq2kxl-rtxa6000-tr7965wx-gpu{n}": True for n in (2, 4, 6)}
