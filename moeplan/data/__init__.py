"""Data files shipped with moeplan (GPU catalog, published measurements, ...)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any


def data_path(name: str) -> Path:
    """The shipped file `name` (files sit beside this module, installed or not)."""
    return Path(__file__).with_name(name)


@functools.cache
def shipped_error_bands(name: str) -> dict[str, Any]:
    """The `bands` mapping of a shipped error-band file (tools/error_bands.py writes them from
    the records of `moeplan validate`)."""
    from moeplan.yamlio import load_packaged_yaml

    bands: dict[str, Any] = load_packaged_yaml(data_path(name), f"moeplan/data/{name}")["bands"]
    return bands
