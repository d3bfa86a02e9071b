"""Hugging Face Hub ids: config.json and the safetensors headers, never the weights.

Resolved with huggingface_hub: the local cache first (HF_HOME / HF_HUB_CACHE; with
HF_HUB_OFFLINE=1 only the cache), else only ``config.json`` is downloaded and the safetensors
headers are read by HTTP range requests (``get_safetensors_metadata``). Tokens for gated repos
come from huggingface_hub's usual places (HF_TOKEN, ``hf auth login``). Every failure is one line.
Imported only when a hub id is given (start-up of the other commands stays free of it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.checkpoint import CheckpointWeights
from moeplan.model.safetensors_reader import (
    INDEX_FILE,
    INSTALL_HINT,
    has_safetensors,
    read_hub,
    read_index,
    read_local,
)

HUB_PREFIX = "hf:"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")


def looks_like_repo_id(name: str) -> bool:
    """`org/name` as the Hub spells repo ids (not a path that exists: callers check that first)."""
    return bool(_REPO_ID.match(name)) and ".." not in name


def load_hub(
    repo_id: str, revision: str | None = None
) -> tuple[dict[str, Any], CheckpointWeights | None, tuple[str, ...]]:
    """(config, exact weights or None, notes) of a Hub repo."""
    try:
        from huggingface_hub import constants
        from huggingface_hub import errors as hf_errors
    except ImportError:
        raise SpecError(f"{repo_id}: {INSTALL_HINT}") from None
    where = f"hf:{repo_id}" + (f"@{revision}" if revision else "")
    try:
        config_path = _config_json(repo_id, revision)
    except hf_errors.GatedRepoError:
        raise SpecError(
            f"{where}: gated repository: accept its license on huggingface.co and set HF_TOKEN "
            "(or run `hf auth login`)"
        ) from None
    except hf_errors.RevisionNotFoundError:
        raise SpecError(f"{where}: no such revision") from None
    except hf_errors.RepositoryNotFoundError:
        raise SpecError(
            f"{where}: no such repository on the Hub (or private: set HF_TOKEN)"
        ) from None
    except hf_errors.LocalEntryNotFoundError:
        raise SpecError(
            f"{where}: not in the local Hugging Face cache and the Hub cannot be reached "
            "(offline, or HF_HUB_OFFLINE=1)"
        ) from None
    except hf_errors.EntryNotFoundError:
        raise SpecError(
            f"{where}: the repository has no config.json (a GGUF repository: download the "
            ".gguf file and give its path)"
        ) from None
    except hf_errors.HfHubHTTPError as exc:
        raise SpecError(f"{where}: {_one_line(exc)}") from None
    except Exception as exc:  # connection errors (httpx), an invalid repo id (ValueError), OSError
        raise SpecError(
            f"{where}: not in the local Hugging Face cache and the Hub cannot be reached "
            f"({_one_line(exc)})"
        ) from None
    from moeplan.yamlio import load_document

    # size, depth, duplicate keys: one line; NaN/Infinity kept as NonFinite (unread or refused)
    config = load_document(config_path, model_config=True)
    snapshot = config_path.parent
    if _all_shards_cached(snapshot):
        return config, read_local(snapshot, config), (f"{where}: read from the local cache",)
    if constants.HF_HUB_OFFLINE:
        return config, None, (f"{where}: safetensors not cached and offline: weights analytic",)
    try:
        weights = read_hub(repo_id, revision, config)
    except SpecError:  # headers read, and not safetensors headers: refused, not sized
        raise
    except Exception as exc:  # no safetensors in the repo, network errors: size analytically
        note = f"{where}: safetensors headers not read ({' '.join(str(exc).split())[:160]})"
        return config, None, (note,)
    return config, weights, (f"{where}: safetensors headers read from the Hub (no weights)",)


def _config_json(repo_id: str, revision: str | None) -> Path:
    """config.json from the local cache; else, online, one HEAD request without retries (an
    unreachable Hub, a gated or missing repo fail at once, not after hf_hub_download's backoff)
    and the download of that one file."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(
            hf_hub_download(repo_id, "config.json", revision=revision, local_files_only=True)
        )
    except LocalEntryNotFoundError:
        if constants.HF_HUB_OFFLINE:
            raise
    get_hf_file_metadata(hf_hub_url(repo_id, "config.json", revision=revision))
    return Path(hf_hub_download(repo_id, "config.json", revision=revision))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _all_shards_cached(snapshot: Path) -> bool:
    """Every shard the cached index names is cached (an index that is not one is refused)."""
    index = snapshot / INDEX_FILE
    if os.path.lexists(index):
        return all((snapshot / f).is_file() for f in read_index(index))
    return has_safetensors(snapshot)
