"""Checkpoints as users have them: safetensors folders (exact bytes and parameters from the
headers), GGUF files (the gguf package's writer makes them here) and a fake Hugging Face cache.
No network: the hub tests run with HF_HUB_OFFLINE=1 against a cache folder built in the test."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.memory.estimate import kv_bytes_per_token
from moeplan.memory.quant import resolve_scheme
from moeplan.memory.sizing import size_model
from moeplan.model.catalog import load_model

np = pytest.importorskip("numpy")
st = pytest.importorskip("safetensors.numpy")
safetensors = pytest.importorskip("safetensors", minversion="0.8")  # TensorSpec: any dtype
gguf = pytest.importorskip("gguf")
pytest.importorskip("huggingface_hub")

# A tiny Mixtral: hidden 64, 2 layers, 4 experts of width 128, GQA 4 heads / 2 KV heads of 16.
CONFIG = {
    "model_type": "mixtral", "hidden_size": 64, "intermediate_size": 128,
    "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2,
    "num_local_experts": 4, "num_experts_per_tok": 2, "vocab_size": 100,
    "tie_word_embeddings": False,
}  # fmt: skip


def _tensors(dtype=np.float16) -> dict[str, np.ndarray]:
    h, w, v, kv = 64, 128, 100, 2 * 16
    t = {"model.embed_tokens.weight": (v, h), "lm_head.weight": (v, h), "model.norm.weight": (h,)}
    for i in range(2):
        p = f"model.layers.{i}"
        t |= {f"{p}.self_attn.q_proj.weight": (h, h), f"{p}.self_attn.k_proj.weight": (kv, h),
              f"{p}.self_attn.v_proj.weight": (kv, h), f"{p}.self_attn.o_proj.weight": (h, h),
              f"{p}.input_layernorm.weight": (h,), f"{p}.post_attention_layernorm.weight": (h,),
              f"{p}.block_sparse_moe.gate.weight": (4, h)}  # fmt: skip
        for e in range(4):
            q = f"{p}.block_sparse_moe.experts.{e}"
            t |= {f"{q}.w1.weight": (w, h), f"{q}.w3.weight": (w, h), f"{q}.w2.weight": (h, w)}
    return {name: np.zeros(shape, dtype=dtype) for name, shape in t.items()}


def _sharded(folder, tensors, shards=2):
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CONFIG))
    names = sorted(tensors)
    weight_map = {}
    for s in range(shards):
        part = {n: tensors[n] for n in names[s::shards]}
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        st.save_file(part, str(folder / fname))
        weight_map |= dict.fromkeys(part, fname)
    index = {"metadata": {}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return folder


def _header_bytes(folder) -> int:
    """Bytes the headers describe: file size - 8 - header length, summed over the shards."""
    total = 0
    for f in folder.glob("*.safetensors"):
        data = f.read_bytes()
        total += len(data) - 8 - int.from_bytes(data[:8], "little")
    return total


def _save_raw(tensors, path):
    """Write {name: (safetensors dtype, array of the right item size)}, e.g. bfloat16 data as
    uint16 or float8_e4m3fn as uint8 (numpy has neither), through safetensors' own writer."""
    specs = {
        name: safetensors.TensorSpec(
            dtype=dtype, shape=list(a.shape), data_ptr=a.ctypes.data, data_len=a.nbytes
        )
        for name, (dtype, a) in tensors.items()
    }
    safetensors.serialize_file(specs, str(path))


def _sharded_raw(folder, tensors, config, shards=2):
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    names = sorted(tensors)
    weight_map = {}
    for s in range(shards):
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        _save_raw({n: tensors[n] for n in names[s::shards]}, folder / fname)
        weight_map |= dict.fromkeys(names[s::shards], fname)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return folder


def _dtypes_in_headers(folder) -> set[str]:
    out = set()
    for f in folder.glob("*.safetensors"):
        data = f.read_bytes()
        header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
        out |= {v["dtype"] for k, v in header.items() if k != "__metadata__"}
    return out


