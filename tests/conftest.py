from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture(autouse=True, scope="session")
def _private_yaml_cache(tmp_path_factory):
    """The parsed-YAML cache of this test session (and its subprocesses) in a temp folder."""
    import os

    os.environ["MOEPLAN_CACHE_DIR"] = str(tmp_path_factory.mktemp("moeplan-cache"))


@pytest.fixture
def tiny_config() -> dict:
    """A small Mixtral-style config whose counts are checked by hand in test_params."""
    return {
        "model_type": "mixtral",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "num_hidden_layers": 2,
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
        "vocab_size": 100,
        "tie_word_embeddings": False,
    }


@pytest.fixture
def write_config(tmp_path: Path):
    def _write(cfg: dict, name: str = "config.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(cfg))
        return path

    return _write
