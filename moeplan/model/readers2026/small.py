"""Families the standard blocks read with a trait or two: GLM-4.7-Flash (glm4_moe_lite), Solar
Open, Mellum, A.X-K1, Beam, Kolibri, flint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moeplan.model.families import Traits
from moeplan.model.fields import Fields

READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {}
TRAITS: dict[str, Traits] = {}
# fields these families' configs carry that change no count (named per field, with why)
HARMLESS: frozenset[str] = frozenset()
