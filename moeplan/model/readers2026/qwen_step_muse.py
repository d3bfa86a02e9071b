"""Qwen4-Exp, Step-3.5 / Step-3.7, Muse Spark."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moeplan.model.families import Traits
from moeplan.model.fields import Fields
from moeplan.model.readers2026.step import step3p5

READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {
    "step3p5": step3p5,  # the step3p7 wrapper's text_config is a step3p5 config
}
TRAITS: dict[str, Traits] = {}
# fields these families' configs carry that change no count (named per field, with why)
HARMLESS: frozenset[str] = frozenset()
