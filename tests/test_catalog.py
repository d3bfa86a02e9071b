"""The catalog and the config loaders: names, aliases, HF config.json, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moeplan.errors import SpecError, UnknownNameError
from moeplan.hardware.gpus import gpu_catalog, resolve_gpu
from moeplan.model.catalog import catalog_ids, load_model
from moeplan.yamlio import load_yaml_text

from .conftest import SHARED_REFERENCE

EXPECTED_IDS = {
    "mixtral-8x7b",
    "mixtral-8x22b",
    "deepseek-v3",
    "deepseek-r1",
    "deepseek-v2",
    "deepseek-v2-lite",
    "grok-1",
    "llama-4-scout",
    "llama-4-maverick",
    "qwen3-235b-a22b",
    "qwen3-30b-a3b",
    "qwen2-57b-a14b",
    "qwen1.5-moe-a2.7b",
    "gpt-oss-120b",
    "gpt-oss-20b",
    "dbrx",
    "kimi-k2",
    "glm-4.5",
    "glm-4.5-air",
    "olmoe-1b-7b",
    "phi-3.5-moe",
}


# shared/reference/configs-2026 (folder names are the catalog ids)
IDS_2026 = {
    "qwen3-next-80b-a3b",
    "qwen3.5-397b-a17b",
    "deepseek-v3.2",
    "glm-5",
    "kimi-k2.5",
    "minimax-m2.5",
    "nemotron-3-nano-30b-a3b",
    "mimo-v2-flash",
    "longcat-flash-chat",
    "ling-mini-2.0",
    "ernie-4.5-21b-a3b",
    "jamba-v0.1",
    "qwen3-vl-30b-a3b",
    "deepseek-moe-16b",
    "ling-lite",
}


# entries whose config.json is not in shared/reference: each cites the public copies it is from
IDS_OUTSIDE_REFERENCE = {"qwen3.5-35b-a3b", "qwen3.5-122b-a10b"}


# current models whose published config.json is copied in NVIDIA's AIConfigurator
# (tools/catalog_aic.py writes them from a checkout at one commit)
IDS_AIC = {
    "deepseek-v4-flash",
    "deepseek-v4-pro",
    "gemma-4-26b-a4b",
    "glm-5.2",
    "kimi-k3",
    "minimax-m2.7",
    "minimax-m3",
    "nemotron-3-super-120b-a12b",
    "nemotron-3-ultra-550b-a55b",
    "qwen3-coder-480b-a35b",
    "qwen3-vl-235b-a22b",
}

# published config.json files this repository keeps (tests/data), written by the same tool
IDS_LOCAL = {"grok-2": "tests/data/configs-grok/grok-2.json"}


def test_catalog_has_every_reference_model():
    assert set(catalog_ids()) == (
        EXPECTED_IDS | IDS_2026 | IDS_OUTSIDE_REFERENCE | IDS_AIC | set(IDS_LOCAL)
    )


def test_local_entries_copy_their_file_verbatim():
    """Grok-2's entry holds tests/data/configs-grok/grok-2.json field for field and cites it."""
    import yaml

    from moeplan.model.catalog import catalog_entries

    root = Path(__file__).resolve().parents[1]
    for entry in catalog_entries():
        if entry.id not in IDS_LOCAL:
            continue
        doc = yaml.safe_load(entry.path.read_text())
        assert doc["config"] == json.loads((root / IDS_LOCAL[entry.id]).read_text())
        assert IDS_LOCAL[entry.id] in doc["config_source"][0]
        assert doc["official_params"]["source"]


def test_aiconfigurator_entries_cite_the_file_at_one_commit():
    """Each entry names the published file it copies (repository, commit, path, the file name
    AIConfigurator gives it: org--repo_config.json of its hf_repo) and a publisher's figure."""
    import re

    import yaml

    from moeplan.model.catalog import catalog_entries

    for entry in catalog_entries():
        if entry.id not in IDS_AIC:
            continue
        doc = yaml.safe_load(entry.path.read_text())
        (source,) = doc["config_source"]
        m = re.fullmatch(
            r"github:ai-dynamo/aiconfigurator@[0-9a-f]{40} "
            r"aic-core/src/aiconfigurator_core/model_configs/(.+)_config\.json",
            source,
        )
        assert m, source
        assert m.group(1).split("--", 1)[0] == doc["hf_repo"].split("/")[0], entry.id
        assert doc["official_params"]["source"] and doc["config"]["architectures"]


