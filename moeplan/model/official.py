"""The publishers' parameter counts beside moeplan's, on what each publisher says it counts.

An active count is compared on the publisher's own definition (with or without the input
embedding and the LM head) where the publisher states one, with the quote's source. Where it
states none, the figure is shown beside all three of moeplan's counts and no convention is
claimed. A figure is met when the count lies within the figure's published rounding: "37B"
stands for 36.5-37.5B, "3.3B" for 3.25-3.35B, "1.04T" for 1.035-1.045T. A figure the count
cannot meet is a known discrepancy with its explanation, never a wider tolerance."""

from __future__ import annotations

from dataclasses import dataclass

from moeplan.model.params import ParamCounts
from moeplan.model.specs import ModelSpec

# moeplan's three active counts, by what each includes
CONVENTIONS = {
    "with_embedding": "input embedding and LM head",
    "without_input_embedding": "LM head, not the input embedding",
    "without_embeddings": "neither the input embedding nor the LM head",
}
UNSTATED = "unstated"  # the publisher gives no definition


def active_by_convention(params: ParamCounts, convention: str) -> int:
    """moeplan's active count under one of CONVENTIONS."""
    return {
        "with_embedding": params.active_with_embedding,
        "without_input_embedding": params.active,
        "without_embeddings": params.active_without_embeddings,
    }[convention]


def published_half_unit(published: float) -> float:
    """Half a unit of the figure's last published digit, in parameters: the interval a rounded
    figure stands for. Figures of 1e12 and more are read in T ("1.04T"), others in B."""
    unit = 1e12 if published >= 1e12 else 1e9
    digits = f"{published / unit:.6g}"
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return float(0.5 * 10**-decimals * unit)


def within_rounding(computed: float, published: float, truncated: bool = False) -> bool:
    """Does `computed` round (or, for a truncated figure, truncate) to `published`?"""
    half = published_half_unit(published)
    if truncated:  # "21B" for 21.8B: the figure is a floor, one unit wide
        return published <= computed < published + 2 * half
    return abs(computed - published) <= half


@dataclass(frozen=True)
class OfficialComparison:
    figure: str  # "total" or "active"
    published: float
    computed: int
    convention: str  # what `computed` includes (a key of CONVENTIONS for "active")
    relative_error: float
    note: str = ""
    rounding: float = 0.0  # half a unit of the published figure's last digit, in parameters
    within_rounding: bool = True
    convention_stated: bool = True  # False: the publisher defines no convention
    convention_source: str = ""  # where the publisher states it, with the quote
    discrepancy: str = ""  # why a figure outside its rounding is, as far as known


def compare_official(
    spec: ModelSpec, params: ParamCounts
) -> tuple[tuple[OfficialComparison, ...], list[str]]:
    """Computed vs published counts, on what the published figure includes."""
    official = spec.official
    if official is None:
        return (), []
    out, notes = [], []
    missing = ", ".join(official.not_in_config)
    if official.total:
        note = f"official total includes {missing}, not in this config" if missing else ""
        computed, what = params.total, "main model"
        if "vision_encoder" in official.total_includes and not missing and params.towers:
            computed, what = params.total + params.towers_total, "main model + towers"
        out.append(
            OfficialComparison(
                "total",
                official.total,
                computed,
                what,
                computed / official.total - 1,
                note,
                published_half_unit(official.total),
                within_rounding(computed, official.total, official.total_truncated),
                discrepancy=official.total_discrepancy,
            )
        )
        if note:
            notes.append(note)
    if official.active:
        stated = official.active_convention != UNSTATED
        for convention in [official.active_convention] if stated else list(CONVENTIONS):
            computed = active_by_convention(params, convention)
            out.append(
                OfficialComparison(
                    "active",
                    official.active,
                    computed,
                    convention,
                    computed / official.active - 1,
                    rounding=published_half_unit(official.active),
                    within_rounding=within_rounding(computed, official.active),
                    convention_stated=stated,
                    convention_source=official.active_convention_source,
                    discrepancy=official.active_discrepancy,
                )
            )
    if official.note:
        notes.append(official.note)
    return tuple(out), notes
