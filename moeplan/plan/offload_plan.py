"""`moeplan plan --host`: one-GPU-plus-host-RAM candidates (expert offload) beside the GPU-only
layouts, each GPU kind x quantization at the smallest --n-cpu-moe that fits the GPU."""

from __future__ import annotations

from dataclasses import dataclass

from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import GPU
from moeplan.hardware.hosts import Host
from moeplan.memory.quant import QuantScheme
from moeplan.model.specs import ModelSpec
from moeplan.perf.offload import OffloadReport, estimate_offload
from moeplan.perf.offload_engines import OffloadProfile
from moeplan.perf.offload_formats import loads
from moeplan.plan.search import Targets


@dataclass(frozen=True)
class OffloadCandidate:
    report: OffloadReport
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


def offload_failures(r: OffloadReport, targets: Targets) -> list[str]:
    """Fit first, then the service targets (TTFT = arrival to first token, the batch's prefill
    as in `check`; TPOT and total tokens/s at the batch), in the words plan uses for GPU-only
    candidates."""
    if not r.fits:
        return [r.reason]
    out = []
    tok_s, speed = r.decode_tok_s, r.speed
    if tok_s is None or speed is None:
        return ["no speed estimate"]
    tpot_ms, ttft_ms = 1e3 / tok_s, speed.prefill_s * 1e3
    if targets.max_ttft_ms is not None and ttft_ms > targets.max_ttft_ms:
        out.append(f"TTFT {ttft_ms:.1f} ms > {targets.max_ttft_ms:g} ms")
    if targets.max_tpot_ms is not None and tpot_ms > targets.max_tpot_ms:
        out.append(f"TPOT {tpot_ms:.2f} ms > {targets.max_tpot_ms:g} ms")
    if targets.min_tokens_per_s is not None and tok_s * r.batch < targets.min_tokens_per_s:
        out.append(f"{tok_s * r.batch:.0f} tokens/s < {targets.min_tokens_per_s:g}")
    return out


def plan_offload(
    spec: ModelSpec,
    schemes: list[QuantScheme],
    gpus: list[GPU],
    host: Host,
    engine: OffloadProfile,
    input_len: int,
    output_len: int,
    concurrency: int,
    targets: Targets,
    kv_quant: str = "bf16",
    gpu_reserved_bytes: int = 0,
) -> list[OffloadCandidate]:
    """Every GPU kind x scheme the engine loads (perf/offload_formats.py) with `--offload auto`,
    accepted ones first by tokens/s (`gpu_reserved_bytes`: VRAM other processes hold on each
    card)."""
    out = []
    for gpu in gpus:
        for scheme in (s for s in schemes if loads(engine, s)):
            try:
                r = estimate_offload(
                    spec,
                    scheme,
                    gpu,
                    host,
                    engine,
                    "auto",
                    None,
                    concurrency,
                    input_len,
                    output_len,
                    kv_quant,
                    gpu_reserved_bytes=gpu_reserved_bytes,
                )
            except MoeplanError as exc:
                raise MoeplanError(f"offload on {gpu.id} with {scheme.id}: {exc}") from None
            out.append(OffloadCandidate(r, tuple(offload_failures(r, targets))))
    out.sort(key=lambda c: (not c.ok, -(c.report.decode_tok_s or 0.0)))
    return out
