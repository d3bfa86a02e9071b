"""Catalog entries for the 2025-2026 configs in shared/reference/configs-2026 (called by
tools/build_catalog.py). Each config is copied as published; the publisher's rounded counts
are those of configs-2026/README.md, with the model card or report they come from and the
active-count convention that matches what the publisher states (or, where it states none,
the one its figure matches, said so in the note)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

README = "shared/reference/configs-2026/README.md"


def _card(total: float, active: float, source: str, convention: str, note: str = "", **kw):
    return dict(
        total=total,
        active=active,
        source=f"{source}; rounded counts as listed in {README}",
        confidence="medium: the publisher's rounded figure",
        active_convention=convention,
        total_includes=[],
        note=note,
        **kw,
    )


ENTRIES: dict[str, dict] = {
    "qwen3-next-80b-a3b": dict(
        name="Qwen3-Next-80B-A3B",
        aliases=["qwen3-next", "qwen3-next-80b-a3b-thinking", "qwen3-next-80b-a3b-instruct"],
        official=_card(
            80e9,
            3e9,
            "huggingface.co/Qwen/Qwen3-Next-80B-A3B-Thinking model card: 80B in total and 3B "
            "activated",
            "without_embeddings",
            "The card states no convention; 3B matches the count without embedding and head "
            "(3.25B; 3.56B with the head). The checkpoint's one MTP layer is named by no config "
            "field (vLLM builds num_nextn_predict_layers, default 1); counted apart, loaded "
            "with --mtp.",
        ),
    ),
    "qwen3.5-397b-a17b": dict(
        name="Qwen3.5-397B-A17B",
        aliases=["qwen3.5", "qwen3.5-397b"],
        official=_card(
            397e9,
            17e9,
            "huggingface.co/Qwen/Qwen3.5-397B-A17B model card: 397B total, 17B activated",
            "with_embedding",
            "Qwen counts active parameters with embeddings (as the Qwen3 cards); the vision "
            "tower (0.46B) is counted beside the language model.",
        ),
    ),
    "deepseek-v3.2": dict(
        name="DeepSeek-V3.2",
        aliases=["deepseek-v3.2-exp", "dsv32"],
        official=_card(
            671e9,
            37e9,
            "huggingface.co/deepseek-ai/DeepSeek-V3.2 (DeepSeek-V3 architecture + DSA): 671B "
            "total, 37B activated",
            "without_input_embedding",
            "Counted like DeepSeek-V3 (LM head in, input embedding out); the DSA indexer adds "
            "0.85B; the MTP layer is excluded.",
        ),
    ),
    "glm-5": dict(
        name="GLM-5",
        # GLM-5.1's published config (github:ai-dynamo/aiconfigurator@095f58a5
        # .../zai-org--GLM-5.1_config.json) equals GLM-5's field for field
        aliases=["glm5", "glm-5.1", "glm5.1"],
        official=_card(
            744e9,
            40e9,
            "huggingface.co/zai-org/GLM-5 model card: 744B total, 40B active",
            "without_embeddings",
            "Counted as the GLM-4.5 figures (MTP excluded, active without embedding and head).",
        ),
    ),
    "kimi-k2.5": dict(
        name="Kimi-K2.5",
        # Kimi-K2.6: NVIDIA's NVFP4 copy of its config (github:ai-dynamo/aiconfigurator@095f58a5
        # .../nvidia--Kimi-K2.6-NVFP4_config.json) has K2.5's language model and tower shapes
        # (only eos_token_id differs); Moonshot's card: 1T total / 32B activated, INT4 as K2.5
        aliases=["kimi-k2.5-instruct", "kimi-k25", "kimi-k2.6", "kimi-k26"],
        official=_card(
            1e12,
            32e9,
            "huggingface.co/moonshotai/Kimi-K2.5 model card: 1T total, 32B activated",
            "without_input_embedding",
            "Language model (kimi_k2 text_config) as Kimi-K2; the MoonViT tower is counted "
            "beside it. INT4 (group 32) routed experts: about 595 GB as published.",
        ),
    ),
    "minimax-m2.5": dict(
        name="MiniMax-M2.5",
        aliases=["minimax-m2", "minimax-m2.5-instruct"],
        official=_card(
            230e9,
            10e9,
            "huggingface.co/MiniMaxAI/MiniMax-M2.5 model card: 230B total, 10B active",
            "without_embeddings",
            "No convention stated; 10B is closest to the count without embedding and head "
            "(9.80B; 10.42B with the head). The 3 MTP modules are excluded.",
        ),
    ),
    "nemotron-3-nano-30b-a3b": dict(
        name="NVIDIA-Nemotron-3-Nano-30B-A3B",
        aliases=["nemotron-3-nano", "nemotron-3-nano-30b"],
        official=_card(
            31.6e9,
            3.2e9,
            "huggingface.co/nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16 model card: 31.6B total, "
            "about 3.2B active (3.6B including embeddings)",
            "without_input_embedding",
        ),
    ),
    "mimo-v2-flash": dict(
        name="MiMo-V2-Flash",
        aliases=["mimo-v2"],
        official=_card(
            309e9,
            15e9,
            "huggingface.co/XiaomiMiMo/MiMo-V2-Flash model card: 309B total, 15B active",
            "without_input_embedding",
        ),
    ),
    "longcat-flash-chat": dict(
        name="LongCat-Flash-Chat",
        aliases=["longcat-flash", "longcat"],
        official=_card(
            560e9,
            27e9,
            "arXiv:2509.01322 (LongCat-Flash technical report): 560B total, 18.6B-31.3B "
            "activated per token, about 27B on average",
            "without_input_embedding",
            "Zero-computation experts: active is the expected value (8 of the top-12 on real "
            "experts under uniform routing), with the range beside it.",
        ),
    ),
    "ling-mini-2.0": dict(
        name="Ling-mini-2.0",
        aliases=["ling-mini"],
        official=_card(
            16.26e9,
            1.43e9,
            "huggingface.co/inclusionAI/Ling-mini-2.0 model card: 16.26B total, 1.43B activated "
            "(789M non-embedding)",
            "with_embedding",
        ),
    ),
    "ernie-4.5-21b-a3b": dict(
        name="ERNIE-4.5-21B-A3B",
        aliases=["ernie-4.5-21b", "ernie-4.5-21b-a3b-pt"],
        official=_card(
            21e9,
            3e9,
            "huggingface.co/baidu/ERNIE-4.5-21B-A3B-PT model card: 21B total, 3B activated",
            "without_embeddings",
            "The shapes give 21.83B (27 MoE layers x 64 experts); 21B reads as the name's "
            "truncation, not a rounding. 3B matches the count without embeddings (3.09B).",
            total_truncated=True,
        ),
    ),
    "jamba-v0.1": dict(
        name="Jamba-v0.1",
        aliases=["jamba", "jamba-1.5-mini"],
        official=_card(
            52e9,
            12e9,
            "huggingface.co/ai21labs/Jamba-v0.1 model card: 12B active, 52B total",
            "without_input_embedding",
        ),
    ),
    "qwen3-vl-30b-a3b": dict(
        name="Qwen3-VL-30B-A3B",
        aliases=["qwen3-vl-30b", "qwen3-vl-30b-a3b-instruct"],
        official=_card(
            30e9,
            3e9,
            "huggingface.co/Qwen/Qwen3-VL-30B-A3B-Instruct (model name: 30B total, A3B)",
            "with_embedding",
            "The language model is the Qwen3-30B-A3B text tower (30.5B); the vision tower "
            "(0.54B) is counted beside it.",
        ),
    ),
    "deepseek-moe-16b": dict(
        name="DeepSeekMoE-16B",
        aliases=["deepseek-moe", "deepseek-moe-16b-base"],
        official=_card(
            16.4e9,
            2.8e9,
            "arXiv:2401.06066 (DeepSeekMoE): 16.4B total, 2.8B activated",
            "with_embedding",
        ),
    ),
    "ling-lite": dict(
        name="Ling-lite",
        aliases=["ling-lite-1.5"],
        official=_card(
            16.8e9,
            2.75e9,
            "huggingface.co/inclusionAI/Ling-lite model card: 16.8B total, 2.75B activated",
            "with_embedding",
        ),
    ),
}


def _readme_rows(reference: Path) -> dict[str, list[str]]:
    rows = {}
    for line in (reference / "configs-2026" / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.match(r"^[a-z0-9.\-]+$", cells[0]):
            rows[cells[0]] = cells
    return rows


def build_models_2026(reference: Path, out_dir: Path, native_quant_of) -> None:
    rows = _readme_rows(reference)
    for folder, ann in ENTRIES.items():
        config = json.loads((reference / "configs-2026" / folder / "config.json").read_text())
        _, repo, arch, _published, source = rows[folder]
        doc = {
            "id": folder,
            "name": ann["name"],
            "aliases": ann["aliases"],
            "hf_repo": repo,
            "config_source": [source],
            "config_confidence": "high (published config.json, copied as published)",
            "notes": [arch],
            "native_precision": native_quant_of(config),
            "official_params": ann["official"],
            "config": config,
        }
        header = f"# {ann['name']}: generated by tools/build_catalog.py from {README}\n"
        (out_dir / f"{folder}.yaml").write_text(
            header + yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True)
        )
