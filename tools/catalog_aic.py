"""Catalog entries for current MoE models whose published config.json is not in
shared/reference but is copied, as published, in NVIDIA's AIConfigurator (github
ai-dynamo/aiconfigurator, aic-core/src/aiconfigurator_core/model_configs/). Provenance tool, run
by hand: it writes model_specs/<id>.yaml; the generated files are committed.

Usage: python tools/catalog_aic.py AICONFIGURATOR_CHECKOUT (a clone at AIC_COMMIT)

LOCAL_ENTRIES add the published configs this repository keeps itself (tests/data), as Grok-2's.

Each publisher's figure is quoted with its source (model card, README or report, as collected
in the closing notes of the session that added them); where the publisher states no
active-count convention the figure is compared with all three of moeplan's counts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from moeplan.model.quant_config import native_quant_of  # noqa: E402

AIC_COMMIT = "095f58a51c4ca8e61b66ec108d86f223f8d559ce"
AIC_DIR = "aic-core/src/aiconfigurator_core/model_configs"
SOURCE = f"github:ai-dynamo/aiconfigurator@{AIC_COMMIT} {AIC_DIR}/"


_INFINITY_NOTE = (
    "time_step_limit is [0.0, Infinity] in the published file; the catalog's YAML holds no "
    "non-finite number, so the copy writes the string 'Infinity' (no count reads the field)"
)


def _card(total: float, active: float, source: str, note: str, **kw: object) -> dict:
    """official_params of an entry: none of these publishers states what its active figure
    includes, so the figure is compared with all three of moeplan's counts."""
    base = dict(
        active_convention="unstated",
        total=total,
        active=active,
        source=source,
        confidence="medium: the publisher's rounded figure",
        total_includes=[],
        note=note,
    )
    return {**base, **kw}