def test_entries_outside_the_reference_cite_their_config_and_match_its_family():
    """Qwen3.5-35B-A3B and -122B-A10B come from public copies of their config.json (the 122B
    verbatim, the 35B assembled from its model card and two agreeing copies): each names them,
    and each has exactly the keys of the family's published file (Qwen3.5-397B-A17B's)."""
    import yaml

    from moeplan.model.catalog import catalog_entries

    entries = {e.id: yaml.safe_load(e.path.read_text()) for e in catalog_entries()}
    family = entries["qwen3.5-397b-a17b"]["config"]
    for cid in IDS_OUTSIDE_REFERENCE:
        entry = entries[cid]
        assert entry["config_source"] and all(
            "github:" in s or "huggingface.co" in s or "code index" in s
            for s in entry["config_source"]
        )
        config = entry["config"]
        for block in ("text_config", "vision_config"):
            assert set(config[block]) == set(family[block]), (cid, block)
        assert set(config) == set(family)
        text = config["text_config"]
        assert len(text["layer_types"]) == text["num_hidden_layers"]
        assert config["vision_config"]["out_hidden_size"] == text["hidden_size"]


@pytest.mark.skipif(not SHARED_REFERENCE.is_dir(), reason="shared/reference not beside the repo")
def test_catalog_configs_are_the_published_ones():
    """Every config field in model_specs/ equals shared/reference/models.yaml (fills excepted)."""
    from moeplan.model.catalog import catalog_entries

    ref = {
        m["id"]: m
        for m in load_yaml_text((SHARED_REFERENCE / "models.yaml").read_text(), "ref")["models"]
    }
    for entry in catalog_entries():
        doc = load_yaml_text(entry.path.read_text(), str(entry.path))
        if entry.id in IDS_2026:
            path = SHARED_REFERENCE / "configs-2026" / entry.id / "config.json"
            assert doc["config"] == json.loads(path.read_text()), entry.id
            continue
        if entry.id in IDS_OUTSIDE_REFERENCE | IDS_AIC | set(IDS_LOCAL):  # cited copies, above
            continue
        published = ref[doc["name"]]["config"]
        for key, value in published.items():
            if value is None and key in doc["config"] and doc["config"][key] is not None:
                assert any(key in n for n in doc["notes"]), f"{entry.id}: fill of {key} not noted"
                continue
            assert doc["config"][key] == value, f"{entry.id}: {key}"


@pytest.mark.parametrize(
    "name",
    [
        "Mixtral-8x7B",
        "MIXTRAL-8X22B",
        "deepseek-r1",
        "R1",
        "mistralai/Mixtral-8x7B-v0.1",
        "llama4-scout",
        "GPT-OSS-120B",
    ],
)
def test_names_are_case_insensitive_with_aliases(name):
    assert load_model(name).name in EXPECTED_IDS


def test_unknown_model_suggests_close_names():
    with pytest.raises(UnknownNameError) as exc:
        load_model("mixtral-8x8b")
    assert "mixtral-8x7b" in exc.value.suggestions
    assert "did you mean" in str(exc.value)


def test_r1_is_v3_architecture():
    assert load_model("deepseek-r1").layers == load_model("deepseek-v3").layers


def test_hf_config_file_and_folder(tmp_path, tiny_config, write_config):
    path = write_config(tiny_config)
    assert load_model(str(path)).hidden_size == 64
    assert load_model(str(tmp_path)).num_layers == 2


def test_llama4_text_config_nesting(write_config):
    cfg = {
        "model_type": "llama4",
        "text_config": {
            "hidden_size": 64,
            "intermediate_size": 32,
            "intermediate_size_mlp": 128,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "num_hidden_layers": 4,
            "num_local_experts": 4,
            "num_experts_per_tok": 1,
            "interleave_moe_layer_step": 2,
            "vocab_size": 100,
            "attention_chunk_size": 64,
        },
    }
    spec = load_model(str(write_config(cfg)))
    assert [layer.ffn for layer in spec.layers] == ["dense", "moe", "dense", "moe"]
    assert spec.moe.num_shared_experts == 1
    assert [layer.window for layer in spec.layers] == [64, 64, 64, None]


