"""Families that transformers 5.x added in 2026 (DeepSeek-V4, Gemma 4, Mistral Large 4, Qwen4,
...), one module per group of related families. Each module exports ``READERS`` (model_type ->
reader returning ModelSpec fields, as ``model/readers.py``), ``TRAITS`` (model_type ->
``families.Traits`` for families the standard blocks read) and ``HARMLESS`` (their config fields
that change no count); this package merges them for ``hf_config``. Every family here is checked
to the parameter against its modeling code (``tools/transformers_survey.py``, and
``tests/test_against_transformers.py`` where transformers is installed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moeplan.model.families import Traits
from moeplan.model.fields import Fields
from moeplan.model.readers2026 import (
    deepseek_glm,
    gemma_mistral,
    grok,
    hy_minimax_exaone,
    hybrid,
    minimax01,
    misc,
    qwen_step_muse,
    small,
    smallthinker,
)

Reader = Callable[[Fields, str], dict[str, Any]]
_GROUPS = (
    deepseek_glm,
    gemma_mistral,
    grok,
    hybrid,
    hy_minimax_exaone,
    minimax01,
    misc,
    qwen_step_muse,
    small,
    smallthinker,
)

READERS: dict[str, Reader] = {k: v for g in _GROUPS for k, v in g.READERS.items()}
TRAITS: dict[str, Traits] = {k: v for g in _GROUPS for k, v in g.TRAITS.items()}
HARMLESS: frozenset[str] = frozenset().union(*(g.HARMLESS for g in _GROUPS))
FAMILY_OF_ARCHITECTURE: dict[str, str] = {
    **smallthinker.FAMILY_OF_ARCHITECTURE,
    **grok.FAMILY_OF_ARCHITECTURE,
}
