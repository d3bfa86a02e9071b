"""Offload records whose source states a ubatch size (llama.cpp -ub N, --ubatch-size N, -ub=N,
llama-bench -ub "a,b") carry it in their moeplan block as ubatch_tokens: llama.cpp sizes its GPU
compute buffer by the ubatch, so leaving it out prices the run at the engine default (512) and
can hide a wrong fit verdict (review21 P1)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from moeplan.plan.validate_offload import load_offload_records

UBATCH_FLAG = re.compile(r"(?<![\w-])(?:-ub|--ubatch-size|--ubatch)(?:\s+|=)\"?([0-9][0-9,]*)")
MENTION = re.compile(r"(?<![\w-])(?:-ub|--ubatch-size|--ubatch)(?![\w-])")


def ubatch_problem(rec: dict[str, Any]) -> str | None:
    """Why a record's moeplan block disagrees with the ubatch its flags state (None: it agrees
    or the flags state none). A list (a llama-bench sweep) must hold the row's value."""
    flags = f"{rec.get('flags', '')} {rec.get('engine', '')}"  # some state it in the engine line
    how = rec["moeplan"]
    if "skip" in how or not MENTION.search(flags):
        return None
    stated = {int(v) for m in UBATCH_FLAG.finditer(flags) for v in m.group(1).split(",") if v}
    if not stated:
        return f"flags mention a ubatch but give no number: {flags!r}"
    got = how.get("ubatch_tokens")
    if got is None:
        return f"flags state -ub {sorted(stated)}, moeplan block has no ubatch_tokens"
    if got not in stated:
        return f"ubatch_tokens {got} is not the flags' -ub {sorted(stated)}"
    return None


@pytest.mark.parametrize(
    ("flags", "how", "bad"),
    [
        ("-b 2048 -ub 2048 -fa on", {}, True),
        ("-b 2048 -ub 2048 -fa on", {"ubatch_tokens": 2048}, False),
        ("--ubatch-size=4096", {"ubatch_tokens": 512}, True),
        ('llama-bench -ub "256,512"', {"ubatch_tokens": 512}, False),
        ('llama-bench -ub "256,512"', {"ubatch_tokens": 1024}, True),
        ("-ub ... the default", {"ubatch_tokens": 512}, True),
        ("--n-cpu-moe 31 -ngl 99", {}, False),
        ("-ub 2048", {"skip": "unreadable"}, False),
    ],
)
def test_the_check_catches_a_missing_or_wrong_ubatch(flags: str, how: dict[str, Any], bad: bool):
    assert (ubatch_problem({"flags": flags, "moeplan": how}) is not None) == bad


def test_every_record_that_states_a_ubatch_carries_it():
    problems = [f"{r['id']}: {p}" for r in load_offload_records() if (p := ubatch_problem(r))]
    assert problems == []
