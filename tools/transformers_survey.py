"""Which MoE families of the installed transformers moeplan reads, to the parameter.

Needs transformers and torch (not dependencies of moeplan: a separate environment). Each
model_type whose default config mentions experts is built on torch's meta device and its
parameters (plus router score-correction buffers, stored in checkpoints) are compared with
moeplan's count of the same config.

  python tools/transformers_survey.py                    every MoE family, one line each
  python tools/transformers_survey.py gemma4_text ...    those families only
  python tools/transformers_survey.py --diff TYPE [JSON] component by component (JSON: fields
                                                         over the default config, or a
                                                         config.json path)
  python tools/transformers_survey.py --dump DIR TYPE... write DIR/TYPE.json (the default
                                                         config as to_dict writes it) and
                                                         DIR/counts.json (transformers' numel)
"""

from __future__ import annotations

import collections
import json
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers.models.auto.configuration_auto import CONFIG_MAPPING, CONFIG_MAPPING_NAMES

from moeplan.errors import SpecError
from moeplan.model.hf_config import spec_from_config, supported_families
from moeplan.model.params import count_params

warnings.filterwarnings("ignore")
transformers.logging.set_verbosity_error()
TOWER = (
    "visual",
    "vision",
    "audio",
    "mm_projector",
    "multi_modal_projector",
    "talker",
    "code2wav",
)
DROP = ("auto_map", "quantization_config")