def test_missing_field_is_named(tiny_config, write_config):
    del tiny_config["num_local_experts"]
    with pytest.raises(SpecError, match="num_local_experts"):
        load_model(str(write_config(tiny_config)))


def test_negative_field_is_rejected(tiny_config, write_config):
    tiny_config["hidden_size"] = -64
    with pytest.raises(SpecError, match="hidden_size"):
        load_model(str(write_config(tiny_config)))


def test_unsupported_model_type(write_config):
    with pytest.raises(SpecError, match="unsupported model_type 'mamba'"):
        load_model(str(write_config({"model_type": "mamba"})))


def test_unknown_family_with_per_layer_blocks_is_refused(write_config):
    """DeciLM NAS (Llama-3.3-Nemotron-Super-49B): layers without attention and per-layer FFN
    widths in block_configs; read from the standard fields it would be silently wrong."""
    block = {"attention": {"n_heads_in_group": 8, "no_op": False}, "ffn": {"ffn_mult": 5.25}}
    cfg = {
        "model_type": "nemotron-nas",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "vocab_size": 100,
        "block_configs": [block, {**block, "attention": {"no_op": True}}],
    }
    with pytest.raises(SpecError, match="not understood: block_configs"):
        load_model(str(write_config(cfg)))


def test_malformed_json(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(SpecError, match="malformed JSON"):
        load_model(str(path))


def test_malformed_yaml(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("config: [unclosed\n")
    with pytest.raises(Exception, match="malformed YAML"):
        load_model(str(path))


def test_catalog_style_yaml_file(tmp_path, tiny_config):
    import yaml

    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"name": "mine", "config": tiny_config}))
    assert load_model(str(path)).num_layers == 2


def test_gpu_catalog_ids_and_aliases():
    for gid in [
        "h100-sxm",
        "h200",
        "b200",
        "a100-80gb",
        "l40s",
        "rtx-4090",
        "mi300x",
        "h20",
        "gb10",
    ]:
        assert gid in gpu_catalog()
    assert resolve_gpu("H100").id == "h100-sxm"
    with pytest.raises(UnknownNameError) as exc:
        resolve_gpu("h1000")
    assert exc.value.suggestions


def test_gpu_specs_come_from_the_reference():
    """gpus.yaml: H100 SXM 3350 GB/s, 989 dense BF16 TFLOPS; B200 7700 GB/s."""
    h100 = resolve_gpu("h100-sxm")
    assert h100.mem_bw_bytes_per_s == 3350e9
    assert h100.bf16_flops == 989e12
    assert resolve_gpu("b200").mem_bw_bytes_per_s == 7700e9


def test_json_round_trip_of_spec_dump(tmp_path):
    # a config dumped from the catalog loads again from a path with the same counts
    from moeplan.model.catalog import catalog_entries
    from moeplan.model.params import count_params

    entry = next(e for e in catalog_entries() if e.id == "qwen3-30b-a3b")
    cfg = load_yaml_text(entry.path.read_text(), "x")["config"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    assert (
        count_params(load_model(str(path))).total == count_params(load_model("qwen3-30b-a3b")).total
    )


def test_native_precision_from_quantization_config(write_config, tiny_config):
    from moeplan.errors import MoeplanError
    from moeplan.memory.quant import resolve_scheme

    gptq = load_model(
        str(
            write_config(
                {
                    **tiny_config,
                    "quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128},
                },
                "gptq.json",
            )
        )
    )
    assert resolve_scheme("native", gptq).formats["routed_experts"] == "int4"
    other = load_model(
        str(
            write_config(
                {**tiny_config, "quantization_config": {"quant_method": "hqq"}}, "hqq.json"
            )
        )
    )
    with pytest.raises(MoeplanError, match="quant_method 'hqq' is not modelled"):
        resolve_scheme("native", other)
    assert resolve_scheme("int4", other)  # an explicit --quant still works
    assert load_model("deepseek-v3").native_quant == "fp8-block"
    assert load_model("gpt-oss-120b").native_quant == "bf16,experts=mxfp4"
