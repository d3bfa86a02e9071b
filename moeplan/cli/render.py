"""One renderer: the same rows as a rich table, a markdown table (tabulate) or JSON.

Also the unit formatting: every byte figure is shown in decimal GB with GiB beside it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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


def emit(tables: Sequence[Table], fmt: str, json_doc: Any = None) -> None:
    """Print tables (rich on a terminal, markdown) or the JSON document."""
    if fmt == "json":
        sys.stdout.write(json.dumps(json_doc, indent=2, default=_json_default) + "\n")
        return
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
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console(soft_wrap=False)
    if not console.is_terminal:  # pipes and CI logs: wide enough not to wrap figures
        console = Console(soft_wrap=False, width=160)
    for t in tables:
        rt = RichTable(title=t.title, title_justify="left")
        for i, h in enumerate(t.headers):
            numeric = all(_numeric(str(r[i])) for r in t.rows) and i > 0
            rt.add_column(h, justify="right" if numeric else "left")
        for r in t.rows:
            rt.add_row(*map(str, r))
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