def config_of(arg: str, fields: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """The transformers config object and the dict moeplan reads."""
    if arg.endswith(".json"):
        raw = json.loads(Path(arg).read_text())
        clean = {k: v for k, v in raw.items() if k not in DROP}
        return transformers.AutoConfig.for_model(**clean), raw
    config = CONFIG_MAPPING[arg](**(fields or {}))
    return config, json.loads(json.dumps(config.to_dict(), default=str))


def built_sizes(config: Any) -> dict[str, int]:
    with torch.device("meta"):
        try:
            model = _with_towers(config) or transformers.AutoModelForCausalLM.from_config(config)
        except ValueError:
            # a class with the LM head that the causal-LM auto mapping leaves out (mistral4,
            # mistral_large4, MiniMaxM3SparseForConditionalGeneration): build it, not the
            # headless base model
            stem = type(config).__name__.removesuffix("Config")
            heads = ("ForCausalLM", "ForConditionalGeneration")
            cls = next(
                (getattr(transformers, stem + h) for h in heads if hasattr(transformers, stem + h)),
                None,
            )
            model = transformers.AutoModel.from_config(config)
            cls = cls or _generation_class(model, config)
            if cls is not None:
                model = cls(config)
    sizes = {n: p.numel() for n, p in model.named_parameters()}
    # router score-correction buffers the checkpoints store (DeepSeek-V3 style; LFM2-MoE's
    # feed_forward.expert_bias)
    sizes |= {
        n: b.numel()
        for n, b in model.named_buffers()
        if "e_score_correction" in n or n.endswith("feed_forward.expert_bias")
    }
    return sizes


def _with_towers(config: Any) -> Any:
    """The image-text model (language model plus vision tower, as the checkpoint holds them:
    Qwen3_5ForConditionalGeneration) where the config has a vision_config; None otherwise or
    where no image-text class maps it (the causal-LM class is built then)."""
    if getattr(config, "vision_config", None) is None:
        return None
    try:
        return transformers.AutoModelForImageTextToText.from_config(config)
    except Exception:  # no mapping, or a tower this transformers cannot build
        return None


def is_tower(name: str) -> bool:
    """A tensor of a vision/audio encoder or its projector; a language model's own tensors
    (ERNIE-4.5-VL's vision_moe experts sit in its decoder layers) are never one."""
    if "language_model." in name:
        return False
    return any(t in name for t in TOWER) or name.startswith(("resampler_model.", "model.resampler"))


def _generation_class(model: Any, config: Any) -> Any:
    """The ...ForConditionalGeneration class beside a base model that no auto class maps (the
    checkpoint's class: the base model plus its LM head), or None."""
    module = sys.modules[type(model).__module__]
    for name in sorted(dir(module)):
        cls = getattr(module, name)
        if name.endswith("ForConditionalGeneration") and isinstance(config, cls.config_class):
            return cls
    return None


def split(sizes: dict[str, int]) -> tuple[int, int]:
    tower = sum(v for k, v in sizes.items() if is_tower(k))
    return sum(sizes.values()) - tower, tower


def component(name: str) -> str:
    """Roughly the component moeplan's breakdown puts a tensor in (for --diff only)."""
    if is_tower(name):
        return "towers"
    if "embed_tokens" in name or name.endswith("model.embeddings.weight"):  # NemotronH
        return "embedding"
    if "lm_head" in name:
        return "lm_head"
    if "mtp" in name:
        return "mtp"
    # NemotronHMoE fc1/fc2_latent_proj: moeplan counts them with the shared experts
    if "shared_expert" in name or "shared_mlp" in name or "latent_proj" in name:
        return "shared_experts"
    if "experts" in name:
        return "routed_experts"
    if re.search(r"\.(gate|router)\.", name) or "e_score_correction" in name:
        return "router"
    if name.endswith(("input_layernorm.weight", "post_attention_layernorm.weight")):
        return "norms"
    if any(k in name for k in ("attn", "attention", "mamba", "mixer", "conv")):
        return "attention"
    if "norm" in name:
        return "norms"
    if any(k in name for k in ("mlp", "feed_forward", "ffn")):
        return "dense_ffn"
    return "other"


def survey(only: list[str]) -> None:
    known = set(supported_families())
    for family in sorted(CONFIG_MAPPING_NAMES):
        if only and family not in only:
            continue
        try:
            config, raw = config_of(family)
        except Exception:
            continue
        if "expert" not in str(raw).lower():
            continue
        tag = "known" if family in known else "new"
        try:
            spec = spec_from_config(raw, family)
        except SpecError as exc:
            print(f"{tag:5} {family:28} refused: {str(exc)[:140]}")
            continue
        counts = count_params(spec)
        try:
            text, tower = split(built_sizes(config))
        except Exception as exc:
            print(f"{tag:5} {family:28} moeplan {counts.total:,}; build failed: {exc!s:.80}")
            continue
        diff = counts.total - text
        mark = "exact" if diff == 0 and counts.towers_total == tower else f"{diff:+,}"
        print(
            f"{tag:5} {family:28} moeplan {counts.total:>17,} transformers {text:>17,} {mark}"
            + (f" (towers {counts.towers_total:,} / {tower:,})" if tower else "")
            + (" [inferred]" if spec.reader_notes else "")
        )


def diff(arg: str, fields: str | None) -> None:
    extra = None
    if fields and fields.endswith(".json"):  # --diff TYPE path/config.json: the file decides
        arg, fields = fields, None
    if fields and not arg.endswith(".json"):
        extra = json.loads(fields)
    config, raw = config_of(arg, extra)
    theirs: collections.Counter[str] = collections.Counter()
    names: dict[str, list[str]] = collections.defaultdict(list)
    for name, n in built_sizes(config).items():
        key = component(name)
        theirs[key] += n
        shape = re.sub(r"\.\d+\.", ".N.", name)
        if shape not in names[key]:
            names[key].append(shape)
    spec = spec_from_config(raw, arg)
    counts = count_params(spec)
    ours = {**counts.breakdown, "towers": counts.towers_total}
    print("reader notes:", spec.reader_notes)
    for key in sorted(set(theirs) | set(ours)):
        a, b = ours.get(key, 0), theirs.get(key, 0)
        print(f"{key:16} moeplan {a:>17,} transformers {b:>17,} {a - b:+,}")
        if a != b:
            for shape in names[key][:30]:
                print("    ", shape)


def dump(out: Path, families: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    counts_path = out / "counts.json"
    counts = json.loads(counts_path.read_text()) if counts_path.exists() else {}
    for family in families:
        config, raw = config_of(family)
        (out / f"{family}.json").write_text(json.dumps(raw, indent=1, sort_keys=True) + "\n")
        text, tower = split(built_sizes(config))
        counts[family] = {"text": text, "towers": tower, "transformers": transformers.__version__}
    counts_path.write_text(json.dumps(counts, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--diff"]:
        diff(args[1], args[2] if len(args) > 2 else None)
    elif args[:1] == ["--dump"]:
        dump(Path(args[1]), args[2:])
    else:
        survey(args)
