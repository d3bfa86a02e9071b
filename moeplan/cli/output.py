"""Files the CLI writes: checked before the work starts, never an input, never replaced without
--force, written atomically (a temporary file in the same folder, then renamed over the target)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from moeplan.errors import MoeplanError


def check_output(
    path: str, inputs: Iterable[str | Path] = (), force: bool = False, option: str = "--output"
) -> Path:
    """The output path, refused early when it cannot or must not be written."""
    if not path.strip():
        raise MoeplanError(f"{option}: empty file name")
    try:
        target = Path(path).expanduser()
        exists = target.exists() or target.is_symlink()
        if target.is_dir():
            raise MoeplanError(f"{option} {path}: is a folder, not a file")
        for item in inputs:
            if exists and Path(item).exists() and target.samefile(item):
                raise MoeplanError(
                    f"{option} {path}: is also an input ({item}): refusing to overwrite it"
                )
        if exists and not target.is_file():
            if not stat.S_ISCHR(target.stat().st_mode):
                raise MoeplanError(f"{option} {path}: not a regular file")
            return target  # /dev/stdout, /dev/null: written in place, nothing is replaced
        if exists and not force:
            raise MoeplanError(
                f"{option} {path}: file exists: refusing to overwrite it (use --force)"
            )
        folder = target.parent
        if not folder.is_dir():
            raise MoeplanError(f"{option} {path}: folder {folder} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise MoeplanError(f"{option} {path}: folder {folder} is not writable")
    except (OSError, RuntimeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise MoeplanError(f"{option} {path[:80]}: {reason}") from None
    return target


def write_atomic(path: Path, text: str, option: str = "--output") -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path` (a character
    device such as /dev/stdout is written in place: renaming over it would replace the device)."""
    if path.exists() and not path.is_file():
        try:
            with path.open("w", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            raise MoeplanError(f"{option} {path}: cannot write: {exc.strerror or exc}") from None
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("x", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise MoeplanError(f"{option} {path}: cannot write: {exc.strerror or exc}") from None
