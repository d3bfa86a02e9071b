"""boxtable draws tables exactly as rich does (or declines), compared with rich."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from moeplan.cli.boxtable import box_table, note_line

rich_console = __import__("pytest").importorskip("rich.console")
rich_table = __import__("pytest").importorskip("rich.table")

TEXT = st.text(alphabet=st.sampled_from("abcXYZ 019,.-+%()/×–µ:[]_ 漢"), min_size=0, max_size=14)


def _rich(title, headers, rows, right, width, styled, notes=()):
    buf = io.StringIO()
    console = rich_console.Console(
        file=buf,
        width=width,
        soft_wrap=False,
        force_terminal=styled,
        color_system="standard" if styled else None,
    )
    table = rich_table.Table(title=title, title_justify="left")
    for h, r in zip(headers, right, strict=True):
        table.add_column(h, justify="right" if r else "left")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for n in notes:
        console.print(f"  note: {n}", highlight=False)
    return buf.getvalue()


@st.composite
def tables(draw):
    n_cols = draw(st.integers(1, 5))
    headers = draw(st.lists(TEXT, min_size=n_cols, max_size=n_cols))
    rows = draw(st.lists(st.lists(TEXT, min_size=n_cols, max_size=n_cols), min_size=0, max_size=4))
    right = draw(st.lists(st.booleans(), min_size=n_cols, max_size=n_cols))
    return draw(TEXT), headers, rows, right


@settings(max_examples=300, deadline=None, derandomize=True)
@given(tables(), st.sampled_from([20, 40, 160]), st.booleans(), st.lists(TEXT, max_size=2))
def test_box_table_is_rich_or_declines(table, width, styled, notes):
    title, headers, rows, right = table
    fast = box_table(title, headers, rows, right, width, styled)
    lines = [note_line(n, width) for n in notes]
    if fast is not None and None not in lines:
        assert fast + "".join(lines) == _rich(title, headers, rows, right, width, styled, notes)


def test_a_typical_table_takes_the_fast_path():
    """The tables moeplan prints (ASCII figures, a title shorter than the table) are drawn."""
    rows = [["embedding", "196,608,000", "0.39 GB (0.37 GiB)"], ["total", "1", "-"]]
    headers = ["component", "params", "weights"]
    args = ("Mixtral: parameters", headers, rows, [False, True, True])
    for styled in (False, True):
        fast = box_table(*args, 160, styled)
        assert fast is not None
        assert fast == _rich(*args, 160, styled)


def test_plain_tables_are_drawn_and_equal_rich():
    """500 seeded tables like moeplan's: each takes the fast path and equals rich."""
    import random

    rng = random.Random(7)
    words = ["a", "GB", "1,024", "0.39", "(0.37 GiB)", "+1.5%", "x", "bf16", "–", "×", "µs", "-"]

    def text() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(1, 3)))

    for _ in range(500):
        n_cols = rng.randint(1, 4)
        headers = [text() for _ in range(n_cols)]
        rows = [[text() for _ in range(n_cols)] for _ in range(rng.randint(1, 5))]
        right = [rng.random() < 0.5 for _ in range(n_cols)]
        title = rng.choice(words)  # narrower than the table, as moeplan's titles are
        styled = rng.random() < 0.5
        fast = box_table(title, headers, rows, right, 160, styled)
        assert fast is not None
        assert fast == _rich(title, headers, rows, right, 160, styled)
