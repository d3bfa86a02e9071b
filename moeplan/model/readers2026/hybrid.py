"""Hybrid mixers: Kimi-Linear, Bailing hybrid, Granite 4 (hybrid), LFM2-MoE, ZAYA, AFMoE,
Inkling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moeplan.model.families import Traits
from moeplan.model.fields import Fields
from moeplan.model.readers2026 import granite, kda

READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {**kda.READERS, **granite.READERS}
TRAITS: dict[str, Traits] = {}
# fields these families' configs carry that change no count (named per field, with why)
HARMLESS: frozenset[str] = kda.HARMLESS | granite.HARMLESS