def test_sharded_bf16_checkpoint_is_exact(tmp_path):
    tensors = {n: ("bfloat16", a.view(np.uint16)) for n, a in _tensors().items()}
    config = {**CONFIG, "torch_dtype": "bfloat16"}
    folder = _sharded_raw(tmp_path / "bf16", tensors, config, shards=3)
    assert _dtypes_in_headers(folder) == {"BF16"}
    spec = load_model(str(folder))
    ckpt = spec.checkpoint
    assert ckpt is not None and ckpt.source == "safetensors" and len(ckpt.files) == 3
    assert ckpt.file_type == "BF16"
    assert ckpt.total_params == sum(a.size for _, a in tensors.values())
    # 2 bytes per bf16 weight: the headers' data sections, to the byte
    assert ckpt.total_bytes == 2 * ckpt.total_params == _header_bytes(folder)
    r = CliRunner().invoke(app, ["size", str(folder), "--quant", "native", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["weights_source"] == "safetensors"
    assert doc["checkpoint"]["bytes"] == doc["memory"]["weights_bytes"] == _header_bytes(folder)
    # the analytic bf16 estimate of this architecture is the same count: no difference
    assert doc["checkpoint"]["analytic_bytes"] == doc["checkpoint"]["bytes"]
    assert doc["checkpoint"]["bytes_difference"] == 0


def test_sharded_fp16_checkpoint_is_exact(tmp_path):
    tensors = _tensors()
    folder = _sharded(tmp_path / "ckpt", tensors)
    spec = load_model(str(folder))
    ckpt = spec.checkpoint
    assert ckpt is not None and ckpt.source == "safetensors" and len(ckpt.files) == 2
    assert ckpt.total_params == sum(a.size for a in tensors.values())
    assert ckpt.total_bytes == sum(a.nbytes for a in tensors.values()) == _header_bytes(folder)
    # Same components as the analytic count: 4 experts x 3 x 64 x 128 x 2 layers = 196,608
    assert ckpt.component_params()["routed_experts"] == 4 * 3 * 64 * 128 * 2
    # The analytic count of the architecture equals the headers for a plain checkpoint.
    report = size_model(spec, resolve_scheme("native", spec))
    assert report.params.total == ckpt.total_params
    assert report.memory.weights_by_component["routed_experts"] == 2 * 196_608


def test_block_fp8_checkpoint_counts_scales_as_bytes_not_params(tmp_path):
    """DeepSeek-V3 style: F8_E4M3 linear weights, one F32 weight_scale_inv per 128 x 128 block,
    bf16 embeddings/norms/router/lm_head, quantization_config fp8 with weight_block_size."""
    fp8: dict[str, tuple[str, np.ndarray]] = {}
    for name, a in _tensors().items():
        if name.endswith("proj.weight") or ".experts." in name:
            fp8[name] = ("float8_e4m3fn", np.zeros(a.shape, dtype=np.uint8))  # 1 B per weight
            rows, cols = a.shape
            scale_shape = (-(-rows // 128), -(-cols // 128))  # ceil: one scale per block
            fp8[name + "_scale_inv"] = ("float32", np.zeros(scale_shape, dtype=np.float32))
        else:
            fp8[name] = ("bfloat16", a.view(np.uint16))
    config = {**CONFIG, "torch_dtype": "bfloat16", "quantization_config": {
        "quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
        "weight_block_size": [128, 128]}}  # fmt: skip
    folder = _sharded_raw(tmp_path / "fp8", fp8, config)
    assert _dtypes_in_headers(folder) == {"F8_E4M3", "F32", "BF16"}
    spec = load_model(str(folder))
    ckpt = spec.checkpoint
    assert spec.native_quant == "fp8-block"  # from quantization_config
    assert ckpt.file_type == "BF16+F32+F8_E4M3"  # from the tensors
    scale_bytes = sum(a.nbytes for n, (_, a) in fp8.items() if n.endswith("_scale_inv"))
    # one 128 x 128 block per tensor here: 4 B x (q, k, v, o + 4 experts x 3) x 2 layers = 128
    assert scale_bytes == 4 * (4 + 4 * 3) * 2
    assert ckpt.total_bytes == sum(a.nbytes for _, a in fp8.values()) == _header_bytes(folder)
    weights = sum(a.size for n, (_, a) in fp8.items() if not n.endswith("_scale_inv"))
    assert ckpt.total_params == weights  # scales are bytes, not params
    # routed experts: 196,608 weights x 1 B + 4 x 3 x 2 scales x 4 B = 196,704 bytes
    assert ckpt.component_bytes()["routed_experts"] == 196_608 + 4 * 3 * 2 * 4
    r = CliRunner().invoke(app, ["size", str(folder), "--quant", "native", "--json"])
    assert r.exit_code == 0, r.output
    c = json.loads(r.output)["checkpoint"]
    assert c["bytes"] == _header_bytes(folder) and c["params"] == weights
    # the JSON rounds the difference to 6 decimals
    assert c["bytes_difference"] == pytest.approx(c["analytic_bytes"] / c["bytes"] - 1, abs=5e-7)


def test_corrupt_safetensors_header_exits_2_naming_the_file(tmp_path):
    folder = _sharded(tmp_path / "ckpt", _tensors())
    shard = folder / "model-00001-of-00002.safetensors"
    data = shard.read_bytes()
    n = int.from_bytes(data[:8], "little")
    shard.write_bytes(data[:8] + b"{" + b"x" * (n - 1) + data[8 + n :])  # not JSON
    for model in (str(folder), str(folder / "model.safetensors.index.json")):
        r = CliRunner().invoke(app, ["size", model, "--quant", "native"])
        assert r.exit_code == 2, r.output
        assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    # a header length beyond the file (8 bytes of garbage)
    shard.write_bytes((10**12).to_bytes(8, "little") + b"{}")
    r = CliRunner().invoke(app, ["size", str(folder), "--quant", "native"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output


def test_missing_shard_and_truncated_file_exit_2(tmp_path):
    folder = _sharded(tmp_path / "ckpt", _tensors())
    shard = folder / "model-00002-of-00002.safetensors"
    data = shard.read_bytes()
    shard.write_bytes(data[:-100])
    r = CliRunner().invoke(app, ["size", str(folder), "--quant", "native"])
    assert r.exit_code == 2 and "truncated" in r.output and shard.name in r.output
    shard.unlink()
    r = CliRunner().invoke(app, ["size", str(folder), "--quant", "native"])
    assert r.exit_code == 2 and "missing shard" in r.output
    assert len(r.output.strip().splitlines()) == 1


def _raw_header_file(path, header, data: bytes | None = None) -> None:
    """A safetensors file written byte by byte: 8-byte little-endian header length, the header
    JSON, then `data` (by default, the bytes the header's largest data_offsets end reaches)."""
    text = json.dumps(header).encode()
    if data is None:
        ends = [
            v["data_offsets"][1]
            for k, v in header.items()
            if k != "__metadata__" and isinstance(v, dict)
            and isinstance(v.get("data_offsets"), list) and len(v["data_offsets"]) == 2
            and isinstance(v["data_offsets"][1], int) and 0 <= v["data_offsets"][1] < 1 << 20
        ]  # fmt: skip
        data = bytes(max(ends, default=0))
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)


def _raw_folder(folder, header) -> str:
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CONFIG))
    _raw_header_file(folder / "model.safetensors", header)
    return str(folder)


def _bad_size(model: str) -> str:
    r = CliRunner().invoke(app, ["size", model, "--quant", "native", "--json"])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and r.stderr.count("\n") == 1, r.stderr
    return r.stderr


def _tensor(dtype="F16", shape=(2, 2), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape) if isinstance(shape, tuple) else shape,
            "data_offsets": list(offsets) if isinstance(offsets, tuple) else offsets}  # fmt: skip


# Each was a crash (exit 3) or a checkpoint priced from nonsense: 2 x 2 F16 takes 8 bytes.
@pytest.mark.parametrize(
    ("header", "needle"),
    [
        ({"x.weight": _tensor(dtype=5)}, "tensor 'x.weight': unknown dtype 5"),
        ({"x.weight": _tensor(dtype="F99")}, "unknown dtype 'F99'"),
        ({"x.weight": _tensor(shape=[-2, 2])}, "shape must be a list of non-negative integers"),
        ({"x.weight": _tensor(shape="2x2")}, "shape must be a list"),
        ({"x.weight": _tensor(shape=[2.0, 2])}, "shape must be a list"),
        ({"x.weight": _tensor(shape=[True, 2])}, "shape must be a list"),
        ({"x.weight": _tensor(shape=[10**15, 10**15], offsets=(0, 8))}, "more than 1,099,511"),
        ({"x.weight": _tensor(offsets=(8, 0))}, "data_offsets must be two integers 0 <= begin"),
        ({"x.weight": _tensor(offsets=(-8, 0))}, "data_offsets must be"),
        ({"x.weight": _tensor(offsets=(0, 8, 16))}, "data_offsets must be"),
        ({"x.weight": _tensor(offsets="ab")}, "data_offsets must be"),
        ({"x.weight": _tensor(offsets=(0, 6))}, "hold 6 bytes; F16 x [2, 2] takes 8"),
        ({"x.weight": _tensor(dtype="F4", shape=[3], offsets=(0, 2))}, "takes 1.5"),
        ({}, "the header holds no tensors"),
        ({"__metadata__": {"format": "pt"}}, "no tensors"),
        ({"__metadata__": 5, "x.weight": _tensor()}, "'__metadata__' must be a mapping"),
        ({"__metadata__": {"n": 1}, "x.weight": _tensor()}, "'__metadata__' must be a mapping"),
    ],
)
def test_invalid_safetensors_headers_are_refused_naming_file_and_tensor(tmp_path, header, needle):
    folder = _raw_folder(tmp_path / "ckpt", header)
    err = _bad_size(folder)
    assert needle in err and "model.safetensors" in err


def test_a_valid_raw_header_is_read_exactly(tmp_path):
    """The same writer with valid values: 2 x 2 F16 (8 bytes), 4 F4 values in 2 bytes
    (safetensors' F4 is 4 bits an element) and a scalar F32 (shape [], 1 value, 4 bytes)."""
    header = {
        "__metadata__": {"format": "pt"},
        "x.weight": _tensor(),
        "y.weight": _tensor(dtype="F4", shape=[4], offsets=(8, 10)),
        "z": _tensor(dtype="F32", shape=[], offsets=(10, 14)),
    }
    folder = _raw_folder(tmp_path / "ckpt", header)
    r = CliRunner().invoke(app, ["size", folder, "--quant", "native", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)["checkpoint"]
    assert doc["bytes"] == 8 + 2 + 4 and doc["params"] == 4 + 4 + 1


def test_offsets_beyond_the_file_are_truncated(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CONFIG))
    _raw_header_file(folder / "model.safetensors", {"x.weight": _tensor()}, data=bytes(4))
    assert "truncated: the header describes 8 bytes of data, the file has 4" in _bad_size(
        str(folder)
    )


@pytest.mark.parametrize(
    ("index", "needle"),
    [
        ({"weight_map": {"a": ["x"]}}, "weight_map['a'] must be the file name of a shard"),
        ({"weight_map": {"a": 5}}, "weight_map['a'] must be the file name"),
        ({"weight_map": {"a": ""}}, "weight_map['a'] must be"),
        ({"weight_map": {"a": "../model.safetensors"}}, "beside the index"),
        ({"weight_map": {"a": "/etc/passwd"}}, "beside the index"),
        ({"weight_map": {"a": "x\u0000.safetensors"}}, "beside the index"),
        ({"weight_map": [1, 2]}, "'weight_map' must be a mapping"),
        ({"metadata": {}}, "'weight_map' must be a mapping"),
        ([1, 2], "'weight_map' must be a mapping"),
        ({"weight_map": {}}, "'weight_map' is empty: no tensors"),
    ],
)
def test_invalid_safetensors_index_is_refused(tmp_path, index, needle):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CONFIG))
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    for model in (folder, folder / "model.safetensors.index.json"):
        err = _bad_size(str(model))
        assert needle in err and "model.safetensors.index.json" in err


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("name", ["model.safetensors", "model.safetensors.index.json", "shard"])
def test_a_shard_that_is_not_a_regular_file_is_refused_before_it_is_opened(tmp_path, name):
    """A FIFO blocked the header read forever; a folder named like a shard is refused too."""
    import os

    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CONFIG))
    if name == "shard":
        index = {"weight_map": {"x.weight": "model-1.safetensors"}}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
        (folder / "model-1.safetensors").mkdir()
        name = "model-1.safetensors"
    else:
        os.mkfifo(folder / name)
    err = _bad_size(str(folder))
    assert f"{name}: not a regular file" in err


