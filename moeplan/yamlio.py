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
import re
import zlib
from pathlib import Path
from typing import Any

CACHE_FORMAT = 1  # bump when what is cached changes shape


MAX_FILE_BYTES = 16 * 1024 * 1024  # the largest budget, spec, calibration or host file read
MAX_DEPTH = 64  # nesting of mappings/lists; real files use fewer than 10
# Digits of an integer literal: Python refuses to convert more than 4,300 (a ValueError deep in
# the parser), and no count, size or id in these files needs more than 20 (2**64 has 20).
MAX_INT_DIGITS = 100


def _bad(where: str, message: str) -> Exception:
    from moeplan.errors import MoeplanError

    return MoeplanError(f"{where}: {message}")


def read_text_file(path: str | Path, where: str | None = None, kind: str = "file") -> str:
    """A user's file as UTF-8 text: a regular file under MAX_FILE_BYTES, else one-line error."""
    where = where or str(path)
    p = Path(path)
    try:
        p = p.expanduser()
        if p.is_dir():
            raise _bad(where, "is a folder, not a file")
        if not p.exists():
            raise _bad(where, f"no such {kind}")
        if not p.is_file():
            raise _bad(where, "not a regular file")
        with p.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _bad(where, f"cannot read: {exc.strerror or exc}") from None
    except (RuntimeError, ValueError) as exc:  # '~nope', a NUL in the name
        raise _bad(where, f"cannot read: {exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise _bad(where, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: refusing to read it")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(where, f"not UTF-8 text (byte {exc.start})") from None


class NonFinite:
    """A JSON constant NaN, Infinity or -Infinity kept in a model config.json in place of the
    number (Python's json.dumps writes them: Nemotron-H's "time_step_limit": [0.0, Infinity]).
    Not a number to any reader: a field read as one is refused in one line naming the value,
    and fields no reader uses pass through. Never written to output."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def load_document(
    path: str | Path, where: str | None = None, kind: str = "file", model_config: bool = False
) -> Any:
    """Read a user's YAML or JSON file (JSON when it ends in .json) with every guard:
    size, UTF-8, nesting depth, no aliases, no duplicate keys, no NaN/Infinity. A model's
    `model_config` JSON keeps its NaN/Infinity constants as NonFinite (see there)."""
    where = where or str(path)
    text = read_text_file(path, where, kind)
    if str(path).lower().endswith(".json"):
        return load_json_text(text, where, model_config)
    return load_yaml_text(text, where)


def load_fields(path: str | Path, key: str, example: str) -> tuple[dict[str, Any], str]:
    """A user's file of one object's fields (a host, a GPU), top level or under `key:`, with the
    name to cite it by; anything but a mapping is one line (`example` names a few fields)."""
    where = str(path)
    doc = load_document(path, where)
    if isinstance(doc, dict) and isinstance(doc.get(key), dict):
        doc = doc[key]
    if not isinstance(doc, dict):
        raise _bad(where, f"expected a mapping of {key} fields ({example}, ...)")
    return doc, where


def load_json_text(text: str, where: str, model_config: bool = False) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise _bad(where, f"duplicate key '{key}'")
            out[key] = value
        return out

    def constant(name: str) -> Any:
        if model_config:
            return NonFinite(name)
        raise _bad(where, f"non-finite number {name} is not allowed")

    def finite(token: str) -> float:
        value = float(token)
        if value != value or value in (float("inf"), float("-inf")):
            raise _bad(where, f"number {token} is out of range")
        return value

    def integer(token: str) -> int:
        if len(token.lstrip("-")) > MAX_INT_DIGITS:
            raise _bad(where, f"an integer of {len(token.lstrip('-')):,} digits is out of range")
        return int(token)

    _check_bracket_depth(text, where)
    try:
        return json.loads(
            text,
            object_pairs_hook=pairs,
            parse_constant=constant,
            parse_float=finite,
            parse_int=integer,
        )
    except json.JSONDecodeError as exc:
        raise _bad(where, f"malformed JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise _bad(where, f"nested deeper than {MAX_DEPTH} levels") from None


def _check_bracket_depth(text: str, where: str) -> None:
    """JSON nesting depth from its brackets (strings skipped), before a recursive parser runs."""
    depth = 0
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        tok = m.group()
        if tok in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _bad(where, f"nested deeper than {MAX_DEPTH} levels")
        elif tok in "]}":
            depth -= 1


def load_yaml_text(text: str, where: str, shipped: bool = False) -> Any:
    """YAML through a safe loader that refuses aliases (no 'billion laughs'), duplicate keys,
    NaN/Infinity, integers longer than MAX_INT_DIGITS and nesting deeper than MAX_DEPTH
    (checked on the event stream first: libyaml's composer recurses in C and would overflow the
    stack). `shipped`: a file of moeplan's own,
    parsed once per installation: the event pass is skipped."""
    import yaml

    loader = _strict_loader()
    try:
        depth = 0
        for event in () if shipped else yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                raise _bad(where, "YAML aliases (*name) are not allowed")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _bad(where, f"nested deeper than {MAX_DEPTH} levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise _bad(where, f"malformed YAML{at}: {problem}") from None
    except RecursionError:
        raise _bad(where, f"nested deeper than {MAX_DEPTH} levels") from None


_LOADER: Any = None


def _strict_loader() -> Any:
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import math

    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class StrictLoader(base):  # type: ignore[valid-type,misc]
        pass

    def mapping(loader: Any, node: Any, deep: bool = False) -> Any:
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                duplicate = False
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark
                )
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    def strict_map(loader: Any, node: Any) -> Any:
        data: dict[Any, Any] = {}
        yield data
        loader.flatten_mapping(node)
        data.update(mapping(loader, node))

    def finite_float(loader: Any, node: Any) -> float:
        value = yaml.SafeLoader.construct_yaml_float(loader, node)
        if not math.isfinite(value):
            raise yaml.constructor.ConstructorError(
                None, None, f"non-finite number {node.value} is not allowed", node.start_mark
            )
        return value

    def bounded_int(loader: Any, node: Any) -> int:
        digits = len(str(node.value).lstrip("+-").replace("_", ""))
        if digits > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {digits:,} digits is out of range", node.start_mark
            )
        return int(yaml.SafeLoader.construct_yaml_int(loader, node))

    StrictLoader.add_constructor("tag:yaml.org,2002:map", strict_map)
    StrictLoader.add_constructor("tag:yaml.org,2002:float", finite_float)
    StrictLoader.add_constructor("tag:yaml.org,2002:int", bounded_int)
    _LOADER = StrictLoader
    return StrictLoader


def load_packaged_yaml(path: Path, where: str) -> Any:
    """A YAML file that ships with moeplan, through the JSON cache (see the module docstring)."""
    cached = _cache_file(path)
    if cached is not None:
        try:
            return json.loads(cached.read_text())
        except (OSError, ValueError):
            pass
    doc = load_yaml_text(path.read_text(), where, shipped=True)
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
