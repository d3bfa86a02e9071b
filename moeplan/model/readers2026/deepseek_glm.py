"""DeepSeek-V4 (deepseek_v4.py) and GLM-5.3 (glm5_next)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moeplan.model.families import Traits
from moeplan.model.fields import Fields
from moeplan.model.readers2026.deepseek_v4 import deepseek_v4

READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {"deepseek_v4": deepseek_v4}
TRAITS: dict[str, Traits] = {}
# fields these families' configs carry that change no count (named per field, with why)
HARMLESS: frozenset[str] = frozenset()