ENTRIES: dict[str, dict] = {
    "deepseek-v4-flash": dict(
        file="deepseek-ai--DeepSeek-V4-Flash_config.json",
        name="DeepSeek-V4-Flash",
        aliases=["dsv4-flash", "deepseek-v4"],
        hf_repo="deepseek-ai/DeepSeek-V4-Flash",
        arch="deepseek_v4: single-KV attention with a 128-token window, CSA (rate 4, indexer) and "
        "HCA (rate 128) compressed KV, grouped low-rank output, hash-routed first layers, "
        "hyper-connections, 256 experts top-6 + shared, MTP 1",
        official=_card(
            284e9,
            13e9,
            "huggingface.co/deepseek-ai/DeepSeek-V4-Flash model card: 'DeepSeek-V4-Flash with "
            "284B parameters (13B activated)'; DeepSeek-V4 report sec. 4.2.1",
            "DeepSeek does not say what the figures include; the MTP layer is not counted.",
        ),
    ),
    "deepseek-v4-pro": dict(
        file="deepseek-ai--DeepSeek-V4-Pro_config.json",
        name="DeepSeek-V4-Pro",
        aliases=["dsv4-pro"],
        hf_repo="deepseek-ai/DeepSeek-V4-Pro",
        arch="deepseek_v4 (as DeepSeek-V4-Flash, wider and deeper): 384 experts top-6 + "
        "shared, MTP 1",
        official=_card(
            1.6e12,
            49e9,
            "huggingface.co/deepseek-ai/DeepSeek-V4-Pro model card: 'DeepSeek-V4-Pro with 1.6T "
            "parameters (49B activated)'; DeepSeek-V4 report sec. 4.2.1",
            "DeepSeek does not say what the figures include; the MTP layer is not counted.",
        ),
    ),
    "gemma-4-26b-a4b": dict(
        file="google--gemma-4-26B-A4B_config.json",
        name="Gemma-4-26B-A4B",
        aliases=["gemma-4-26b", "gemma4-26b-a4b", "gemma-4-26b-a4b-it"],
        hf_repo="google/gemma-4-26B-A4B",
        arch="gemma4: sliding-window and global attention (K=V on global layers), 128 experts "
        "top-8 beside a dense MLP in every layer, vision tower",
        official=_card(
            25.2e9,
            3.8e9,
            "ai.google.dev/gemma/docs/core/model_card_4 (as the HF card): 'Total Parameters "
            "25.2B', 'Active Parameters 3.8B'; vision encoder ~550M on its own row",
            "The card lists the vision encoder apart; moeplan counts it beside the language "
            "model (approximate tower estimate) and compares the language model.",
        ),
    ),
    "glm-5.2": dict(
        file="zai-org--GLM-5.2_config.json",
        name="GLM-5.2",
        aliases=["glm5.2"],
        hf_repo="zai-org/GLM-5.2",
        arch="glm_moe_dsa (as GLM-5) with its own DSA indexer on 21 of 78 layers (the first three, "
        "then one in four; indexer_types full/shared), 256 experts top-8 + shared, 3 dense layers, "
        "MTP 1",
        official=_card(
            744e9,
            40e9,
            "github:zai-org/GLM-5 README download table: 'GLM-5.2 ... 744B-A40B' (GLM-5's label; "
            "no new count published)",
            "The label is GLM-5's; GLM-5.2's shared-indexer layers drop 57 indexers.",
            total_discrepancy="GLM-5.2 keeps GLM-5's 744B-A40B label, but 57 of its 78 layers "
            "reuse another layer's indexer (indexer_types 'shared'), 0.53B fewer weights: "
            "743.38B",
        ),
    ),
    "kimi-k3": dict(
        file="moonshotai--Kimi-K3_config.json",
        name="Kimi-K3",
        aliases=["kimi-k3-instruct"],
        hf_repo="moonshotai/Kimi-K3",
        arch="kimi_k3: text_config kimi_linear, 69 KDA (full-rank gate) + 24 gated MLA layers, "
        "attention residuals, latent MoE (896 experts top-16 in a 3584-wide latent) + 2 shared, "
        "MXFP4 routed experts, MoonViT-3d tower",
        official=_card(
            2.8e12,
            104e9,
            "arXiv:2607.24653 (Kimi K3 technical report) abstract: 'a 2.8T parameter "
            "Mixture-of-Experts model with 104 billion activated parameters'; README: 'Total "
            "Parameters 2.8T / Activated Parameters 104B', vision encoder 401M on its own row",
            "The report does not define 'activated'; 104B is met by the count with the LM head "
            "and without the input embedding (104.19B).",
        ),
    ),
    "minimax-m2.7": dict(
        file="MiniMaxAI--MiniMax-M2.7_config.json",
        name="MiniMax-M2.7",
        aliases=["minimax-m2.7-instruct"],
        hf_repo="MiniMaxAI/MiniMax-M2.7",
        arch="minimax_m2 (as MiniMax-M2.5, 204,800 positions): 62 full-attention layers, 256 "
        "experts top-8, 3 MTP modules",
        official=_card(
            229.9e9,
            9.8e9,
            "arXiv:2605.26494 (MiniMax-M2 series report, M2/M2.5/M2.7): '229.9B total "
            "parameters and only 9.8B activated per token'; the M2.7 card gives no count",
            "MiniMax does not say what its figures include; the 3 MTP modules are not counted.",
            total_discrepancy="unexplained: the shapes give 228.69B without the 3 MTP modules "
            "and 239.75B with them; the report gives no breakdown",
        ),
    ),
    "minimax-m3": dict(
        file="MiniMaxAI--MiniMax-M3_config.json",
        name="MiniMax-M3",
        aliases=["minimax-m3-instruct"],
        hf_repo="MiniMaxAI/MiniMax-M3",
        arch="minimax_m3 (text-decoder form of the minimax_m3_vl checkpoint): 60 GQA layers "
        "(64/4 x 128, per-head QK norm, partial RoPE), lightning-indexer block-sparse attention "
        "(MSA) on 57, 3 dense layers, 128 experts top-4 + shared, SwiGLU-OAI, MTP; the "
        "checkpoint's CLIP-style vision tower is not in this file",
        confidence="high (published config.json: its text_config, flattened by aiconfigurator "
        "to a minimax_m3 text decoder with first_k_dense_replace and moe_intermediate_size "
        "added, commit dbb322e6f; tests/data/configs-aic/README.md)",
        official=_card(
            428e9,
            23e9,
            "huggingface.co/MiniMaxAI/MiniMax-M3 model card (as mirrored in "
            "huggingface.co/unsloth/MiniMax-M3): 'It has ~428B parameters and ~23B activated "
            "parameters'; Model Details: 'Total Parameters ~428B', 'Activated Parameters ~23B', "
            "'Precision bfloat16'",
            "MiniMax does not say what its figures include; the MTP modules are not counted.",
            total_includes=["vision_encoder"],
            not_in_config=["vision_encoder"],
            total_discrepancy="~428B is the VL checkpoint: this text-decoder copy gives 426.17B; "
            "the vision tower and projector of the published VL config (as nvidia/MiniMax-M3-"
            "NVFP4 keeps it beside this folder's copy) add 0.87B, 427.04B; the last ~1B is not "
            "explained by the configs (the MTP module, whose shapes they do not give, would be "
            "about that size)",
            active_discrepancy="~23B meets the count without embedding and LM head, 23.50B, "
            "read as a truncation (23.504B rounds to 24B); MiniMax gives no convention",
        ),
    ),
    "nemotron-3-super-120b-a12b": dict(
        file="nvidia--NVIDIA-Nemotron-3-Super-120B-A12B-FP8_config.json",
        name="NVIDIA-Nemotron-3-Super-120B-A12B",
        aliases=["nemotron-3-super", "nemotron-3-super-120b", "nemotron-3-super-120b-a12b-fp8"],
        hf_repo="nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-FP8",
        arch="nemotron_h: 40 Mamba2 + 40 latent MoE (512 experts top-22 in a 1024-wide latent, "
        "relu2, + shared) + 8 GQA attention blocks, MTP (attention + MoE)",
        notes=[
            _INFINITY_NOTE,
            "native fp8: the checkpoint's hf_quant_config.json (ModelOpt, copied beside this file "
            "in AIConfigurator) says quant_algo FP8, kv_cache_quant_algo FP8; config.json has no "
            "quantization_config. Which layers ModelOpt keeps in BF16 is not in the file: "
            "moeplan's fp8 keeps embedding, LM head, router and norms BF16",
        ],
        native="fp8",
        official=_card(
            120e9,
            12e9,
            "huggingface.co/nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-FP8 model card: 'Total "
            "Parameters 120B (12B active)'",
            "NVIDIA does not say what the figures include; the MTP step (2.94B) is not counted. "
            "Counts equal transformers' meta-device numel of this config.",
            total_discrepancy="the model's name: the shapes give 120.67B (transformers' "
            "meta-device numel of this config, the same), 123.61B with the MTP step; a table "
            "attributed to the tech report (arXiv:2604.12374) gives 120.6B, a truncation",
        ),
    ),
    "nemotron-3-ultra-550b-a55b": dict(
        file="nvidia--NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16_config.json",
        name="NVIDIA-Nemotron-3-Ultra-550B-A55B",
        aliases=["nemotron-3-ultra", "nemotron-3-ultra-550b"],
        hf_repo="nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16",
        arch="nemotron_h: Mamba2 + latent MoE (512 experts top-22 in a 2048-wide latent, relu2) "
        "+ GQA attention blocks, MTP",
        official=_card(
            550e9,
            55e9,
            "huggingface.co/nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16 model card: '550 "
            "billion total and 55 billion active parameters'",
            "NVIDIA does not say what the figures include; the MTP step (11.22B) is not counted. "
            "Counts equal transformers' meta-device numel of this config.",
            total_discrepancy="the model's name: the shapes give 549.31B (transformers' "
            "meta-device numel of this config, the same) and 560.52B with the MTP step, which "
            "is the checkpoint's 561B as Hugging Face lists it",
        ),
    ),
    "qwen3-coder-480b-a35b": dict(
        file="Qwen--Qwen3-Coder-480B-A35B-Instruct_config.json",
        name="Qwen3-Coder-480B-A35B-Instruct",
        aliases=["qwen3-coder-480b", "qwen3-coder", "qwen3-coder-480b-a35b"],
        hf_repo="Qwen/Qwen3-Coder-480B-A35B-Instruct",
        arch="qwen3_moe: 62 layers, GQA 96/8, 160 experts top-8, no shared expert",
        official=_card(
            480e9,
            35e9,
            "huggingface.co/Qwen/Qwen3-Coder-480B-A35B-Instruct model card: 'Number of "
            "Parameters: 480B in total and 35B activated'",
            "The card states no convention; Qwen3 cards that give a non-embedding count apart "
            "count their headline figures with embeddings.",
        ),
    ),
    "qwen3-vl-235b-a22b": dict(
        file="Qwen--Qwen3-VL-235B-A22B-Instruct_config.json",
        name="Qwen3-VL-235B-A22B-Instruct",
        aliases=["qwen3-vl-235b", "qwen3-vl-235b-a22b"],
        hf_repo="Qwen/Qwen3-VL-235B-A22B-Instruct",
        arch="qwen3_vl_moe: text_config the Qwen3-235B-A22B text tower + ViT with deepstack "
        "mergers",
        official=_card(
            235e9,
            22e9,
            "arXiv:2511.21631 (Qwen3-VL report) abstract: 'mixture-of-experts (30B-A3B/"
            "235B-A22B) variants' (the model's name; the card has no parameter line)",
            "No convention stated; the vision tower is counted beside the language model.",
        ),
    ),
}


