"""llama.cpp's CUDA vector FA kernel with a quantized KV cache (perf/llamacpp_fattn.py): each query
head of a GQA group reads its K/V on its own at batch 1, so a q8_0 cache is read group-size times;
F16 (MMA kernel) once; MLA not priced; only NVIDIA, only batch 1."""

from __future__ import annotations

from dataclasses import replace

import pytest

from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import resolve_gpu
from moeplan.hardware.hosts import resolve_host
from moeplan.memory.cache import decode_kv_read_bytes_per_sequence, kv_dtype_bytes
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.llamacpp_fattn import vec_fa_reread_bytes
from moeplan.perf.offload import estimate_offload
from moeplan.perf.offload_engines import OFFLOAD_ENGINES

LLAMACPP = OFFLOAD_ENGINES["llamacpp"]


def test_ggml_cache_types_by_block_size():
    # 32 values a block: q8_0 32 bytes + an FP16 scale, q4_0 16 + 2 (ggml-common.h)
    assert kv_dtype_bytes("q8_0") == 34 / 32 and kv_dtype_bytes("q4_0") == 18 / 32
    with pytest.raises(MoeplanError, match="kv-quant"):
        kv_dtype_bytes("q3_k")


def test_qwen3_235b_reads_its_q8_0_cache_once_per_query_head():
    # 94 layers, 64 query / 4 KV heads of 128: one token's q8_0 K+V in a layer is
    # 4 x 256 x 34/32 = 1088 bytes; at 8192 tokens the vector kernel reads it 16 times
    spec, a6000 = load_model("qwen3-235b-a22b"), resolve_gpu("rtx-a6000")
    once = decode_kv_read_bytes_per_sequence(spec, 8192, "q8_0")
    assert once == pytest.approx(94 * 1088 * 8192)
    assert vec_fa_reread_bytes(spec, 8192, "q8_0", a6000) == pytest.approx(15 * once)
    assert vec_fa_reread_bytes(spec, 8192, "fp16", a6000) == 0.0  # MMA kernel: one read
    assert vec_fa_reread_bytes(load_model("deepseek-r1"), 8192, "q8_0", a6000) == 0.0  # MLA
    assert vec_fa_reread_bytes(spec, 8192, "q8_0", resolve_gpu("rx-7900-xtx")) == 0.0  # not CUDA
    assert vec_fa_reread_bytes(spec, 8192, "q8_0", a6000, sequences=2) == 0.0  # batch 1 only


def test_gpu_only_llamacpp_decode_pays_the_rereads_too():
    from moeplan.perf.engines import ENGINES
    from moeplan.perf.latency import make_setup
    from moeplan.perf.parallel import Layout
    from moeplan.perf.phases import decode_step

    spec = load_model("gpt-oss-20b")
    gpu = resolve_gpu("rtx-4090")
    scheme = resolve_scheme("native", spec)

    def setup(kv: str, engine: str = "llamacpp"):
        return make_setup(spec, scheme, gpu, Layout(), ENGINES[engine], kv_quant=kv)

    def step(kv: str, engine: str = "llamacpp"):
        return decode_step(setup(kv, engine), 1, 32768)

    q8 = step("q8_0")
    # gpt-oss: 64 query / 8 KV heads: 7 more reads of the q8_0 cache (half-window layers too)
    stream = setup("q8_0").rates.stream_bw_bytes_per_s
    assert q8.fa_reread_s == pytest.approx(
        vec_fa_reread_bytes(spec, 32769, "q8_0", gpu) / stream, rel=1e-6
    )
    assert q8.fa_reread_s > 0 and step("fp16").fa_reread_s == 0.0
    # less the half-size single read q8_0 saves against F16
    assert q8.total_s - step("fp16").total_s > 0.8 * q8.fa_reread_s


def test_offload_decode_slows_with_a_quantized_cache_on_nvidia_at_batch_1():
    spec = load_model("qwen3-235b-a22b")
    scheme = resolve_scheme("q8_0", spec)
    host = resolve_host("epyc-9654")

    def step(gpu: str, kv: str, batch: int = 1, engine=LLAMACPP) -> float:
        r = estimate_offload(
            spec, scheme, resolve_gpu(gpu), host, engine, "experts", 94, batch, 8192, 128, kv
        )
        assert r.speed is not None
        return r.speed.decode_step_s

    a6000 = resolve_gpu("rtx-a6000")
    extra = vec_fa_reread_bytes(spec, 8192 + 64, "q8_0", a6000) / (
        a6000.mem_bw_bytes_per_s * LLAMACPP.gpu_engine.bw_efficiency
    )
    # q8_0 reads half the F16 bytes once, then 15 more times
    assert step("rtx-a6000", "q8_0") - step("rtx-a6000", "fp16") > 0.9 * extra > 0.005
    # not on AMD (other kernels, not modelled), not at batch 2, not for ktransformers
    amd, batch2 = step("rx-7900-xtx", "q8_0"), step("rtx-a6000", "q8_0", 2)
    assert amd < step("rx-7900-xtx", "fp16") and batch2 < 2 * step("rtx-a6000", "fp16", 2)
    kt = replace(LLAMACPP, gpu_engine=replace(LLAMACPP.gpu_engine, vec_fa_quantized_kv=False))
    assert step("rtx-a6000", "q8_0", engine=kt) < step("rtx-a6000", "fp16", engine=kt)


def test_llamacpp_cache_types_are_refused_for_other_engines():
    from moeplan.perf.engines import ENGINES
    from moeplan.perf.latency import make_setup
    from moeplan.perf.parallel import Layout

    spec = load_model("gpt-oss-120b")
    scheme, gpu = resolve_scheme("native", spec), resolve_gpu("h100-sxm")
    make_setup(spec, scheme, gpu, Layout(), ENGINES["llamacpp"], kv_quant="q8_0")
    with pytest.raises(MoeplanError, match=r"llama\.cpp cache type"):
        make_setup(spec, scheme, gpu, Layout(), ENGINES["vllm"], kv_quant="q8_0")
    with pytest.raises(MoeplanError, match="engine 'ktransformers'"):
        estimate_offload(
            spec, scheme, resolve_gpu("rtx-4090"), resolve_host("epyc-9654"),
            OFFLOAD_ENGINES["ktransformers"], "auto", kv_quant="q4_0",
        )  # fmt: skip


def test_budget_with_a_llamacpp_cache_type_names_its_field(tmp_path):
    from typer.testing import CliRunner

    from moeplan.cli import app

    budgets = tmp_path / "b.yaml"
    budgets.write_text(
        "budgets:\n"
        "  - {name: offload, model: gpt-oss-120b, quant: native, gpu: rtx-4090,\n"
        "     host: ryzen-9-9950x, n_cpu_moe: 24, context: 32768, kv_quant: q8_0,\n"
        "     limits: {min_decode_tokens_per_s: 1}}\n"
        "  - {name: served, model: qwen3-30b-a3b, gpu: h100, kv_quant: q8_0,\n"
        "     limits: {min_decode_tokens_per_s: 1}}\n"
    )
    r = CliRunner().invoke(app, ["check", str(budgets)])
    assert r.exit_code == 2
    assert "budget 'served': field 'kv_quant'" in r.output and "Traceback" not in r.output
    budgets.write_text(budgets.read_text().split("  - {name: served")[0])
    assert CliRunner().invoke(app, ["check", str(budgets)]).exit_code == 0
