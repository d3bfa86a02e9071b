"""Which publication a validation record comes from, so that out-of-sample errors leave a whole
publication out of the fit, not one run of it.

Runs published together share their machine, build, settings and the way they were measured: a
poster's sweep of ten --n-cpu-moe values is one box measured ten times. Leaving one of those runs
out of a refit keeps its nine siblings in, and they pull the fitted constant toward it, so its
"leave-one-out" error is not the error of a run moeplan has never seen. The issue's acceptance
runs are other people's publications; the honest stand-in is leave-one-publication-out.

A publication is one document: a thread (a GitHub issue, discussion or pull request, a Reddit
post), a web page, or one file of a repository. `publication_of` reads it from the record's
`source` text by the rules below, in order; a record may name its own with `publication:`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

_REPO = r"([A-Za-z0-9][\w.-]*/[\w.-]+)"
_CODE_INDEX_ID = r"(?:code index|find_string) id (\d+)"

RULES: tuple[_Rule, ...] = (
    # a thread of a repository: "github:owner/repo issue 123", "owner/repo discussion 15396",
    # "github:owner/repo pull request 23346", "... PR 2175"
    (
        re.compile(
            rf"(?:github:)?{_REPO}[ ,(]+(?:issue|discussion|pull request|pull|PR)\s*#?(\d+)"
        ),
        lambda m: f"github:{m.group(1)}#{m.group(2)}",
    ),
    # a Reddit post by its id, from its URL or as "r/LocalLLaMA 1rei65v"
    (
        re.compile(r"reddit\.com/r/\w+/comments/(\w+)|(?:reddit\s+)?r/\w+\s+([0-9a-z]{6,8})\b"),
        lambda m: f"reddit:{m.group(1) or m.group(2)}",
    ),
    # a file of a repository: "github:owner/repo path/to/file.md@commit (...)"
    (
        re.compile(rf"github:{_REPO}(?:\s+([^\s(@,;'\"]+))?"),
        lambda m: f"github:{m.group(1)}" + (f"/{m.group(2)}" if m.group(2) else ""),
    ),
    # a web page: its host and path
    (
        re.compile(r"https?://([^\s'\"),;]+)"),
        lambda m: "web:" + m.group(1).rstrip("/."),
    ),
    # a file of the code index, by its id
    (
        re.compile(_CODE_INDEX_ID),
        lambda m: f"code:{m.group(1)}",
    ),
)


def publication_from_source(source: str) -> str:
    """The publication a source text names (RULES, first match), or the text itself."""
    for pattern, key in RULES:
        match = pattern.search(source)
        if match:
            return key(match)
    return "text:" + " ".join(source.split())


_CODE_ID = re.compile(rf"{_CODE_INDEX_ID}|\(id (\d+)\)")


def publication_of(rec: dict[str, Any]) -> str:
    """The record's publication: its own `publication:` field, else read from its `source`."""
    named = rec.get("publication")
    if isinstance(named, str) and named.strip():
        return named.strip()
    return publication_from_source(str(rec.get("source", "")))


def publication_index(records: list[dict[str, Any]]) -> dict[str, str]:
    """Each record id's publication (publication_of), with a code-index file that another record
    names by its repository path taking that path: one document, cited both ways."""
    keys = {str(rec["id"]): publication_of(rec) for rec in records}
    alias: dict[str, str] = {}
    for rec in records:
        key = keys[str(rec["id"])]
        if key.startswith("code:"):
            continue
        for match in _CODE_ID.finditer(str(rec.get("source", ""))):
            alias.setdefault(f"code:{match.group(1) or match.group(2)}", key)
    return {rid: alias.get(key, key) for rid, key in keys.items()}
