"""Data files shipped with moeplan (GPU catalog, published measurements, ...)."""

from __future__ import annotations

from pathlib import Path


def data_path(name: str) -> Path:
    """The shipped file `name` (files sit beside this module, installed or not)."""
    return Path(__file__).with_name(name)