# Configs kept in this repository rather than in aiconfigurator: copied as published, each with
# its own source (the folder's SOURCES.md says how the copy was made).
LOCAL_ENTRIES: dict[str, dict] = {
    "grok-2": dict(
        path="tests/data/configs-grok/grok-2.json",
        source="huggingface.co/xai-org/grok-2 config.json (revision "
        "daf4395a80ad177386cfe39641b64fc12b1d70ed), as copied verbatim in "
        "tests/data/configs-grok/grok-2.json from the Hub mirror "
        "huggingface.co/jhpristine/grok-2 (tests/data/configs-grok/SOURCES.md)",
        confidence="high (published config.json, copied as published from a Hub mirror of "
        "xai-org/grok-2)",
        name="Grok-2",
        aliases=["grok2"],
        hf_repo="xai-org/grok-2",
        arch="grok (Grok1ForCausalLM, model_type 'git' as published): 64 layers, GQA 64/8 x 128, "
        "8 GELU-gated experts top-2 of width 16384 beside a dense GELU-gated MLP of 32768 in "
        "every layer (residual_moe), untied LM head",
        official=dict(
            active_convention="unstated",
            total=269_515_497_472,
            active=114_896_674_816,
            source="xAI publishes no parameter count (the xai-org/grok-2 card states none). "
            "These are a third party's sums of the 39 safetensors headers of xai-org/grok-2 "
            "revision daf4395a80ad177386cfe39641b64fc12b1d70ed (code index id 69530687977, an "
            "Epoch-style model-assumptions note): 'Total stored weights 269,515,497,472', "
            "'Shared plus two of eight routed experts 114,896,674,816'; '270B / 115B' as "
            "commonly quoted",
            confidence="high for the total (the checkpoint's tensor shapes, summed), but not a "
            "publisher's figure",
            total_includes=[],
            note="Not xAI's figures: exact sums of the checkpoint's headers, which moeplan's "
            "counts of the published config equal to the parameter. xAI states no active-count "
            "convention; the third party's active sum counts 'both vocabulary matrices' "
            "(embedding and LM head).",
        ),
    ),
}


