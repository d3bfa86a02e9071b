"""Every command's output is pinned: a refactor must leave it byte for byte as it was.

When an output change is intended, regenerate with `python tests/golden/make.py` and read the
diff before committing it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import REPO
from .golden.make import run

GOLDEN = Path(__file__).parent / "golden"
LINES = (GOLDEN / "commands.txt").read_text().splitlines()


@pytest.mark.parametrize("index", range(len(LINES)), ids=LINES)
def test_output_unchanged(index, monkeypatch):
    monkeypatch.chdir(REPO)
    line = LINES[index]
    expected = (GOLDEN / f"{index:02d}.out").read_text()
    assert f"$ moeplan {line}\n" + run(line) == expected
