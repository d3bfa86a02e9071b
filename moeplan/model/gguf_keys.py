"""What a GGUF architecture entry is (ArchMap) and the ``{arch}.*`` keys most llama.cpp
converters write (``convert_hf_to_gguf.py`` TextModel.set_gguf_parameters), as the HF config.json
fields they are written from. The entries: ``gguf_archs.py`` and the family-group modules it
merges (``gguf_mla.py``, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from moeplan.model.gguf_derive import Derive


@dataclass(frozen=True)
class ArchMap:
    """An architecture: its HF model_type, HF field -> GGUF key (under ``{arch}.``), and the
    fields derived from other keys or from the tensor table."""

    model_type: str
    keys: Mapping[str, str]
    derive: tuple[Derive, ...] = field(default=())


COMMON = {
    "num_hidden_layers": "block_count",
    "hidden_size": "embedding_length",
    "intermediate_size": "feed_forward_length",
    "num_attention_heads": "attention.head_count",
    "num_key_value_heads": "attention.head_count_kv",
    "max_position_embeddings": "context_length",
}
MOE = {
    "num_experts_per_tok": "expert_used_count",
    "moe_intermediate_size": "expert_feed_forward_length",
}
HEAD_DIM = {"head_dim": "attention.key_length"}
# Qwen3-Next / Qwen3.5 (Gated DeltaNet + gated attention, shared expert): Qwen3NextModel's keys;
# Qwen4ExpTextModel writes the same plus its own (gguf_qm.py)
QWEN_NEXT = {
    **COMMON,
    **MOE,
    **HEAD_DIM,
    "num_experts": "expert_count",
    "shared_expert_intermediate_size": "expert_shared_feed_forward_length",
    "linear_conv_kernel_dim": "ssm.conv_kernel",
    "linear_key_head_dim": "ssm.state_size",
    "linear_num_key_heads": "ssm.group_count",
    "linear_num_value_heads": "ssm.time_step_rank",
}
