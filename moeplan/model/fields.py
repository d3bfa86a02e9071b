"""Typed, validated access to the fields of a config mapping; errors name the file and field."""

from __future__ import annotations

import builtins
import math
from typing import Any, TypeGuard

from moeplan.errors import SpecError

MISSING = object()
MAX_LAYERS = 4096
"""Most layers (or layer-like counts) a config may declare: 30x the deepest published LLM
(~130 layers); every layer is a tuple entry, so a bound keeps a typo from hanging the reader."""
MAX_FIELD = 1 << 31
"""Most any other integer field may be (widths, vocab, experts, positions): products of a few of
these stay far below float range, so no estimate overflows."""


def is_whole(value: Any) -> TypeGuard[int]:
    """An integer, and not a bool (JSON's true/false are no counts)."""
    return isinstance(value, int) and not isinstance(value, bool)


def config_int(cfg: dict[str, Any], key: str, default: int | None = None, minimum: int = 0) -> int:
    """An integer field of a config read outside Fields (a tower's vision_config): ValueError
    naming the key when it is absent, not an integer or below `minimum` (towers.count_tower
    then names the tower as not understood)."""
    value = cfg.get(key, default)
    if not is_whole(value) or value < minimum:
        raise ValueError(key)
    return value


class Fields:
    """Typed, validated access to one config mapping; errors name the source and field."""

    def __init__(self, cfg: dict[str, Any], where: str) -> None:
        self.cfg = cfg
        self.where = where
        self.read: set[builtins.str] = set()  # fields a reader looked at

    def get(self, key: builtins.str, default: Any = None) -> Any:
        self.read.add(key)
        return self.cfg.get(key, default)

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def int(
        self,
        key: str,
        default: Any = MISSING,
        minimum: builtins.int = 1,
        maximum: builtins.int | None = None,
    ) -> builtins.int:
        """An integer field; bounded by MAX_LAYERS when its name says layer (a count of layers),
        else MAX_FIELD, unless `maximum` says (a vocabulary named per layer is no layer count)."""
        value = self.get(key)
        if value is None:
            if default is MISSING:
                raise SpecError(f"{self.where}: missing field '{key}'")
            return builtins.int(default)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value != int(value)
        ):
            raise SpecError(f"{self.where}: field '{key}' must be an integer, got {value!r:.60}")
        if int(value) < minimum:
            raise SpecError(f"{self.where}: field '{key}' must be >= {minimum}, got {value!r}")
        if maximum is None:
            maximum = MAX_LAYERS if "layer" in key else MAX_FIELD
        if int(value) > maximum:
            raise SpecError(
                f"{self.where}: field '{key}' is {value!r}: above the sane bound {maximum:,}"
            )
        return int(value)

    def opt_int(self, key: str, minimum: builtins.int = 1) -> builtins.int | None:
        return None if self.get(key) is None else self.int(key, minimum=minimum)

    def bool(self, key: str, default: bool = False) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise SpecError(f"{self.where}: field '{key}' must be true/false, got {value!r}")
        return value

    def int_list(self, key: str) -> list[builtins.int]:
        value = self.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
            raise SpecError(f"{self.where}: field '{key}' must be a list of integers")
        return value

    def first(self, *keys: builtins.str) -> builtins.str | None:
        """The first of `keys` the config sets (aliases of one quantity across families)."""
        return next((k for k in keys if self.get(k) is not None), None)

    def int_of(
        self, keys: tuple[builtins.str, ...], default: Any = MISSING, minimum: builtins.int = 1
    ) -> builtins.int:
        key = self.first(*keys)
        if key is None:
            if default is MISSING:
                raise SpecError(f"{self.where}: missing field '{keys[0]}'")
            return builtins.int(default)
        return self.int(key, minimum=minimum)

    def str(self, key: builtins.str, default: builtins.str = "") -> builtins.str:
        value = self.get(key)
        return default if value is None else builtins.str(value)

    def list(self, key: builtins.str) -> builtins.list[Any]:
        value = self.get(key)
        if value is None:
            return []
        if not isinstance(value, builtins.list):
            raise SpecError(f"{self.where}: field '{key}' must be a list")
        return value


def div(a: int, b: int, f: Fields, what: str) -> int:
    if a % b:
        raise SpecError(f"{f.where}: cannot derive '{what}': {a} is not divisible by {b}")
    return a // b
