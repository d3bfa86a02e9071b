"""Qwen4-Exp (transformers models/qwen4_exp: Qwen4ExpTextModel; the qwen4_exp wrapper holds a
qwen4_exp_text config)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.families import QWEN_NEXT, read_layers
from moeplan.model.fields import Fields
from moeplan.model.readers2026.qwen4_mtp import read_qwen4_mtp
from moeplan.model.readers2026.qwen4_ple import read_ngram_ple
from moeplan.model.specs import IndexerSpec

QSA_FIELDS = (
    "indexer_n_heads",
    "indexer_kv_heads",
    "indexer_head_dim",
    "indexer_budget",
    "indexer_compress_ratio",
)


def qwen4_exp_text(f: Fields, family: str) -> dict[str, Any]:
    """Qwen4ExpTextModel: Qwen3.5 layers (Gated DeltaNet or gated attention with per-head q/k
    norm, per layer_types; "full_attention" reads as "indexed_attention") where every attention
    layer runs a QSA indexer (Qwen4ExpTextQSAIndexer, required: transformers cannot build the
    model without its fields) that selects at most indexer_budget + indexer_compress_ratio - 1
    tokens; every layer a Qwen3-Next sparse MoE block with a gated shared expert. No per-layer
    norms: two Qwen4ExpTextGatedResidual hyper-connections per layer, and a mixer instead of the
    final norm. Per-Layer Embeddings (ple_layer_ids: hashed n-gram tables) per
    qwen4_ple.read_ngram_ple; the checkpoint's MTP head (mtp_num_hidden_layers, which
    transformers drops on load) per qwen4_mtp.read_qwen4_mtp, counted by
    params.hc_mtp_params."""
    missing = [k for k in QSA_FIELDS if not f.has(k)]
    if missing:
        raise SpecError(f"{f.where}: the QSA indexer (always built) needs {', '.join(missing)}")
    if f.int("indexer_kv_heads") != 1:
        raise SpecError(f"{f.where}: Qwen4-Exp QSA requires indexer_kv_heads = 1")
    types = f.list("layer_types")
    if "full_attention" in types:  # Qwen4ExpTextConfig.__post_init__
        types = ["indexed_attention" if t == "full_attention" else t for t in types]
    cfg = {k: v for k, v in f.cfg.items() if k not in ("mlp_only_layers", "decoder_sparse_step")}
    if types:
        cfg["layer_types"] = types
    elif "full_attention_interval" not in cfg:
        cfg["full_attention_interval"] = 4  # Qwen4ExpTextConfig default
    inner = Fields(cfg, f.where)
    out = read_layers(inner, family, QWEN_NEXT)
    f.read |= inner.read
    kinds = [layer.mixer.value for layer in out["layers"]]
    out["ngram_ple"] = read_ngram_ple(f, f.int("hidden_size"), kinds)
    ratio = f.int("indexer_compress_ratio")
    indexer = IndexerSpec(
        f.int("indexer_n_heads"),
        f.int("indexer_head_dim"),
        f.int("indexer_budget") + ratio - 1,
        key_dtype="bf16",
        qsa=True,
    )
    out["attention"] = replace(out["attention"], indexer=indexer)
    # Qwen4ExpTextDecoderLayer builds the sparse MoE block on every layer
    out["layers"] = tuple(replace(layer, ffn="moe") for layer in out["layers"])
    out["dense_intermediate_size"] = 0
    out["norms_per_layer"] = 0
    out["hc_count"] = f.int("hc_count", default=4, minimum=2)
    out["hc_lowrank"] = f.int("hc_lowrank", default=320)
    out.update(read_qwen4_mtp(f))
    return out
