"""Exact weights of a checkpoint: parameters and bytes per component, read from tensor headers.

A checkpoint's files say exactly what they hold: each tensor's dtype and shape (safetensors) or
quantization type and element count (GGUF). Bytes are what the files store; parameters count
weights only (quantization scales, zero points and packed-format metadata are bytes, not
parameters), with packed tensors unpacked by their declared format. Components use the same
names as the analytic count (``params.COMPONENTS``), so the two can be compared line by line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Tensors that are quantization metadata: stored bytes, not parameters.
_SCALE = re.compile(
    r"(weight_scale(_inv|_2)?|input_scale|weight_zero_point|weight_g_idx|qzeros|scales|"
    r"g_idx|_scales|_blocks_scale|weight_global_scale|input_global_scale)$"
)

# (pattern on the tensor name, component); first match wins. HF safetensors and GGUF names.
_COMPONENTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), c)
    for p, c in (
        (
            r"(^|\.)(vision|visual|vision_tower|vision_model|audio|audio_tower|mm_projector|"
            r"multi_modal_projector|merger|patch_embed)[._]",
            "towers",
        ),
        (r"^v\.|^mm\.", "towers"),  # GGUF mmproj tensors
        (r"\.(nextn|mtp)[._]|(^|\.)mtp\.", "mtp"),
        (r"(embed_tokens|word_embeddings|wte|tok_embeddings)\.|^token_embd\.", "embedding"),
        (r"(^|\.)lm_head\.|^output\.", "lm_head"),
        # Kimi-K3: the latent MoE's projections and norm sit with the shared experts, the
        # attention-residual norms and pseudo-queries with the norms (as params.py counts them)
        (r"\.routed_expert_(down_proj|up_proj|norm)\.", "shared_experts"),
        (r"(self_attention|mlp|output_attn)_res_(norm|proj)\.", "norms"),
        (r"(norm|layernorm)(\.|_)?(weight|bias)?$|_norm\.|^output_norm\.", "norms"),
        (r"shared_expert|_shexp\.|shared_mlp", "shared_experts"),
        # blk.N.ffn_gate.E.weight: one tensor per expert, as GGUF files before merged experts
        (r"\.experts\.|_exps\.|\.experts$|^blk\.\d+\.ffn_(gate|up|down)\.\d+\.", "routed_experts"),
        (
            r"(mlp|block_sparse_moe|feed_forward|moe)\.(gate|router)\.|ffn_gate_inp|"
            r"e_score_correction_bias|exp_probs_b|\.router\.",
            "router",
        ),
        (r"self_attn|\.attn|attention|linear_attn|\.mixer\.|attn_|ssm_|time_mix", "attention"),
        (r"\.mlp\.|feed_forward|ffn_", "dense_ffn"),
    )
)


def component_of(name: str) -> str:
    """The component a tensor belongs to, by its name (safetensors or GGUF), else "other"."""
    for pattern, component in _COMPONENTS:
        if pattern.search(name):
            return component
    return "other"


def is_quant_metadata(name: str) -> bool:
    """Scale / zero-point / group-index tensors: counted in bytes, not in parameters."""
    return bool(_SCALE.search(name))


@dataclass(frozen=True)
class CheckpointWeights:
    """What a checkpoint's headers say: bytes and parameters per component, and where from."""

    source: str  # "safetensors" or "gguf"
    files: tuple[str, ...]
    bytes_by_component: tuple[tuple[str, int], ...]
    params_by_component: tuple[tuple[str, int], ...]
    bytes_by_dtype: tuple[tuple[str, int], ...]
    file_type: str = ""  # GGUF general.file_type, or the dtypes of a safetensors checkpoint
    tensor_quant: str = ""  # the scheme the tensors themselves show (safetensors), "" if unsure

    @property
    def total_bytes(self) -> int:
        return sum(b for _, b in self.bytes_by_component)

    @property
    def total_params(self) -> int:
        return sum(n for _, n in self.params_by_component)

    def component_bytes(self) -> dict[str, int]:
        return dict(self.bytes_by_component)

    def component_params(self) -> dict[str, int]:
        return dict(self.params_by_component)


def tally(
    source: str,
    files: tuple[str, ...],
    tensors: list[tuple[str, str, int, int]],
    file_type: str = "",
    tensor_quant: str = "",
) -> CheckpointWeights:
    """Sum (name, dtype, parameters, bytes) tensors into a CheckpointWeights."""
    by_bytes: dict[str, int] = {}
    by_params: dict[str, int] = {}
    by_dtype: dict[str, int] = {}
    for name, dtype, params, nbytes in tensors:
        component = component_of(name)
        by_bytes[component] = by_bytes.get(component, 0) + nbytes
        by_params[component] = by_params.get(component, 0) + (
            0 if is_quant_metadata(name) else params
        )
        by_dtype[dtype] = by_dtype.get(dtype, 0) + nbytes
    return CheckpointWeights(
        source=source,
        files=files,
        bytes_by_component=tuple(sorted(by_bytes.items())),
        params_by_component=tuple(sorted(by_params.items())),
        bytes_by_dtype=tuple(sorted(by_dtype.items(), key=lambda kv: -kv[1])),
        file_type=file_type,
        tensor_quant=tensor_quant,
    )
