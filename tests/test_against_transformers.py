"""Where transformers is installed (it is not a dependency), build each 2025-2026 model on
torch's meta device from its published config and compare moeplan's counts with the real
tensors, to the parameter (STYLE.md: check a hand count against numel())."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moeplan.model.hf_config import spec_from_config
from moeplan.model.params import count_params
from tests.test_architectures import DATA

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

IN_TRANSFORMERS = [
    "deepseek-v3.2",
    "ernie-4.5-21b-a3b",
    "glm-5",
    "jamba-v0.1",
    "kimi-k2.5",
    "mimo-v2-flash",
    "minimax-m2.5",
    "moonlight-16b-a3b",
    "nemotron-3-nano-30b-a3b",
    "qwen3-next-80b-a3b",
    "qwen3-vl-30b-a3b",
    "qwen3.5-397b-a17b",
    "longcat-flash-chat",
]
TOWER = ("visual", "vision", "mm_projector")


def _build(raw: dict):
    drop = ("auto_map", "quantization_config")
    cfg = {k: v for k, v in raw.items() if k not in drop}
    if isinstance(cfg.get("text_config"), dict):
        cfg["text_config"] = {k: v for k, v in cfg["text_config"].items() if k not in drop}
    config = transformers.AutoConfig.for_model(**cfg)
    with torch.device("meta"):
        if "vision_config" in cfg:
            return transformers.AutoModelForImageTextToText.from_config(config)
        return transformers.AutoModelForCausalLM.from_config(config)


@pytest.mark.parametrize("name", IN_TRANSFORMERS)
def test_counts_equal_the_modeling_code(name):
    raw = json.loads((DATA / f"{name}.json").read_text())
    try:
        model = _build(raw)
    except (ValueError, KeyError, ImportError) as exc:  # an older transformers
        pytest.skip(f"transformers {transformers.__version__} cannot build {name}: {exc}")
    # parameters, plus the router score-correction biases (buffers in transformers, stored in
    # the checkpoints); MTP layers are not built by transformers
    sizes = {n: p.numel() for n, p in model.named_parameters()}
    sizes |= {n: b.numel() for n, b in model.named_buffers() if "e_score_correction" in n}
    tower = sum(v for k, v in sizes.items() if any(t in k for t in TOWER))
    text = sum(sizes.values()) - tower
    c = count_params(spec_from_config(raw, name))
    if name == "longcat-flash-chat":
        # LongcatFlashExperts allocates gate_up_proj for the 256 zero-computation experts too
        # (never used, not in the checkpoint): 28 layers x 256 x 2 x 2048 x 6144 more
        text -= 28 * 256 * 2 * 2048 * 6144
    assert c.total == text
    assert c.towers_total == tower


AIC_B = Path(__file__).parent / "data" / "configs-aic-b"


@pytest.mark.parametrize("name", sorted(p.name for p in AIC_B.glob("*.json")))
def test_published_dense_qwen35_and_nemotron3(name):
    """tests/data/configs-aic-b (Qwen3.5/3.6-27B with the vision tower, Nemotron 3 Super,
    Ultra, Lightning): moeplan's total and tower against the built model."""
    raw = json.loads((AIC_B / name).read_text())
    model = _build(raw)
    sizes = {n: p.numel() for n, p in model.named_parameters()}
    sizes |= {n: b.numel() for n, b in model.named_buffers() if "e_score_correction" in n}
    tower = sum(v for k, v in sizes.items() if any(t in k for t in TOWER))
    spec = spec_from_config(raw, name)
    c = count_params(spec)
    assert (c.total, c.towers_total) == (sum(sizes.values()) - tower, tower)
    assert not spec.reader_notes


# transformers' own default config of each family, as v5 writes it (num_local_experts,
# layer_types / mlp_layer_types, layers_block_type, no swa_ fields), and variants: a latent
# MoE (Nemotron-H moe_latent_size) and GLM-MoE-DSA layers sharing the previous indexer
DEFAULTS = [
    ("qwen3_next", {}),
    ("qwen3_5_moe", {}),
    ("qwen3_5", {}),
    ("qwen3_vl_moe", {}),
    ("deepseek_v32", {}),
    ("glm_moe_dsa", {}),
    ("glm_moe_dsa", {"index_topk_freq": 4}),
    ("mimo_v2_flash", {}),
    ("minimax_m2", {}),
    ("nemotron_h", {}),
    ("nemotron_h", {"moe_latent_size": 1024}),
    ("jamba", {}),
    ("ernie4_5_moe", {}),
    ("kimi_k25", {}),
    ("deepseek_v3", {}),
    ("qwen3_moe", {}),
    # model/readers2026/small.py, and variants of their layer plans
    ("glm4_moe_lite", {}),
    ("glm4_moe_lite", {"num_hidden_layers": 6, "mlp_layer_types": ["dense"] * 3 + ["sparse"] * 3}),
    ("solar_open", {}),
    ("mellum", {}),
    ("flint", {}),
    ("kolibri1", {}),
    ("kolibri1", {"num_hidden_layers": 4, "layer_types": ["full_attention"] * 4}),
    ("axk1", {}),
    ("axk1", {"num_hidden_layers": 5, "mlp_layer_types": ["dense", "dense"] + ["sparse"] * 3}),
    ("beam", {}),
    ("beam", {"num_hidden_layers": 7}),
]


@pytest.mark.parametrize("family, overrides", DEFAULTS)
def test_transformers_default_configs(family, overrides):
    try:
        config = transformers.AutoConfig.for_model(family, **overrides)
    except (ValueError, KeyError, TypeError) as exc:
        pytest.skip(f"transformers {transformers.__version__} has no {family}: {exc}")
    raw = json.loads(json.dumps(config.to_dict(), default=str))
    with torch.device("meta"):
        if "vision_config" in raw:
            model = transformers.AutoModelForImageTextToText.from_config(config)
        else:
            model = transformers.AutoModelForCausalLM.from_config(config)
    sizes = {n: p.numel() for n, p in model.named_parameters()}
    sizes |= {n: b.numel() for n, b in model.named_buffers() if "e_score_correction" in n}
    tower = sum(v for k, v in sizes.items() if any(t in k for t in TOWER))
    spec = spec_from_config(raw, family)
    c = count_params(spec)
    assert (c.total, c.towers_total) == (sum(sizes.values()) - tower, tower)
    assert not spec.reader_notes  # every field understood
