"""The parsed-YAML cache for shipped files: same document, invalidated by a change, pruned,
ignored when broken or turned off."""

from __future__ import annotations

import os

from moeplan.yamlio import load_packaged_yaml


def test_cache_returns_the_same_document_and_follows_changes(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MOEPLAN_CACHE_DIR", str(cache))
    src = tmp_path / "gpus.yaml"
    src.write_text("gpus:\n  - {id: a, mem: 80}\n")
    first = load_packaged_yaml(src, "gpus.yaml")
    assert first == {"gpus": [{"id": "a", "mem": 80}]}
    [cached] = cache.glob("gpus-*.json")
    assert load_packaged_yaml(src, "gpus.yaml") == first  # read back from JSON

    src.write_text("gpus:\n  - {id: b, mem: 141}\n")
    os.utime(src, ns=(1, 1))  # a different size and time: a new cache entry, the old one pruned
    assert load_packaged_yaml(src, "gpus.yaml") == {"gpus": [{"id": "b", "mem": 141}]}
    assert [p.name for p in cache.glob("gpus-*.json")] != [cached.name]
    assert len(list(cache.glob("gpus-*.json"))) == 1


def test_broken_cache_is_ignored_and_dates_are_not_cached(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MOEPLAN_CACHE_DIR", str(cache))
    src = tmp_path / "m.yaml"
    src.write_text("a: 1\n")
    load_packaged_yaml(src, "m.yaml")
    [cached] = cache.glob("m-*.json")
    cached.write_text("{not json")
    assert load_packaged_yaml(src, "m.yaml") == {"a": 1}

    dated = tmp_path / "d.yaml"
    dated.write_text("read: 2026-11-24\n")  # YAML gives a date, which JSON cannot give back
    assert str(load_packaged_yaml(dated, "d.yaml")["read"]) == "2026-11-24"
    assert not list(cache.glob("d-*.json"))


def test_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("MOEPLAN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MOEPLAN_NO_CACHE", "1")
    src = tmp_path / "m.yaml"
    src.write_text("a: 1\n")
    assert load_packaged_yaml(src, "m.yaml") == {"a": 1}
    assert not (tmp_path / "cache").exists()
