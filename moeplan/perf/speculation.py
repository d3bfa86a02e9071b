"""Speculative decoding with a model's own MTP layers (or a draft model priced like one): how many
tokens a step gains, what drafting costs, and one decode step that verifies the drafts.

A step verifies 1 + k tokens a sequence: the weights are read once, the experts those tokens
route to (more distinct experts than one token's, moe_activations.expected_experts_touched) and
the KV once a sequence; then k drafts each run one MTP layer and the LM head. Used by `latency`
(one batch) and `throughput` (perf/serving.py mixed_step)."""

from __future__ import annotations

from dataclasses import dataclass

from moeplan.errors import MoeplanError
from moeplan.model.params import count_params
from moeplan.model.specs import ModelSpec
from moeplan.perf.phases import Phase, Setup, decode_step

MAX_DRAFT_TOKENS = 16
"""Speculative tokens per step accepted as input: engines propose 1-8 (EAGLE, DeepSeek MTP)."""


@dataclass(frozen=True)
class Speculation:
    """MTP / speculative decoding: `draft_tokens` proposed per step, each accepted with
    probability `acceptance` given the previous one was (the usual chain model)."""

    draft_tokens: int = 0
    acceptance: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.draft_tokens <= MAX_DRAFT_TOKENS or not 0.0 <= self.acceptance <= 1.0:
            raise MoeplanError(
                f"--mtp must be within 0..{MAX_DRAFT_TOKENS} and --mtp-acceptance within 0..1"
            )

    @property
    def tokens_per_step(self) -> float:
        """Expected tokens a sequence gains per step: 1 + a + a^2 + ... + a^k (Leviathan et al.
        2023, eq. 1, with a per-token acceptance a)."""
        return sum(self.acceptance**i for i in range(self.draft_tokens + 1))

    def draft_cost_fraction(self, spec: ModelSpec) -> float:
        """Of a step's time, what drafting k tokens adds: each draft runs one MTP decoder layer
        and the LM head over the batch (DeepSeek-V3 tech report sec. 2.2: the MTP module's
        output head is the model's; vLLM and SGLang sample every draft from the full
        vocabulary). A step splits into L layers and the head, the head taking h of it, h = the
        LM head's share of the active parameters (a step's weight reads and FLOPs both scale
        with them): a draft costs (1 - h) / L + h. DeepSeek-V3: h = 0.927 / 36.63 B, 4.1% a
        draft token (1 / 61 = 1.6% without the head); Qwen3-Next-80B: 10.6% (2.1%)."""
        if not self.draft_tokens:
            return 0.0
        counts = count_params(spec)
        head = counts.active_breakdown["lm_head"] / counts.active if counts.active else 0.0
        return self.draft_tokens * ((1.0 - head) / spec.num_layers + head)

    def with_drafts(self, step: Phase, spec: ModelSpec) -> Phase:
        """`step` (the verify step) with the k drafts' time added (draft_cost_fraction)."""
        draft = self.draft_cost_fraction(spec)
        return step.scaled(1.0 + draft) if draft else step


NO_SPECULATION = Speculation()


def speculation_json(speculation: Speculation) -> dict[str, float]:
    """The drafting a report priced, as its JSON gives it (0 draft tokens: none)."""
    return {
        "draft_tokens": speculation.draft_tokens,
        "acceptance": speculation.acceptance,
        "tokens_per_step": round(speculation.tokens_per_step, 4),
    }


def speculative_decode_step(
    setup: Setup, batch: int, context: int, speculation: Speculation = NO_SPECULATION
) -> Phase:
    """One step of `batch` sequences verifying 1 + k tokens each (phases.decode_step), plus the
    k drafts (Speculation.draft_cost_fraction); a sequence gains tokens_per_step from it."""
    step = decode_step(setup, batch, context, 1 + speculation.draft_tokens)
    return speculation.with_drafts(step, setup.spec)


def speculation_notes(spec: ModelSpec, speculation: Speculation) -> list[str]:
    """What a report with drafting says about it: the tokens a step gains, what a step verifies
    and costs, and, for a model without MTP layers, what is not counted."""
    k = speculation.draft_tokens
    if not k:
        return []
    notes = [
        f"decode drafts {k} token(s) a step, each accepted with probability "
        f"{speculation.acceptance:g} after the one before: {speculation.tokens_per_step:.2f} "
        f"tokens a step (Leviathan et al. 2023, eq. 1); a step verifies {k + 1} tokens a "
        f"sequence (their experts, not one token's) and the drafts add "
        f"{speculation.draft_cost_fraction(spec) * 100:.1f}% to it; TPOT = step / tokens a step"
    ]
    if spec.mtp_layers:
        notes.append(
            f"memory holds the {spec.mtp_layers} MTP layer(s) the drafts run, weights and KV"
        )
    else:
        notes.append(
            f"{spec.name} has no MTP layers: each draft is priced as one decoder layer and the "
            "LM head; a separate draft model's weights and cache are not counted"
        )
    return notes
