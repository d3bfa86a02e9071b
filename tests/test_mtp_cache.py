"""Loaded MTP layers: their weights, and the KV cache of their attention layers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.cache import kv_bytes_per_rank, kv_bytes_per_sequence
from moeplan.memory.estimate import estimate_memory, kv_bytes_per_token
from moeplan.memory.quant import resolve_scheme
from moeplan.memory.sizing import size_model
from moeplan.model.catalog import load_model
from moeplan.model.hf_config import spec_from_config
from moeplan.perf.latency import make_setup
from moeplan.perf.parallel import Layout, per_gpu_memory
from moeplan.perf.serving import Workload, replica_capacity
from moeplan.perf.speculation import Speculation

CATALOG = Path(__file__).resolve().parent.parent / "model_specs"


def test_deepseek_mtp_layer_adds_one_mla_cache():
    # DeepSeek-V3: 61 MLA layers of (kv_lora_rank 512 + rope 64) x 2 B = 1,152 B each; the one
    # MTP module is a 62nd (vLLM DeepSeekMTP's layer 61 registers its own MLA cache)
    spec = load_model("deepseek-v3")
    assert kv_bytes_per_token(spec) == 61 * 1152
    assert kv_bytes_per_token(spec, include_mtp=True) == 62 * 1152
    assert kv_bytes_per_sequence(spec, 1000, include_mtp=True) == 62 * 1152 * 1000


def test_nemotron_mtp_step_counts_its_attention_block_only():
    # Nemotron 3 Super's MTP step "*E": one attention block (2 KV heads x 128 x K and V x 2 B =
    # 1,024 B a token), one MoE block without a cache
    spec = load_model("nemotron-3-super-120b-a12b")
    assert [b.keeps_kv for b in spec.mtp_blocks] == [True, False]
    extra = kv_bytes_per_token(spec, include_mtp=True) - kv_bytes_per_token(spec)
    assert extra == 2 * 128 * 2 * 2


def test_no_mtp_layers_no_change():
    spec = load_model("mixtral-8x7b")
    assert spec.mtp_layers == 0 and spec.mtp_attention_groups == ()
    assert kv_bytes_per_token(spec, include_mtp=True) == kv_bytes_per_token(spec)
    mem = estimate_memory(spec, resolve_scheme("bf16", spec), 4096, 1, include_mtp=True)
    assert not mem.include_mtp


def test_size_with_mtp_loads_weights_and_cache_and_says_so():
    spec = load_model("deepseek-v3")
    scheme = resolve_scheme("fp8", spec)
    off = size_model(spec, scheme, context=8192, batch=4)
    on = size_model(spec, scheme, context=8192, batch=4, include_mtp=True)
    assert on.memory.weights_bytes - off.memory.weights_bytes == 11_610_068_224  # 8-bit MTP
    assert on.memory.kv_cache_bytes - off.memory.kv_cache_bytes == 4 * 8192 * 1152
    assert any("+1,152 bytes/token" in n for n in on.notes)
    assert not any("--mtp:" in n for n in off.notes)


def test_sharded_kv_holds_the_mtp_layer_too():
    spec = load_model("qwen3-next-80b-a3b")
    scheme = resolve_scheme("bf16", spec)
    layout = Layout(tp=2)
    off = estimate_memory(spec, scheme, 32768, 8)
    on = estimate_memory(spec, scheme, 32768, 8, include_mtp=True)
    kv_off = per_gpu_memory(spec, off, layout).kv_cache_bytes
    kv_on = per_gpu_memory(spec, on, layout).kv_cache_bytes
    # 12 full-attention layers (2 KV heads of 256, K and V, 2 B: 2,048 B a token, one head
    # per rank); the MTP layer is a 13th
    mtp_rank = kv_bytes_per_rank(spec, 32768, "bf16", 2, include_mtp=True)
    assert mtp_rank == pytest.approx(kv_bytes_per_rank(spec, 32768, "bf16", 2) * 13 / 12)
    assert kv_on - kv_off == pytest.approx(8 * 32768 * 2048 / 2, abs=2)


def test_qwen3_next_config_names_no_mtp_yet_holds_one():
    cfg = yaml.safe_load(CATALOG.joinpath("qwen3-next-80b-a3b.yaml").read_text())["config"]
    assert "num_nextn_predict_layers" not in cfg and "mtp_num_hidden_layers" not in cfg
    assert spec_from_config(cfg, "qwen3-next").mtp_layers == 1
    assert spec_from_config({**cfg, "num_nextn_predict_layers": 0}, "x").mtp_layers == 0


def test_serving_with_mtp_drafts_has_less_room():
    spec = load_model("deepseek-v3")
    setup = make_setup(spec, resolve_scheme("fp8", spec), resolve_gpu("h200"), Layout(tp=8))
    work = Workload(4096, 1024)
    plain = replica_capacity(setup, work)
    drafting = replica_capacity(setup, work, speculation=Speculation(2, 0.7))
    assert drafting.weights_bytes_per_gpu > plain.weights_bytes_per_gpu
    assert drafting.kv_bytes_per_request_per_gpu > plain.kv_bytes_per_request_per_gpu
    assert drafting.per_replica < plain.per_replica