def _finite(value: object) -> object:
    """The config with each non-finite float as its JSON spelling (a string): moeplan's YAML
    loader refuses .inf, and no reader uses the fields that hold one (Mamba time-step limits)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def read_config(checkout: Path, file: str) -> dict:
    """The published file at AIC_COMMIT (git show, so a checkout at another commit is refused)."""
    text = subprocess.run(
        ["git", "-C", str(checkout), "show", f"{AIC_COMMIT}:{AIC_DIR}/{file}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(text)


def _write(out_dir: Path, cid: str, ann: dict, config: dict, source: str, made_from: str) -> None:
    """model_specs/<cid>.yaml: the entry's annotations around the config, copied as published."""
    doc = {
        "id": cid,
        "name": ann["name"],
        "aliases": ann["aliases"],
        "hf_repo": ann["hf_repo"],
        "config_source": [source],
        "config_confidence": ann.get(
            "confidence", "high (published config.json, copied as published)"
        ),
        "notes": [ann["arch"], *ann.get("notes", [])],
        "native_precision": ann.get("native") or native_quant_of(config),
        "official_params": ann["official"],
        "config": config,
    }
    header = f"# {ann['name']}: generated by tools/catalog_aic.py from {made_from}\n"
    (out_dir / f"{cid}.yaml").write_text(
        header + yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True)
    )


def build(checkout: Path, out_dir: Path) -> None:
    for cid, ann in ENTRIES.items():
        config = _finite(read_config(checkout, ann["file"]))
        assert isinstance(config, dict)
        _write(out_dir, cid, ann, config, SOURCE + ann["file"], SOURCE + ann["file"])
    for cid, ann in LOCAL_ENTRIES.items():
        config = json.loads((ROOT / ann["path"]).read_text())
        _write(out_dir, cid, ann, config, ann["source"], ann["path"])


if __name__ == "__main__":
    build(Path(sys.argv[1]), ROOT / "model_specs")
