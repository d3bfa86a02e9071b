"""Hy3 / Hy4, MiniMax-M3, K-EXAONE, Command A Plus (cohere2_moe), Laguna."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moeplan.model.families import Traits
from moeplan.model.fields import Fields

READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {}
TRAITS: dict[str, Traits] = {}
# fields these families' configs carry that change no count (named per field, with why)
HARMLESS: frozenset[str] = frozenset()
