"""The speculative-decoding options `latency` and `throughput` share (--mtp, --mtp-acceptance),
checked together at the edge."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from moeplan.errors import MoeplanError

if TYPE_CHECKING:
    from moeplan.perf.speculation import Speculation

MtpOpt = Annotated[
    int,
    typer.Option(
        "--mtp",
        help="Draft tokens per step with the model's MTP layers (speculative decoding); needs "
        "--mtp-acceptance.",
    ),
]
MtpAccOpt = Annotated[
    float | None,
    typer.Option(
        "--mtp-acceptance",
        help="Probability each draft token is accepted given the one before was (0-1); "
        "DeepSeek-V3 reports 0.85-0.90 for its one MTP token.",
    ),
]


def speculation_of(mtp: int, acceptance: float | None) -> Speculation:
    """--mtp K with --mtp-acceptance A as a perf.speculation.Speculation; one without the other
    is refused (a draft with no acceptance would only cost)."""
    from moeplan.perf.speculation import Speculation

    if mtp and acceptance is None:
        raise MoeplanError(
            f"--mtp {mtp} needs --mtp-acceptance (each draft token's acceptance, 0-1; "
            "DeepSeek-V3 reports 0.85-0.90)"
        )
    if not mtp and acceptance is not None:
        raise MoeplanError("--mtp-acceptance needs --mtp K (draft tokens per step)")
    return Speculation(mtp, acceptance or 0.0)
