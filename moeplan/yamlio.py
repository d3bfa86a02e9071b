"""YAML reading with one-line errors (libyaml's C loader when present, for start-up speed).

`yaml` is imported only when a document is parsed. The files that ship with moeplan (the model
catalog, the GPU catalog, the measurements) are parsed once per installation and kept as JSON in
a cache folder (`MOEPLAN_CACHE_DIR`, else `$XDG_CACHE_HOME/moeplan`, else `~/.cache/moeplan`),
keyed by the file's path, size and modification time: reading JSON skips the ~12 ms import of
`yaml` on every later start. `MOEPLAN_NO_CACHE=1` turns the cache off; a cache that cannot be
read or written is ignored. Files a user passes are always parsed afresh.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

CACHE_FORMAT = 1  # bump when what is cached changes shape


def load_yaml_text(text: str, where: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        from moeplan.errors import MoeplanError

        raise MoeplanError(f"{where}: malformed YAML{at}: {problem}") from None


def load_packaged_yaml(path: Path, where: str) -> Any:
    """A YAML file that ships with moeplan, through the JSON cache (see the module docstring)."""
    cached = _cache_file(path)
    if cached is not None:
        try:
            return json.loads(cached.read_text())
        except (OSError, ValueError):
            pass
    doc = load_yaml_text(path.read_text(), where)
    if cached is not None:
        _store(cached, doc)
    return doc


def _cache_dir() -> Path | None:
    if os.environ.get("MOEPLAN_NO_CACHE"):
        return None
    if os.environ.get("MOEPLAN_CACHE_DIR"):
        return Path(os.environ["MOEPLAN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "moeplan"


def _cache_file(path: Path) -> Path | None:
    folder = _cache_dir()
    if folder is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    where = zlib.crc32(str(path.resolve()).encode())
    return folder / f"{path.stem}-{CACHE_FORMAT}-{where:08x}-{st.st_size}-{st.st_mtime_ns}.json"


def _store(cached: Path, doc: Any) -> None:
    """Keep `doc` as JSON if JSON gives it back unchanged (no dates, no non-string keys)."""
    try:
        text = json.dumps(doc)
        if json.loads(text) != doc:
            return
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(cached)
        key = cached.name.rsplit("-", 2)[0]  # stem, format and path: older versions of this file
        for stale in cached.parent.glob(f"{key}-*.json"):
            if stale != cached:
                stale.unlink(missing_ok=True)
    except (OSError, TypeError, ValueError):
        pass


def dump_yaml(doc: Any) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(doc, Dumper=dumper, sort_keys=False, width=100)
