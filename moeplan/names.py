"""Catalog name matching: what two spellings of one part share, and closest-name suggestions for
unknown model, GPU, host and quantization ids."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Protocol, TypeVar

from moeplan.errors import UnknownNameError

MARKETING_WORDS = frozenset(
    {"amd", "intel", "nvidia", "geforce", "radeon", "core", "processor", "cpu", "gpu", "graphics"}
)
"""Vendor and product-line words that spellings of one part carry or leave out ("NVIDIA GeForce
RTX 4090" / "rtx-4090", "AMD EPYC 9355 32-Core Processor" / "epyc-9355")."""


def catalog_key(name: str) -> str:
    """The catalog's own spelling of a typed name: lower case, spaces and underscores as hyphens."""
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def compact_key(name: str) -> str:
    """`name` reduced to what every spelling of the part keeps: lower case, no (R)/(TM) marks, no
    parenthesised remark, no "N-Core", "13th Gen", "with Radeon Graphics" or MARKETING_WORDS, no
    separators.
    A CPUID brand string ("Intel(R) Xeon(R) Gold 6454S", "AMD Ryzen Threadripper PRO 7975WX
    32-Cores") and a catalog id ("xeon-gold-6454s", "threadripper-pro-7975wx") meet here."""
    text = re.sub(r"\((?:r|tm)\)", " ", name.lower())
    text = re.sub(r"\([^)]*\)", " ", text)
    text = re.sub(r"\bwith radeon.*$", " ", text)
    text = re.sub(r"\b\d+-cores?\b|\b\d+(?:st|nd|rd|th) gen\b", " ", text)
    text = text.replace("ryzen threadripper", "threadripper")
    tokens = [t for t in re.split(r"[\s_\-]+", text) if t and t not in MARKETING_WORDS]
    return "".join(tokens)


def match_name(name: str, names_by_id: Mapping[str, Iterable[str]]) -> str | None:
    """The id whose id or one of its names is `name`: first as the catalog spells it
    (catalog_key), then by compact_key where exactly one id matches; None otherwise."""
    key = catalog_key(name)
    for cid, names in names_by_id.items():
        if key == cid or key in names:
            return cid
    compact = compact_key(name)
    hits = {
        cid
        for cid, names in names_by_id.items()
        if compact in {compact_key(n) for n in (cid, *names)}
    }
    return hits.pop() if compact and len(hits) == 1 else None


class CatalogEntry(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def aliases(self) -> tuple[str, ...]: ...


Entry = TypeVar("Entry", bound=CatalogEntry)


def catalog_lookup(kind: str, name: str, catalog: Mapping[str, Entry]) -> Entry:
    """The entry of `catalog` (by id) that `name` names (match_name over each entry's id, aliases
    and name), else UnknownNameError with the closest ids (suggest)."""
    found = match_name(name, {e.id: (*e.aliases, catalog_key(e.name)) for e in catalog.values()})
    if found is not None:
        return catalog[found]
    aliases = {e.id: e.aliases for e in catalog.values()}
    raise UnknownNameError(kind, name, suggest(catalog_key(name), aliases))


def mentions(text: str, *names: str) -> bool:
    """Whether any of `names` contains `text` (case-insensitive; spaces, hyphens and underscores
    alike), for catalog filters such as `list hosts --match epyc`."""
    needle = catalog_key(text)
    return any(needle in catalog_key(name) for name in names)


def suggest(key: str, aliases_by_id: Mapping[str, Iterable[str]], n: int = 4) -> list[str]:
    """Ids whose id or an alias is close to `key` (difflib), or contains it / is contained."""
    owner = {name: cid for cid, names in aliases_by_id.items() for name in (cid, *names)}
    close = difflib.get_close_matches(key, list(owner), n=6, cutoff=0.5)
    close += [name for name in owner if key and (key in name or name in key)]
    ids: list[str] = []
    for name in close:
        if owner[name] not in ids:
            ids.append(owner[name])
    return ids[:n]