def _gguf(path, split_q6=True):
    """A qwen3moe GGUF: 2 layers, hidden 256, 8 experts of width 256, Q4_K experts, Q6_K
    ffn_down and output (as llama.cpp's Q4_K_M mix), F32 norms."""
    Q = gguf.GGMLQuantizationType
    w = gguf.GGUFWriter(str(path), "qwen3moe")
    a = "qwen3moe"
    for key, value in {"block_count": 2, "embedding_length": 256, "feed_forward_length": 512,
                       "attention.head_count": 4, "attention.head_count_kv": 2,
                       "attention.key_length": 64, "attention.value_length": 64,
                       "expert_count": 8, "expert_used_count": 2,
                       "expert_feed_forward_length": 256, "context_length": 4096,
                       "vocab_size": 512}.items():  # fmt: skip
        w.add_uint32(f"{a}.{key}", value)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    expected = {"params": 0, "bytes": 0}

    def add(name, rows, cols, qtype):
        if qtype == Q.F32:
            arr = np.zeros((rows, cols) if rows > 1 else (cols,), dtype=np.float32)
            w.add_tensor(name, arr)
            nbytes = arr.nbytes
        else:
            block, size = gguf.GGML_QUANT_SIZES[qtype]
            nbytes = rows * cols // block * size
            w.add_tensor(name, np.zeros(nbytes, dtype=np.uint8),
                         raw_shape=(rows, cols // block * size), raw_dtype=qtype)  # fmt: skip
        expected["params"] += rows * cols
        expected["bytes"] += nbytes

    add("token_embd.weight", 512, 256, Q.Q4_K)
    add("output.weight", 512, 256, Q.Q6_K)
    add("output_norm.weight", 1, 256, Q.F32)
    for i in range(2):
        b = f"blk.{i}"
        for n, rows in (("attn_q", 256), ("attn_k", 128), ("attn_v", 128), ("attn_output", 256)):
            add(f"{b}.{n}.weight", rows, 256, Q.Q6_K if n == "attn_v" else Q.Q4_K)
        add(f"{b}.attn_norm.weight", 1, 256, Q.F32)
        add(f"{b}.ffn_norm.weight", 1, 256, Q.F32)
        add(f"{b}.attn_q_norm.weight", 1, 64, Q.F32)
        add(f"{b}.attn_k_norm.weight", 1, 64, Q.F32)
        add(f"{b}.ffn_gate_inp.weight", 8, 256, Q.F32)
        add(f"{b}.ffn_gate_exps.weight", 8 * 256, 256, Q.Q4_K)
        add(f"{b}.ffn_up_exps.weight", 8 * 256, 256, Q.Q4_K)
        add(f"{b}.ffn_down_exps.weight", 8 * 256, 256, Q.Q6_K if split_q6 else Q.Q4_K)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return expected


def test_gguf_mixed_q4k_q6k_is_exact_and_has_its_architecture(tmp_path):
    path = tmp_path / "tiny-Q4_K_M.gguf"
    expected = _gguf(path)
    spec = load_model(str(path))
    ckpt = spec.checkpoint
    assert ckpt.source == "gguf" and ckpt.file_type == "MOSTLY_Q4_K_M"
    assert ckpt.total_params == expected["params"]
    assert ckpt.total_bytes == expected["bytes"]
    dtypes = dict(ckpt.bytes_by_dtype)
    assert set(dtypes) == {"Q4_K", "Q6_K", "F32"}
    # Architecture from the metadata: KV per token = 2 (K,V) x 2 layers x 2 KV heads x 64 x 2 B
    assert spec.family == "qwen3_moe" and spec.num_layers == 2
    assert kv_bytes_per_token(spec, "bf16") == 2 * 2 * 2 * 64 * 2
    # and the analytic count of that architecture agrees with the tensor table
    report = size_model(spec, resolve_scheme("native", spec))
    assert report.params.total == expected["params"]
    assert report.memory.weights_bytes == expected["bytes"]


def test_gguf_corrupt_or_truncated_exits_2(tmp_path):
    path = tmp_path / "m.gguf"
    _gguf(path)
    data = path.read_bytes()
    for name, content in (
        ("trunc.gguf", data[: len(data) // 3]),
        ("junk.gguf", b"GGUF" + b"\0" * 7),
    ):
        bad = tmp_path / name
        bad.write_bytes(content)
        r = CliRunner().invoke(app, ["size", str(bad)])
        assert r.exit_code == 2, r.output
        assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_gguf_split_parts_are_read_together(tmp_path):
    one = tmp_path / "a.gguf"
    expected = _gguf(one)
    # Two parts of the same model, as gguf-split names them; parts hold disjoint tensors in
    # reality, here each part is a whole small model, so the tally is twice one part's.
    shutil.copy(one, tmp_path / "m-00001-of-00002.gguf")
    shutil.copy(one, tmp_path / "m-00002-of-00002.gguf")
    ckpt = load_model(str(tmp_path / "m-00001-of-00002.gguf")).checkpoint
    assert ckpt.files == ("m-00001-of-00002.gguf", "m-00002-of-00002.gguf")
    assert ckpt.total_bytes == 2 * expected["bytes"]
    (tmp_path / "m-00002-of-00002.gguf").unlink()
    r = CliRunner().invoke(app, ["size", str(tmp_path / "m-00001-of-00002.gguf")])
    assert r.exit_code == 2 and "missing split part" in r.output


def test_budget_reads_a_gguf_beside_it(tmp_path):
    _gguf(tmp_path / "tiny.gguf")
    budget = tmp_path / "budgets.yaml"
    budget.write_text(
        "budgets:\n  - name: tiny\n    model: tiny.gguf\n    quant: native\n    gpu: h100-sxm\n"
        "    gpus: 1\n    limits: {max_weights_gb: 1}\n"
    )
    r = CliRunner().invoke(app, ["check", str(budget), "--format", "json"])
    assert r.exit_code == 0, r.output


def test_gguf_works_in_latency_and_plan(tmp_path):
    path = tmp_path / "tiny-Q4_K_M.gguf"
    expected = _gguf(path)
    r = CliRunner().invoke(
        app, ["latency", str(path), "--gpu", "h100", "--quant", "native", "--json"]
    )
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["plan", str(path), "--gpu", "h100", "--quant", "native"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["size", str(path), "--quant", "native", "--json"])
    doc = json.loads(r.output)
    assert doc["weights_source"] == "gguf"
    assert doc["memory"]["weights_bytes"] == expected["bytes"]
    assert doc["checkpoint"]["file_type"] == "MOSTLY_Q4_K_M"


def test_gguf_glm4moe_with_its_mtp_block(tmp_path):
    """GLM-4.5 as llama.cpp writes it: block_count = 2 main layers + 1 nextn (MTP) block, the
    first layer dense (leading_dense_block_count 1), 4 experts + 1 shared, qkv bias."""
    h, heads, kv_heads, head_dim, experts, width, vocab = 256, 4, 2, 64, 4, 256, 512
    w = gguf.GGUFWriter(str(tmp_path / "glm.gguf"), "glm4moe")
    a = "glm4moe"
    for key, value in {"block_count": 3, "nextn_predict_layers": 1, "embedding_length": h,
                       "feed_forward_length": 512, "attention.head_count": heads,
                       "attention.head_count_kv": kv_heads, "attention.key_length": head_dim,
                       "attention.value_length": head_dim, "expert_count": experts,
                       "expert_used_count": 2, "expert_shared_count": 1,
                       "expert_feed_forward_length": width, "leading_dense_block_count": 1,
                       "context_length": 4096, "vocab_size": vocab}.items():  # fmt: skip
        w.add_uint32(f"{a}.{key}", value)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    sizes: dict[str, int] = {}

    def add(name, *shape):
        arr = np.zeros(shape, dtype=np.float32)
        w.add_tensor(name, arr)
        sizes[name] = arr.size

    add("token_embd.weight", vocab, h)
    add("output.weight", vocab, h)
    add("output_norm.weight", h)
    for i in range(3):
        b = f"blk.{i}"
        add(f"{b}.attn_q.weight", heads * head_dim, h)
        add(f"{b}.attn_q.bias", heads * head_dim)
        for n in ("attn_k", "attn_v"):
            add(f"{b}.{n}.weight", kv_heads * head_dim, h)
            add(f"{b}.{n}.bias", kv_heads * head_dim)
        add(f"{b}.attn_output.weight", h, heads * head_dim)
        add(f"{b}.attn_norm.weight", h)
        add(f"{b}.post_attention_norm.weight", h)
        if i == 0:
            for n in ("ffn_gate", "ffn_up"):
                add(f"{b}.{n}.weight", 512, h)
            add(f"{b}.ffn_down.weight", h, 512)
            continue
        add(f"{b}.ffn_gate_inp.weight", experts, h)
        add(f"{b}.exp_probs_b.bias", experts)
        for n in ("ffn_gate_exps", "ffn_up_exps"):
            add(f"{b}.{n}.weight", experts, width, h)
        add(f"{b}.ffn_down_exps.weight", experts, h, width)
        for n in ("ffn_gate_shexp", "ffn_up_shexp"):
            add(f"{b}.{n}.weight", width, h)
        add(f"{b}.ffn_down_shexp.weight", h, width)
    add("blk.2.nextn.eh_proj.weight", h, 2 * h)
    for n in ("enorm", "hnorm", "shared_head_norm"):
        add(f"blk.2.nextn.{n}.weight", h)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    spec = load_model(str(tmp_path / "glm.gguf"))
    ckpt = spec.checkpoint
    assert ckpt.file_type == "MOSTLY_Q8_0" and set(dict(ckpt.bytes_by_dtype)) == {"F32"}
    assert ckpt.total_params == sum(sizes.values())
    assert ckpt.total_bytes == 4 * sum(sizes.values())  # F32
    # the MTP block is the last of block_count, not a third main layer
    assert spec.family == "glm4_moe" and spec.num_layers == 2 and spec.mtp_layers == 1
    mtp = sum(n for name, n in sizes.items() if name.startswith("blk.2."))
    assert ckpt.component_params()["mtp"] == mtp
    # KV per token (main layers only): 2 (K,V) x 2 layers x 2 KV heads x 64 x 2 B = 1,024
    assert kv_bytes_per_token(spec, "bf16") == 2 * 2 * 2 * 64 * 2
    # the analytic count of the architecture read from the metadata equals the table
    counts = size_model(spec, resolve_scheme("native", spec)).params
    assert counts.total_with_mtp == ckpt.total_params
    assert counts.breakdown["mtp"] == mtp


@pytest.mark.parametrize(
    ("name", "component"),
    [
        ("blk.3.ffn_gate.7.weight", "routed_experts"),  # per-expert GGUF (early Mixtral files)
        ("blk.3.ffn_gate_exps.weight", "routed_experts"),
        ("blk.3.ffn_gate.weight", "dense_ffn"),
        ("blk.3.ffn_down_shexp.weight", "shared_experts"),
        ("mtp.blk.61.attn_q.weight", "mtp"),
        ("model.layers.0.mlp.experts.5.down_proj.weight_scale_inv", "routed_experts"),
        ("model.layers.0.mlp.gate.weight", "router"),
    ],
)
def test_tensor_components(name, component):
    from moeplan.model.checkpoint import component_of

    assert component_of(name) == component


def test_unmodelled_quant_checkpoint_sizes_at_an_explicit_quant(tmp_path):
    """A checkpoint whose quant_method moeplan does not model (bitsandbytes): --quant bf16 sizes
    it, the headers are compared with bf16 and say so; native still asks for --quant."""
    tensors = _tensors()
    folder = _sharded(tmp_path / "bnb", tensors)
    config = {**CONFIG, "quantization_config": {"quant_method": "bitsandbytes"}}
    (folder / "config.json").write_text(json.dumps(config))
    r = CliRunner().invoke(app, ["size", str(folder), "--quant", "bf16", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["weights_source"] == "analytic"
    c = doc["checkpoint"]
    assert c["analytic_quant"] == "bf16" and c["bytes"] == _header_bytes(folder)
    # fp16 headers, bf16 estimate: the same 2 bytes per weight
    assert c["analytic_bytes"] == c["bytes"] == 2 * sum(a.size for a in tensors.values())
    r = CliRunner().invoke(app, ["size", str(folder), "--quant", "native"])
    assert r.exit_code == 2 and "bitsandbytes" in r.output


def test_quantization_read_from_the_tensors(tmp_path):
    """No quantization_config: F8_E4M3 weights with weight_scale_inv read as fp8-block; a
    compressed-tensors NVFP4 pack (U8 weight_packed, two values a byte, F8 group-16 scales)
    counts two parameters per byte."""
    fp8: dict[str, tuple[str, np.ndarray]] = {}
    for name, a in _tensors().items():
        if ".experts." in name:
            fp8[name] = ("float8_e4m3fn", np.zeros(a.shape, dtype=np.uint8))
            fp8[name + "_scale_inv"] = ("float32", np.zeros((1, 1), dtype=np.float32))
        else:
            fp8[name] = ("bfloat16", a.view(np.uint16))
    spec = load_model(str(_sharded_raw(tmp_path / "fp8", fp8, CONFIG)))
    assert spec.native_quant == "fp8-block"
    assert any("quantization from the tensors" in n for n in spec.reader_notes)

    nv: dict[str, tuple[str, np.ndarray]] = {}
    for name, a in _tensors().items():
        if ".experts." in name:
            rows, cols = a.shape
            base = name.removesuffix(".weight")
            nv[base + ".weight_packed"] = ("uint8", np.zeros((rows, cols // 2), dtype=np.uint8))
            nv[base + ".weight_scale"] = (
                "float8_e4m3fn",
                np.zeros((rows, cols // 16), dtype=np.uint8),
            )
            nv[base + ".weight_global_scale"] = ("float32", np.zeros((1,), dtype=np.float32))
        else:
            nv[name] = ("bfloat16", a.view(np.uint16))
    folder = _sharded_raw(tmp_path / "nvfp4", nv, CONFIG)
    spec = load_model(str(folder))
    ckpt = spec.checkpoint
    assert spec.native_quant == "nvfp4"
    # routed experts: 196,608 weights in 98,304 bytes + 12,288 F8 scales + 24 x 4 B global scales
    assert ckpt.component_params()["routed_experts"] == 4 * 3 * 64 * 128 * 2 == 196_608
    assert ckpt.component_bytes()["routed_experts"] == 196_608 // 2 + 196_608 // 16 + 24 * 4
    assert ckpt.total_params == sum(a.size for a in _tensors().values())
    assert ckpt.total_bytes == _header_bytes(folder)


def test_modelopt_nvfp4_weights_are_two_values_a_byte(tmp_path):
    """ModelOpt NVFP4 (quant_algo NVFP4 in quantization_config): expert 'weight' tensors are
    U8 with two FP4 values a byte, beside F8 weight_scale (one per 16) and F32 weight_scale_2."""
    nv: dict[str, tuple[str, np.ndarray]] = {}
    for name, a in _tensors().items():
        if ".experts." in name:
            rows, cols = a.shape
            base = name.removesuffix(".weight")
            nv[name] = ("uint8", np.zeros((rows, cols // 2), dtype=np.uint8))
            nv[base + ".weight_scale"] = ("float8_e4m3fn", np.zeros((rows, cols // 16), np.uint8))
            nv[base + ".weight_scale_2"] = ("float32", np.zeros((), dtype=np.float32))
        else:
            nv[name] = ("bfloat16", a.view(np.uint16))
    config = {**CONFIG, "quantization_config": {"quant_method": "modelopt",
              "quant_algo": "NVFP4", "exclude_modules": ["lm_head", "*self_attn*"]}}  # fmt: skip
    folder = _sharded_raw(tmp_path / "modelopt", nv, config)
    ckpt = load_model(str(folder)).checkpoint
    # 196,608 expert weights in 98,304 bytes + 12,288 F8 scales + 24 x 4 B second-level scales
    assert ckpt.component_params()["routed_experts"] == 196_608
    assert ckpt.component_bytes()["routed_experts"] == 98_304 + 12_288 + 24 * 4
    assert ckpt.total_params == sum(a.size for a in _tensors().values())
    assert ckpt.total_bytes == _header_bytes(folder)
