"""Publications of validation records (moeplan/plan/publications.py): the unit out-of-sample
errors leave out."""

from __future__ import annotations

import pytest

from moeplan.plan.offload_refit import publication_runs
from moeplan.plan.publications import (
    publication_from_source,
    publication_index,
    publication_of,
)
from moeplan.plan.validate_offload import load_offload_records


@pytest.mark.parametrize(
    ("source", "key"),
    [
        (
            "github:ggml-org/llama.cpp discussion 15396, guide Tips: 'Example on 5090'",
            "github:ggml-org/llama.cpp#15396",
        ),
        (
            "ggml-org/llama.cpp discussion 15396 ('guide'), reply on AMD numbers",
            "github:ggml-org/llama.cpp#15396",
        ),
        (
            "github:ggml-org/llama.cpp pull request 23346 (fairydreaming)",
            "github:ggml-org/llama.cpp#23346",
        ),
        ("kvcache-ai/ktransformers PR 2175 (05yuki)", "github:kvcache-ai/ktransformers#2175"),
        (
            "github:kvcache-ai/ktransformers issue 1914, comment",
            "github:kvcache-ai/ktransformers#1914",
        ),
        (
            "github:kvcache-ai/ktransformers doc/en/Kimi-K2.md@95009ea6 ('On a single-socket')",
            "github:kvcache-ai/ktransformers/doc/en/Kimi-K2.md",
        ),
        ("github:carteakey/lllms blog post (2025-09-21)", "github:carteakey/lllms/blog"),
        ("reddit r/LocalLLaMA 1rei65v (stored snapshot)", "reddit:1rei65v"),
        ("https://www.reddit.com/r/LocalLLaMA/comments/1abc2de/title/", "reddit:1abc2de"),
        (
            "https://www.hardware-corner.net/gpt-oss-offloading-moe-layers/ (Allan Witt)",
            "web:www.hardware-corner.net/gpt-oss-offloading-moe-layers",
        ),
        ('code index id 55873440831 ("llama-bench Summary")', "code:55873440831"),
        ("a forum post", "text:a forum post"),
    ],
)
def test_a_source_names_its_publication(source: str, key: str) -> None:
    assert publication_from_source(source) == key


def test_a_record_may_name_its_publication() -> None:
    rec = {"id": "x", "source": "github:a/b issue 1", "publication": "poster:someone"}
    assert publication_of(rec) == "poster:someone"
    assert publication_of({"id": "y", "source": "github:a/b issue 1"}) == "github:a/b#1"


def test_a_code_index_file_cited_by_its_path_elsewhere_is_that_path() -> None:
    records = [
        {"id": "a", "source": "github:o/r posts/x/README.md, code index id 42 ('table')"},
        {"id": "b", "source": "code index id 42 ('another row')"},
        {"id": "c", "source": "code index id 7"},
    ]
    index = publication_index(records)
    assert index == {
        "a": "github:o/r/posts/x/README.md",
        "b": "github:o/r/posts/x/README.md",
        "c": "code:7",
    }


def test_every_offload_record_has_a_publication_and_sweeps_group() -> None:
    """No record falls through to its raw text, and a poster's sweep is one publication: the
    four DDR4-3000/2133 runs of msb-msb's 5700X README, two of them cited by code-index id, and
    their prompt-speed twins."""
    records = load_offload_records()
    index = publication_index(records)
    assert not [rid for rid, key in index.items() if key.startswith("text:")]
    by_id = {r["id"]: r for r in records}
    runs = publication_runs(by_id["llamacpp-qwen36-35b-udq4km-rtx3090-r7-5700x-40"])
    decode = [
        "llamacpp-qwen36-35b-udq4km-rtx3090-r7-5700x-20",
        "llamacpp-qwen36-35b-udq4km-rtx3090-r7-5700x-20-2",
        "llamacpp-qwen36-35b-udq4km-rtx3090-r7-5700x-40",
        "llamacpp-qwen36-35b-udq4km-rtx3090-r7-5700x-40-2",
    ]
    assert sorted(runs) == sorted(decode + [rid + "-prefill" for rid in decode])
