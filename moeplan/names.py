"""Closest-name suggestions for unknown model, GPU and quantization ids."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def suggest(key: str, aliases_by_id: dict[str, Iterable[str]], n: int = 4) -> list[str]:
    """Ids whose id or an alias is close to `key` (difflib), or contains it / is contained."""
    owner = {name: cid for cid, names in aliases_by_id.items() for name in (cid, *names)}
    close = difflib.get_close_matches(key, list(owner), n=6, cutoff=0.5)
    close += [name for name in owner if key and (key in name or name in key)]
    ids: list[str] = []
    for name in close:
        if owner[name] not in ids:
            ids.append(owner[name])
    return ids[:n]
