"""Hybrid mixers: Kimi-Linear, Bailing hybrid, Granite 4 (hybrid), LFM2-MoE, ZAYA, AFMoE,
Inkling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moeplan.model.families import Traits
from moeplan.model.fields import Fields
from moeplan.model.readers2026 import afmoe, granite, kda, lfm2

_MODULES = (kda, granite, lfm2, afmoe)
READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {
    k: v for m in _MODULES for k, v in m.READERS.items()
}
TRAITS: dict[str, Traits] = {}
# fields these families' configs carry that change no count (named per field, with why: see
# each module)
HARMLESS: frozenset[str] = frozenset().union(*(m.HARMLESS for m in _MODULES))
