"""One renderer: the same rows as a box table, a markdown table (tabulate) or JSON.

Box tables are drawn by `boxtable` exactly as rich draws them, and by rich itself where only rich
can (wrapping to a narrow terminal, markup): importing and running rich costs ~50 ms at start-up.

Also the unit formatting: every byte figure is shown in decimal GB with GiB beside it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from moeplan.cli.boxtable import box_table, note_line

FORMATS = ("table", "json", "markdown")


@dataclass
class Table:
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    notes: list[str] = field(default_factory=list)


def gb(n_bytes: float) -> str:
    """Decimal GB with binary GiB beside it: '26.44 GB (24.62 GiB)'."""
    return f"{n_bytes / 1e9:,.2f} GB ({n_bytes / 2**30:,.2f} GiB)"


def small_bytes(n_bytes: float) -> str:
    if n_bytes < 2**20:
        return f"{n_bytes / 1024:,.1f} KiB ({n_bytes:,.0f} B)"
    return gb(n_bytes)


def billions(n: float) -> str:
    return f"{n / 1e9:,.3f} B"


def pct(x: float) -> str:
    return f"{x * 100:+.2f}%"


_NON_FINITE = re.compile(r"(?<![\w.])[+-]?(nan|inf)(?![\w])", re.IGNORECASE)


def emit(tables: Sequence[Table], fmt: str, json_doc: Any = None) -> None:
    """Print tables (rich on a terminal, markdown) or the JSON document."""
    if fmt == "json":  # NaN/Infinity are no JSON: a defect upstream, refused (exit 3)
        text = json.dumps(json_doc, indent=2, default=_json_default, allow_nan=False)
        sys.stdout.write(text + "\n")
        return
    for t in tables:
        bad = next((c for r in t.rows for c in map(str, r) if _NON_FINITE.search(c)), None)
        if bad is not None:
            raise ValueError(f"table '{t.title}' holds a non-finite number: {bad!r:.60}")
    if fmt == "markdown":
        from tabulate import tabulate

        parts = []
        for t in tables:
            parts.append(f"### {t.title}\n")
            parts.append(
                tabulate(
                    [list(map(str, r)) for r in t.rows], headers=list(t.headers), tablefmt="github"
                )
            )
            parts.extend(f"\n- {n}" for n in t.notes)
            parts.append("\n")
        sys.stdout.write("\n".join(parts) + "\n")
        return
    mode = _plain_console()
    for t in tables:
        cells = [[str(c) for c in r] for r in t.rows]
        right = [i > 0 and all(_numeric(r[i]) for r in cells) for i in range(len(t.headers))]
        fast: str | None = None
        notes: list[str | None] = []
        if mode is not None:
            width, styled = mode
            fast = box_table(t.title, t.headers, cells, right, width, styled)
            notes = [note_line(n, width) for n in t.notes]
        if fast is None or None in notes:
            _rich_print(t, cells, right)
        else:
            sys.stdout.write(fast + "".join(n for n in notes if n))


def _plain_console() -> tuple[int, bool] | None:
    """(width, styled) of the console rich would open, where boxtable can draw for it.

    Pipes and files: width 160, no styles (as `_rich_print` sets). A terminal: its width (COLUMNS
    first, as rich reads it), bold/italic unless TERM is dumb. None where rich decides by
    environment variables or platform quirks that boxtable does not mirror.
    """
    env = os.environ
    if os.name == "nt" or any(
        k in env for k in ("FORCE_COLOR", "TTY_COMPATIBLE", "JUPYTER_COLUMNS")
    ):
        return None
    try:
        terminal = sys.stdout.isatty()
    except (AttributeError, ValueError):
        return None
    if not terminal:
        return 160, False
    columns = env.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() else shutil.get_terminal_size().columns
    return width, env.get("TERM", "").lower() not in ("dumb", "unknown")


def _rich_print(t: Table, cells: list[list[str]], right: list[bool]) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console(soft_wrap=False)
    if not console.is_terminal:  # pipes and CI logs: wide enough not to wrap figures
        console = Console(soft_wrap=False, width=160)
    rt = RichTable(title=t.title, title_justify="left")
    for h, r in zip(t.headers, right, strict=True):
        # a word longer than its column (a record id) folds onto the next line: never cut short
        rt.add_column(h, justify="right" if r else "left", overflow="fold")
    for row in cells:
        rt.add_row(*row)
    console.print(rt)
    for n in t.notes:
        console.print(f"  note: {n}", highlight=False)


def _numeric(cell: str) -> bool:
    """Figures are right-aligned: cells that start with a digit or a sign, or are '-'."""
    return cell == "-" or cell[:1].isdigit() or (cell[:1] in "+-" and cell[1:2].isdigit())


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "value"):  # enums
        return obj.value
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
