"""Qwen4-Exp multi-token prediction (the checkpoint's ``mtp.*`` draft head).

transformers 5.23 builds no MTP module: Qwen4ExpPreTrainedModel and Qwen4ExpForCausalLM list
``^mtp.*`` in _keys_to_ignore_on_load_unexpected (models/qwen4_exp/modeling_qwen4_exp.py), and
Qwen4ExpTextConfig has no mtp_* field. What the head holds is the inference ports' and the
released checkpoint's:

- vLLM ``vllm/models/qwen4_exp/nvidia/mtp.py`` Qwen4ExpMultiTokenPredictor: fc_embedding and
  fc_hidden [hidden, hidden] (the "residual_linear_shared" fusion: fc_hidden runs on each of
  the hc_count streams, fc_embedding's output is added to every stream), pre_fc_norm_embedding
  GemmaRMSNorm [hidden], pre_fc_norm_hidden GemmaRMSNorm [hc_count x hidden], the layers
  (Qwen4ExpDecoderLayer with layer_type "full_attention": QSA attention with its indexer, the
  sparse MoE block, attn/mlp GatedResidual with block_inject_weight), and a
  hyper_connection_mixer GatedResidual(use_combine=False) as the head's final collapse (no
  mtp.norm); embed_tokens and lm_head are the target's.
- SGLang ``models/qwen4_exp_mtp.py`` Qwen4ExpForCausalLMMTP: a one-layer Qwen4ExpModel
  (layer_types ["full_attention"], ple_layer_ids []) plus the same fc pair and pre_fc norms
  (pre_fc_norm_hidden hc_count x hidden wide when hc_count > 1).
- the released Qwen/Qwen3.8-Flash-Next safetensors headers (a public census of its 131 shards):
  31 mtp.* tensors, fc_* [2560, 2560], pre_fc_norm_hidden [10240], mtp.layers.0 a QSA layer
  with 512 experts and a shared expert, no PLE and no Gated DeltaNet; "MTP (dense 0.091 B +
  experts 2.517 B) 2.61 B".

mtp_use_dedicated_embeddings (false in the release) asks for the head's own token embedding
mtp.embed_tokens [vocab, hidden], which the ports load into the draft's embed_tokens when the
checkpoint has it: counted once in mtp (ModelSpec.mtp_embedding).
"""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.fields import Fields

# layer types an MTP layer may take: the ports build each as a full-attention (QSA) layer
_ATTENTION = ("full_attention", "indexed_attention")


def _sub_config(f: Fields) -> dict[str, Any]:
    """The release's "mtp" sub-dict (hybrid, layer_types, num_hidden_layers, rope_theta,
    mtp_use_hidden_state_from_layer), {} when absent."""
    sub = f.get("mtp")
    if sub is None:
        return {}
    if not isinstance(sub, dict):
        raise SpecError(f"{f.where}: field 'mtp' must be a mapping")
    return sub


def _layers(f: Fields, sub: dict[str, Any]) -> int:
    """MTP layers: mtp_num_hidden_layers (num_nextn_predict_layers as the ports' fallback),
    else the sub-dict's num_hidden_layers; both given must agree."""
    top = f.int_of(("mtp_num_hidden_layers", "num_nextn_predict_layers"), default=-1, minimum=0)
    inner = Fields(sub, f"{f.where} mtp").int("num_hidden_layers", default=-1, minimum=0)
    if top >= 0 and inner >= 0 and top != inner:
        raise SpecError(
            f"{f.where}: mtp_num_hidden_layers {top} disagrees with mtp.num_hidden_layers {inner}"
        )
    return max(top, inner, 0)


def read_qwen4_mtp(f: Fields) -> dict[str, Any]:
    """mtp_layers and mtp_embedding of a Qwen4ExpTextConfig (module docstring). Every MTP layer
    is a full-attention layer in the ports; the sub-dict's layer_types may only say so."""
    sub = _sub_config(f)
    layers = _layers(f, sub)
    if not layers:
        return {"mtp_layers": 0}
    types = sub.get("layer_types") or ["full_attention"] * layers
    if not isinstance(types, list) or any(t not in _ATTENTION for t in types):
        raise SpecError(f"{f.where}: Qwen4-Exp MTP layers other than full_attention: {types}")
    if len(types) != layers:
        raise SpecError(f"{f.where}: mtp.layer_types lists {len(types)} layers, not {layers}")
    return {"mtp_layers": layers, "mtp_embedding": f.bool("mtp_use_dedicated_embeddings")}
