"""What a calibration measured, as the latency model asks for it (phases.Rates.measured;
perf.calibration.CalibratedRates answers). Pure: no imports from the rest of moeplan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ExpertRead:
    """What one MoE layer's expert kernel sees on the busiest GPU: the routed experts' weight
    format, the bytes of one expert it reads (a 1/G slice under tensor-parallel experts), the
    tokens each touched expert gets and the tokens in the layer."""

    weight_format: str
    bytes_per_expert: float
    tokens_per_expert: float
    tokens: float


Measured = tuple[float, tuple[str, ...]]  # a rate and the notes saying how it was read


class MeasuredRates(Protocol):
    """Rates a calibration measured (perf.calibration); None: not measured, the default holds."""

    @property
    def notes(self) -> tuple[str, ...]: ...

    def expert_bw(self, read: ExpertRead) -> Measured | None: ...

    def kv_bw(self, kv_bytes_per_layer: float) -> Measured | None: ...

    def attention_flops(self, query_tokens: float) -> Measured | None: ...

    def collective_s(self, kernel: str, message_bytes: float, group: int) -> float | None: ...
