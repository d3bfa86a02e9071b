"""Tables drawn the way rich draws them, without importing rich (about 50 ms at start-up).

`box_table` returns the exact text rich's ``Table(title=..., title_justify="left")`` prints
(heavy-head box, one space of padding, no wrapping), or None when the table needs something only
rich does: wrapping to the console width, wide (east-asian) characters, markup or emoji codes.
The caller then falls back to rich, so the output is the same either way; a test compares the
two on many tables.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

BOLD, ITALIC, RESET = "\x1b[1m", "\x1b[3m", "\x1b[0m"
_NARROW = {"N", "Na", "H", "A"}  # one cell wide in rich (ambiguous-width counts as one)
_RICH_ONLY = re.compile(r"\[|:[\w+-]+:")  # rich markup tags and emoji codes


def _plain(text: str) -> bool:
    """Text whose width is its length and that rich prints as it is."""
    if _RICH_ONLY.search(text) or text != text.strip() or "  " in text:
        return False  # markup, emoji codes; whitespace that rich may wrap or trim
    return all(
        (ch.isascii() and ch.isprintable())
        or (unicodedata.east_asian_width(ch) in _NARROW and not unicodedata.combining(ch))
        for ch in text
    )


def box_table(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    right_aligned: Sequence[bool],
    width: int,
    styled: bool,
) -> str | None:
    """The table as rich prints it at console `width`, or None where only rich can."""
    cells = [list(headers), *(list(r) for r in rows)]
    if not rows or not all(headers) or not all(_plain(c) for row in cells for c in row):
        return None
    if not _plain(title):
        return None
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    table_width = sum(widths) + 3 * len(widths) + 1
    if table_width > width or len(title) > table_width:
        return None

    def cell(text: str, i: int) -> str:
        return text.rjust(widths[i]) if right_aligned[i] else text.ljust(widths[i])

    def rule(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def bold(text: str) -> str:
        return f"{BOLD}{text}{RESET}" if styled else text

    title_line = title.ljust(table_width)
    header = "┃".join(bold(" ") + bold(cell(h, i)) + bold(" ") for i, h in enumerate(headers))
    lines = [
        *([f"{ITALIC}{title_line}{RESET}" if styled else title_line] if title else []),
        rule("┏", "━", "┳", "┓"),
        f"┃{header}┃",
        rule("┡", "━", "╇", "┩"),
        *("│" + "│".join(f" {cell(c, i)} " for i, c in enumerate(r)) + "│" for r in rows),
        rule("└", "─", "┴", "┘"),
    ]
    return "\n".join(lines) + "\n"


def note_line(note: str, width: int) -> str | None:
    """A note as rich prints it (markup on, no highlighting), or None if it would wrap."""
    line = f"  note: {note}"
    return line + "\n" if _plain(note) and len(line) <= width else None
