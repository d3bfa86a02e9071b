"""Where transformers is installed (it is not a dependency), build each 2025-2026 model on
torch's meta device from its published config and compare moeplan's counts with the real
tensors, to the parameter (STYLE.md: check a hand count against numel())."""

from __future__ import annotations

import json

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
