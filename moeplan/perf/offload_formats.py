"""Which weight formats an offload engine loads: llama.cpp runs GGUF files, whose tensor types
are ggml's (ggml.h enum ggml_type: F32, F16, BF16, the Q*/IQ* block types, MXFP4 since the
gpt-oss release, NVFP4 since ggml-org/llama.cpp PR 19769, 2026-02). FP8 and the group-wise
int8/int4 of GPTQ/AWQ/compressed-tensors checkpoints have no ggml weight type:
convert_hf_to_gguf.py dequantizes an FP8 checkpoint to BF16 or Q8_0 (ggml-org/llama.cpp issue
15415). ktransformers loads GGUF and its own BF16/FP8/int8/int4 expert weights, so no format is
refused for it."""

from __future__ import annotations

from moeplan.errors import MoeplanError
from moeplan.memory.quant import GGUF_BLOCK_TYPES, QuantScheme
from moeplan.perf.offload_engines import OffloadProfile

GGUF_WEIGHT_FORMATS = frozenset(
    {"fp32", "gguf-f32", "fp16", "bf16", "mxfp4", "nvfp4", *GGUF_BLOCK_TYPES}
)
"""moeplan's weight formats (memory/quant.py FORMATS) that are ggml tensor types."""

_GGUF_LACKS = "GGUF, the file format {engine} loads, has no type for"

LOADABLE_FORMATS: dict[str, frozenset[str]] = {"llamacpp": GGUF_WEIGHT_FORMATS}
"""Per offload engine id, the weight formats it loads; an engine not listed loads any."""


def unloadable_components(engine: OffloadProfile, scheme: QuantScheme) -> dict[str, str]:
    """The scheme's components (component -> format) whose format the engine cannot load."""
    allowed = LOADABLE_FORMATS.get(engine.id)
    if allowed is None:
        return {}
    return {c: f for c, f in scheme.formats.items() if f not in allowed}


def loads(engine: OffloadProfile, scheme: QuantScheme) -> bool:
    return not unloadable_components(engine, scheme)


def require_loadable(engine: OffloadProfile, scheme: QuantScheme) -> None:
    """Refuse a scheme the engine has no file format for, naming the formats and what to pass."""
    bad = unloadable_components(engine, scheme)
    if not bad:
        return
    formats = "/".join(sorted(set(bad.values())))
    raise MoeplanError(
        f"'{scheme.id}' has {formats} weights, which {_GGUF_LACKS.format(engine=engine.id)}; "
        "pass a GGUF quant (q8_0, q4_k_m, mxfp4, ...) or --engine ktransformers"
    )


def left_out_note(engine: OffloadProfile, scheme_ids: list[str]) -> str:
    """What plan says of the schemes it left out of the engine's offload candidates."""
    return (
        f"left out {', '.join(scheme_ids)}: {_GGUF_LACKS.format(engine=engine.id)} their weights "
        "(--engine ktransformers loads them)"
    )
