"""The model catalog (``model_specs/*.yaml``) and loading a MODEL argument.

MODEL is a catalog id or alias (case-insensitive), a path to a Hugging Face ``config.json``, a
folder holding one, or a catalog-style YAML file with a ``config:`` block.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from moeplan.errors import MoeplanError, SpecError, UnknownNameError
from moeplan.model.hf_config import spec_from_config
from moeplan.model.official import CONVENTIONS, UNSTATED
from moeplan.model.specs import ModelSpec, OfficialCounts
from moeplan.names import suggest
from moeplan.yamlio import load_document, load_packaged_yaml


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    path: Path
    aliases: tuple[str, ...]


def _specs_dir() -> Path:
    """model_specs/ ships inside the package as moeplan/model_specs (see pyproject.toml)."""
    package = Path(__file__).resolve().parents[1]
    packaged = package / "model_specs"
    return packaged if packaged.is_dir() else package.parent / "model_specs"


def _normalize(name: str) -> str:
    return name.strip().lower().replace("_", "-")


@lru_cache(maxsize=1)
def catalog_entries() -> tuple[CatalogEntry, ...]:
    entries = []
    for path in sorted(_specs_dir().glob("*.yaml")):
        doc = _read_yaml(path, packaged=True)
        aliases = tuple(_normalize(a) for a in doc.get("aliases") or [])
        name = _normalize(str(doc.get("name", "")))
        entries.append(CatalogEntry(path.stem, path, aliases + ((name,) if name else ())))
    return tuple(entries)


def catalog_ids() -> list[str]:
    return [e.id for e in catalog_entries()]


def resolve_catalog_id(name: str) -> CatalogEntry:
    key = _normalize(name)
    key = key.rsplit("/", 1)[-1]  # an HF repo id "org/name" resolves by its name
    direct = _specs_dir() / f"{key}.yaml"
    try:
        is_id = direct.is_file()
    except OSError:  # a name longer than the file system allows is no catalog id
        is_id = False
    if is_id:  # fast path: a catalog id needs no scan of the aliases
        return CatalogEntry(key, direct, ())
    entries = catalog_entries()
    for entry in entries:
        if key == entry.id or key in entry.aliases:
            return entry
    raise UnknownNameError("model", name, suggest(key, {e.id: e.aliases for e in entries}))


def load_model(model: str, revision: str | None = None, from_hub: bool = False) -> ModelSpec:
    """MODEL, resolved in this order: an existing path (config.json, a checkpoint folder with
    safetensors shards, a .safetensors/index file, a .gguf file, a catalog YAML), a catalog
    id/alias, then a Hugging Face repo id (`hf:org/name` or `from_hub` goes to the Hub first)."""
    if not model.strip():
        raise SpecError("model name is empty")
    if model.startswith("hf:") or from_hub:
        from moeplan.model.sources import spec_from_hub

        return spec_from_hub(model.removeprefix("hf:"), revision)
    try:
        path = Path(model).expanduser()
        if path.is_dir():
            from moeplan.model.sources import spec_from_folder

            return spec_from_folder(path, str(model), _spec_and_document)
        is_file = path.is_file()
    except (OSError, RuntimeError, ValueError) as exc:  # too long a name, '~nope', a NUL
        raise SpecError(
            f"{model[:80]}: cannot read: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    if is_file:
        if path.suffix == ".gguf":
            from moeplan.model.sources import spec_from_gguf

            return spec_from_gguf(path, str(model))
        if path.name.endswith((".safetensors", ".safetensors.index.json")):
            from moeplan.model.sources import spec_from_folder

            return spec_from_folder(path.parent, str(model), _spec_and_document)
        return _spec_from_file(path, str(model))
    if path.suffix in {".json", ".yaml", ".yml"} or model.startswith((".", "/", "~")):
        raise SpecError(f"{model}: no such file or folder")
    try:
        entry = resolve_catalog_id(model)
    except UnknownNameError:
        from moeplan.model.hub import looks_like_repo_id

        if not looks_like_repo_id(model):
            raise
        from moeplan.model.sources import spec_from_hub

        return spec_from_hub(model, revision)
    doc = _read_yaml(entry.path, packaged=True)
    return _spec_from_catalog_doc(doc, entry.id, str(entry.path))


def _spec_from_file(path: Path, name: str) -> ModelSpec:
    return _spec_and_document(path, name)[0]


def _spec_and_document(path: Path, name: str) -> tuple[ModelSpec, dict[str, Any]]:
    """The spec of a config.json or catalog-style YAML, and the document it was read from (a
    checkpoint folder's safetensors reader reads the same config, parsed once)."""
    try:
        doc = load_document(path, model_config=True)
    except MoeplanError as exc:
        raise SpecError(str(exc)) from None
    if not isinstance(doc, dict):
        raise SpecError(f"{path}: expected a mapping of config fields")
    if isinstance(doc.get("config"), dict):  # catalog-style YAML
        return _spec_from_catalog_doc(doc, name, str(path)), doc
    return spec_from_config(doc, name), doc


def _spec_from_catalog_doc(doc: dict[str, Any], name: str, where: str) -> ModelSpec:
    config = doc.get("config")
    if not isinstance(config, dict):
        raise SpecError(f"{where}: missing field 'config'")
    extra: dict[str, Any] = {
        "display_name": str(doc.get("name", name)),
        "source": "; ".join(doc.get("config_source") or []),
        "notes": tuple(doc.get("notes") or ()),
    }
    if doc.get("native_precision"):
        extra["native_quant"] = str(doc["native_precision"])
    official = doc.get("official_params")
    if official:
        extra["official"] = _official(official, where)
    return spec_from_config(config, name, **extra)


def _official(doc: dict[str, Any], where: str) -> OfficialCounts:
    for key in ("total", "active"):
        value = doc.get(key)
        if value is not None and (not isinstance(value, (int, float)) or value <= 0):
            raise SpecError(f"{where}: official_params.{key} must be a positive number")
    convention, source = _convention(doc, where)
    return OfficialCounts(
        total=doc.get("total"),
        active=doc.get("active"),
        source=str(doc.get("source", "")),
        active_convention=convention,
        active_convention_source=source,
        total_includes=tuple(doc.get("total_includes") or ()),
        not_in_config=tuple(doc.get("not_in_config") or ()),
        note=str(doc.get("note", "")),
        total_truncated=bool(doc.get("total_truncated", False)),
        total_discrepancy=str(doc.get("total_discrepancy") or ""),
        active_discrepancy=str(doc.get("active_discrepancy") or ""),
    )


ACTIVE_CONVENTIONS = (*CONVENTIONS, UNSTATED)


def _convention(doc: dict[str, Any], where: str) -> tuple[str, str]:
    """The publisher's stated convention and where it says so; "unstated" when absent."""
    value = doc.get("active_convention", UNSTATED)
    if value not in ACTIVE_CONVENTIONS:
        raise SpecError(
            f"{where}: official_params.active_convention must be one of "
            f"{', '.join(ACTIVE_CONVENTIONS)}"
        )
    source = doc.get("active_convention_source") or ""
    if not isinstance(source, str):
        raise SpecError(f"{where}: official_params.active_convention_source must be text")
    if value != UNSTATED and not source.strip():
        raise SpecError(
            f"{where}: official_params.active_convention {value} needs "
            "active_convention_source (where the publisher says so, with the quote)"
        )
    return str(value), source


def _read_yaml(path: Path, packaged: bool = False) -> Any:
    """A spec file; the catalog's own files go through the parsed-YAML cache."""
    try:
        if packaged:
            return load_packaged_yaml(path, str(path))
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None
    return load_document(path)
