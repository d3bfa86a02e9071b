"""llama.cpp's CUDA vector FA kernel with a quantized KV cache (perf/llamacpp_fattn.py): each query
head of a GQA group reads its K/V on its own at batch 1, so a q8_0 cache is read group-size times;
F16 (MMA kernel) once; MLA not priced; only NVIDIA, only batch 1."""

from __future__ import annotations

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
    # not on AMD (other kernels, not modelled): q8_0 only reads fewer bytes than F16
    assert step("rx-7900-xtx", "q8_0") < step("rx-7900-xtx", "fp16")
    # ktransformers' own GPU profile runs its own attention: never the re-read
    kt_gpu = OFFLOAD_ENGINES["ktransformers"].gpu_engine
    assert not kt_gpu.vec_fa_quantized_kv and LLAMACPP.gpu_engine.vec_fa_quantized_kv


def test_more_query_tokens_than_the_vector_kernel_takes_convert_to_f16():
    spec = load_model("qwen3-235b-a22b")
    once = decode_kv_read_bytes_per_sequence(spec, 8192, "q8_0")
    a6000, rtx4090 = resolve_gpu("rtx-a6000"), resolve_gpu("rtx-4090")  # Ampere, Ada
    # Ada keeps 2 query tokens on the vector kernel: two sequences pay two sets of re-reads
    assert vec_fa_reread_bytes(spec, 8192, "q8_0", rtx4090, 2) == pytest.approx(2 * 15 * once)
    # Ampere converts at 2, Ada at 3: an F16 write and read of each sequence's cache
    convert = 2 * 2 / (34 / 32)
    assert vec_fa_reread_bytes(spec, 8192, "q8_0", a6000, 2) == pytest.approx(2 * convert * once)
    assert vec_fa_reread_bytes(spec, 8192, "q8_0", rtx4090, 3) == pytest.approx(3 * convert * once)
    # a draft-verify step of 2 tokens a sequence is 2 query tokens too
    assert vec_fa_reread_bytes(spec, 8192, "q8_0", a6000, 1, 2) == pytest.approx(convert * once)


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


def test_record_kv_quant_is_checked_and_the_record_named():
    from moeplan.plan.validate_offload import load_offload_records, validate_offload_record

    rec = next(
        r
        for r in load_offload_records()
        if r["id"] == "llamacpp-qwen3-235b-q80-rtxa6000-tr7965wx-80"
    )
    assert rec["moeplan"]["kv_quant"] == "q8_0"
    upper = {**rec, "moeplan": {**rec["moeplan"], "kv_quant": "Q8_0"}}
    assert validate_offload_record(upper).predicted == validate_offload_record(rec).predicted
    for bad in (["q8_0"], "q9_0"):
        broken = {**rec, "moeplan": {**rec["moeplan"], "kv_quant": bad}}
        with pytest.raises(MoeplanError, match="offload record 'llamacpp-qwen3-235b-q80"):
            validate_offload_record(broken)
