"""A box's host read rate, calibrated from one decode run measured on it.

Published offload runs on the same CPU and memory kit differ by up to 2x in the host read rate
they imply (issue 15's closing notes: 0.38-0.94 of moeplan's figure, nothing moeplan is given
predicts which), and that per-box share is most of moeplan's remaining decode error. One run of
the user's own box answers it: decode tok/s rises monotonically with the host read rate (the
host experts' DRAM time, perf/offload.py offload_speed), so the rate that makes moeplan's decode
estimate equal the measured tok/s is found by bisection, and a host file holding it
(hardware/host_record.py) prices every other model, quantization and --n-cpu-moe on that box.

The figure is an effective one: it also absorbs whatever else moeplan misses on the box (its
threads, BIOS, background load). `moeplan validate` measures what that buys on the published
runs: each box's runs predicted from a sibling run's calibration
(plan/validate_offload_samebox.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from moeplan.errors import MoeplanError

if TYPE_CHECKING:
    from moeplan.perf.offload import OffloadReport

MIN_READ_BYTES_PER_S = 1e9
"""The slowest read searched: 1 GB/s, the floor a host's read option or file accepts (under any
DRAM; the slowest published offload run implies 3.4 GB/s: an EPYC 7343 box that paged)."""

UNBOUNDED_READ_BYTES_PER_S = 20e12
"""The fastest read searched where the host has no theoretical figure: 20 TB/s, above any CPU."""

_STEPS = 48  # bisection in log space: ln(2e4) / 2^48, a relative error under 1e-13


@dataclass(frozen=True)
class HostCalibration:
    """What one measured decode run says about the box's host read rate."""

    observed_tok_s: float
    estimated_tok_s: float  # moeplan's decode estimate with the host's own read figure
    host_read_bytes_per_s: float  # the host's own read figure (catalog estimate, file, option)
    read_bytes_per_s: float  # the read rate that reproduces observed_tok_s
    theoretical_bytes_per_s: float | None

    @property
    def read_vs_host(self) -> float:
        """Calibrated read over the host's own figure."""
        return self.read_bytes_per_s / self.host_read_bytes_per_s


def decode_and_bound(report: OffloadReport) -> tuple[float, str]:
    """A report's decode tok/s and what bounds it; refused where moeplan prices no decode (a run
    it sizes as not fitting)."""
    if report.decode_tok_s is None or report.speed is None:
        raise MoeplanError(
            f"--calibrate-host: moeplan prices no decode for this run ({report.reason}); "
            "calibrate from a run it sizes as fitting"
        )
    return report.decode_tok_s, report.speed.decode_bound


def calibrate_read(
    decode_tok_s: Callable[[float], float],
    observed_tok_s: float,
    host_read_bytes_per_s: float,
    theoretical_bytes_per_s: float | None,
    bound_at: Callable[[float], str],
    engine_share: float = 1.0,
) -> HostCalibration:
    """The host read rate (bytes/s) at which `decode_tok_s(read)` equals `observed_tok_s`.

    `decode_tok_s` is moeplan's decode estimate with the host read rate set to its argument,
    everything else as the run; `bound_at(read)` names what bounds decode at that rate (for the
    refusal when no rate explains the run); `engine_share` is the share of the read the engine's
    expert matvecs reach (OffloadProfile.host_bw_efficiency). The search runs from
    MIN_READ_BYTES_PER_S to the theoretical bandwidth / engine_share, the engine streaming the
    experts at the DRAM's whole theoretical rate: a run faster than that allows, or than
    moeplan's GPU side and CPU compute allow at any read, is refused (one line, exit 2), since no
    host read explains it. The rate found may exceed the theoretical one: it is effective, the
    engine reaching more of this DRAM than its share says."""
    if not math.isfinite(observed_tok_s) or observed_tok_s <= 0:
        raise MoeplanError(f"--calibrate-host must be a positive tok/s, got {observed_tok_s}")
    if theoretical_bytes_per_s:
        top = theoretical_bytes_per_s / engine_share
        ceiling = (
            "the engine reading the host's whole theoretical "
            f"{theoretical_bytes_per_s / 1e9:,.1f} GB/s"
        )
    else:
        top, ceiling = UNBOUNDED_READ_BYTES_PER_S, "any host read rate"
    lo, hi = MIN_READ_BYTES_PER_S, max(top, MIN_READ_BYTES_PER_S)
    fastest = decode_tok_s(hi)
    if observed_tok_s > fastest * (1 + 1e-9):
        raise MoeplanError(
            f"--calibrate-host {observed_tok_s:g} tok/s is faster than moeplan's decode estimate "
            f"of this run with {ceiling} ({fastest:,.2f} tok/s, bound by {bound_at(hi)}): no "
            "host read explains it; check the run's settings (model, quant, --n-cpu-moe, threads)"
        )
    slowest = decode_tok_s(lo)
    if observed_tok_s < slowest:
        raise MoeplanError(
            f"--calibrate-host {observed_tok_s:g} tok/s is slower than moeplan's decode estimate "
            f"of this run at a {lo / 1e9:g} GB/s host read ({slowest:,.3g} tok/s): the run was "
            "not bound by DRAM reads (paging from disk, another load, other settings)"
        )
    for _ in range(_STEPS):
        mid = math.sqrt(lo * hi)
        if decode_tok_s(mid) < observed_tok_s:
            lo = mid
        else:
            hi = mid
    return HostCalibration(
        observed_tok_s=observed_tok_s,
        estimated_tok_s=decode_tok_s(host_read_bytes_per_s),
        host_read_bytes_per_s=host_read_bytes_per_s,
        read_bytes_per_s=hi,
        theoretical_bytes_per_s=theoretical_bytes_per_s,
    )


def above_theoretical_note(theoretical_bytes_per_s: float) -> str:
    """Why a calibrated host file has no channels or MT/s: its read is above the theoretical."""
    return (
        f"the calibrated read is above the {theoretical_bytes_per_s / 1e9:.1f} GB/s theoretical "
        "rate: the engine reaches more of this DRAM than its host efficiency says (an effective "
        "rate); channels and MT/s are left out"
    )
