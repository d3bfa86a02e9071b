"""A checkpoint's exact weights (from its headers) beside the analytic estimate of its format."""

from __future__ import annotations

from dataclasses import dataclass, replace

from moeplan.memory.estimate import weights_bytes_by_component
from moeplan.memory.quant import QuantScheme, resolve_scheme
from moeplan.model.params import count_params
from moeplan.model.specs import ModelSpec


@dataclass(frozen=True)
class CheckpointComparison:
    source: str  # "safetensors" or "gguf"
    files: tuple[str, ...]
    file_type: str
    params: int  # from the headers: weights only, packed values unpacked
    bytes: int  # from the headers: everything the files store (scales included)
    analytic_params: int  # the architecture's count (moeplan/model/params.py), MTP included
    analytic_bytes: int  # params x bits per weight of analytic_quant
    analytic_quant: str  # the checkpoint's format as moeplan models it (bf16 if not modelled)
    params_by_component: dict[str, int]
    bytes_by_component: dict[str, int]

    @property
    def bytes_difference(self) -> float:
        """(analytic - headers) / headers."""
        return self.analytic_bytes / self.bytes - 1 if self.bytes else 0.0


def weights_source(spec: ModelSpec, scheme: QuantScheme) -> str:
    """Where the weight bytes of `size` come from: the files' headers or the analytic count."""
    return spec.checkpoint.source if spec.checkpoint and scheme.id == "native" else "analytic"


def compare_checkpoint(spec: ModelSpec) -> CheckpointComparison | None:
    """The headers beside the analytic estimate of the checkpoint's own format; a format moeplan
    does not model (``unmodelled:METHOD``) is compared with bf16, and says so."""
    ckpt = spec.checkpoint
    if ckpt is None:
        return None
    quant = "bf16" if spec.native_quant.startswith("unmodelled:") else spec.native_quant
    analytic = replace(spec, checkpoint=None)
    counts = count_params(analytic)
    by_component = weights_bytes_by_component(analytic, resolve_scheme(quant), counts)
    towers = 2 * sum(t.params or 0 for t in spec.towers)
    return CheckpointComparison(
        source=ckpt.source,
        files=ckpt.files,
        file_type=ckpt.file_type,
        params=ckpt.total_params,
        bytes=ckpt.total_bytes,
        analytic_params=counts.total_with_mtp + sum(t.params or 0 for t in spec.towers),
        analytic_bytes=sum(by_component.values()) + towers,
        analytic_quant=quant,
        params_by_component=ckpt.component_params(),
        bytes_by_component=ckpt.component_bytes(),
    )
