"""Each mapped GGUF architecture: a GGUF written here with the metadata keys and tensor names and
shapes of a file llama.cpp's convert_hf_to_gguf.py wrote from a tiny random model of that HF
architecture (tests/data/gguf/*.json, with the tiny model's config.json; each file's "source"
says how it was made). The spec read from the GGUF equals the spec read from the
config.json: parameters per component, total and active, KV bytes per token, recurrent state;
and the analytic count equals the GGUF's tensor table."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from moeplan.memory.cache import state_bytes_per_sequence
from moeplan.memory.estimate import kv_bytes_per_token
from moeplan.model.catalog import load_model
from moeplan.model.params import count_params

gguf = pytest.importorskip("gguf")

DATA = Path(__file__).parent / "data" / "gguf"
FIXTURES = sorted(p.stem for p in DATA.glob("*.json"))
# an MTP block in the GGUF that the config does not name (none today: Qwen3-Next's config.json
# names no MTP module, and its reader counts the one its checkpoints hold, as vLLM builds it)
MTP_ONLY_IN_GGUF: set[str] = set()
# the reverse: Qwen4-Exp's config.json names its MTP head (mtp_num_hidden_layers) and the
# checkpoint holds it, but llama.cpp's Qwen4ExpTextModel (no_mtp) drops every mtp.* tensor and
# writes no nextn key: the GGUF has no MTP block; a Qwen3-Next GGUF converted without --mtp
# (no nextn blocks) holds none of the one its config implies
MTP_ONLY_IN_CONFIG = {"qwen4exp-ple-mtp", "qwen3next"}
# tensors llama.cpp's converter adds from the config (Phi-3.5-MoE's LongRoPE factors): stored,
# not weights of the model
ADDED = ("rope_factors_long.weight", "rope_factors_short.weight", "rope_freqs.weight")
# copies an MTP block stores of weights it shares with the main model (DeepSeek-V3/V3.2's
# model.layers.61.embed_tokens and shared_head.head: tech report sec. 2.2 shares them;
# Step-3.5-Flash's transformer.shared_head.output per MTP layer: Megatron-Bridge's Step35Bridge
# writes each from the lm_head)
SHARED_COPIES = ("nextn.embed_tokens.weight", "nextn.shared_head_head.weight")
# fixtures whose MTP embedding is a weight of its own, not a copy: dots3-note's
# model.mtp.embed_tokens (vLLM Dot3NoteMTP has_own_embed_tokens; the model card's 1.13B MTP
# holds it), which Dots3NoteModel writes as nextn.embed_tokens
OWN_MTP_EMBEDDING = {"dots3note-mtp"}
# lookup tables stored as tensors that are buffers of the model, not weights: DeepSeek-V4's
# hash-routed layers' token-id -> experts table (DeepseekV4HashRouter.tid2eid, I32 in the GGUF)
TABLES = ("ffn_gate_tid2eid.weight",)
# one GGUF vector for two checkpoint weights: Kimi-K3's Attention Residual <x>_res_norm and
# <x>_res_proj (both [hidden]) are only used as their product, which KimiK3Model writes
FUSED_PAIRS = ("attn_res_score.weight", "ffn_res_score.weight", "output_res_score.weight")
# buffers a checkpoint stores that are no parameters of the model: Gemma 4's per-layer
# layer_scalar (Gemma4TextDecoderLayer: nn.Buffer(torch.ones(1)), one number a layer; torch's
# parameters() and moeplan's count leave it out)
BUFFERS = ("layer_output_scale.weight",)


def write_gguf(doc: dict, path: Path) -> dict[str, int]:
    """A GGUF with the fixture's keys and F16 zero tensors of its GGML shapes; numel per name."""
    w = gguf.GGUFWriter(str(path), doc["arch"])
    vt = gguf.GGUFValueType
    for key, (types, value) in doc["keys"].items():
        if key.endswith(".architecture"):
            continue
        kind, _, sub = types.partition(":")
        w.add_key_value(key, value, vt[kind], vt[sub] if sub else None)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    sizes = {}
    for name, shape in doc["tensors"].items():
        arr = np.zeros(tuple(reversed(shape)), dtype=np.float16)  # numpy order: ne[0] last
        w.add_tensor(name, arr)
        sizes[name] = arr.size
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return sizes


def load_altered(
    tmp_path: Path,
    name: str,
    keys: dict | None = None,
    drop: tuple[str, ...] = (),
    tensors: dict | None = None,
) -> None:
    """Load fixture `name` as a GGUF with metadata keys (under its arch) set to [types, value]
    or dropped, and tensors [GGML shape] added or replaced (the refusal tests' files)."""
    doc = json.loads((DATA / f"{name}.json").read_text())
    for key in drop:
        del doc["keys"][f"{doc['arch']}.{key}"]
    for key, value in (keys or {}).items():
        doc["keys"][f"{doc['arch']}.{key}"] = value
    doc["tensors"].update(tensors or {})
    write_gguf(doc, tmp_path / "x.gguf")
    load_model(str(tmp_path / "x.gguf"))


@pytest.mark.parametrize("name", FIXTURES)
def test_gguf_spec_equals_config_spec(tmp_path, name):
    doc = json.loads((DATA / f"{name}.json").read_text())
    sizes = write_gguf(doc, tmp_path / f"{name}.gguf")
    (tmp_path / "config.json").write_text(json.dumps(doc["config"]))
    from_gguf = load_model(str(tmp_path / f"{name}.gguf"))
    from_config = load_model(str(tmp_path / "config.json"))
    assert from_gguf.checkpoint is not None
    assert from_gguf.checkpoint.total_params == sum(sizes.values())
    got, want = count_params(from_gguf), count_params(from_config)
    # a vision-language model's GGUF is its text model (the tower goes to an mmproj file)
    assert got.towers == {}
    want = replace(want, towers={})
    # the analytic count of the architecture read from the metadata equals the tensor table
    copies = SHARED_COPIES[1:] if name in OWN_MTP_EMBEDDING else SHARED_COPIES
    assert got.total_with_mtp == sum(
        n * (2 if t.endswith(FUSED_PAIRS) else 1)
        for t, n in sizes.items()
        if not t.endswith(ADDED + copies + TABLES + BUFFERS)
    )
    if name in MTP_ONLY_IN_GGUF:
        mtp = sum(n for t, n in sizes.items() if t.startswith(f"blk.{from_gguf.num_layers}."))
        assert got.breakdown["mtp"] == mtp > 0 == want.breakdown["mtp"]
        assert {**got.breakdown, "mtp": 0} == want.breakdown
    elif name in MTP_ONLY_IN_CONFIG:
        assert got.breakdown["mtp"] == 0 < want.breakdown["mtp"]
        assert got == replace(want, breakdown={**want.breakdown, "mtp": 0})
    else:
        assert got == want
    assert from_gguf.num_layers == from_config.num_layers
    mtp_in_one = MTP_ONLY_IN_GGUF | MTP_ONLY_IN_CONFIG
    assert from_gguf.mtp_layers == from_config.mtp_layers or name in mtp_in_one
    assert kv_bytes_per_token(from_gguf, "bf16") == kv_bytes_per_token(from_config, "bf16")
    assert state_bytes_per_sequence(from_gguf, "fp32") == state_bytes_per_sequence(
        from_config, "fp32"
    )
