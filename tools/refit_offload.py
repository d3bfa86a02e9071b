"""Print the refit of the offload engines' fitted constants on their fitting records
(moeplan/plan/offload_refit.py) beside the shipped values."""

from __future__ import annotations

from moeplan.perf.offload_engines import OFFLOAD_ENGINES
from moeplan.plan.offload_refit import FAMILIES, refit_family


def _shown(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f}"


def main() -> None:
    for family in FAMILIES:
        for r in refit_family(family):
            shipped = getattr(OFFLOAD_ENGINES[family], r.field)
            print(
                f"{family:14s} {r.field:24s} refit {_shown(r.value)} (shipped {_shown(shipped)}): "
                f"median |error| {100 * r.median_abs_error:.1f}% over {len(r.record_ids)}"
            )
            for rid in r.record_ids:
                print(f"    {rid}")


if __name__ == "__main__":
    main()
