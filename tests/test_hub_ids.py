"""Hugging Face repo ids as MODEL, without the network: a fake cache folder (HF_HUB_OFFLINE)
and huggingface_hub's download/HEAD/metadata calls stubbed where the test says so."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from moeplan.cli import app

pytest.importorskip("numpy")
pytest.importorskip("safetensors.numpy")
pytest.importorskip("huggingface_hub")

from tests.test_checkpoints import CONFIG, _header_bytes, _sharded, _tensors


def _fake_hub(cache, repo, files):
    folder = cache / f"models--{repo.replace('/', '--')}"
    snap = folder / "snapshots" / "0123abcd"
    snap.mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("0123abcd")
    for name, src in files.items():
        shutil.copy(src, snap / name)
    return snap


def test_cached_hub_id_sizes_offline(tmp_path, monkeypatch):
    ckpt = _sharded(tmp_path / "src", _tensors())
    cache = tmp_path / "hub"
    _fake_hub(cache, "acme/Tiny-MoE", {p.name: p for p in ckpt.iterdir()})
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    r = CliRunner().invoke(app, ["size", "acme/Tiny-MoE", "--quant", "native", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["weights_source"] == "safetensors"
    assert doc["checkpoint"]["bytes"] == _header_bytes(ckpt)
    assert doc["memory"]["weights_bytes"] == _header_bytes(ckpt)
    # hf: forces the hub even for a name the catalog knows; an uncached repo is one line, exit 2
    r = CliRunner().invoke(app, ["size", "hf:acme/Not-Cached", "--quant", "native"])
    assert r.exit_code == 2 and "not in the local Hugging Face cache" in r.output
    assert len(r.output.strip().splitlines()) == 1


def _hub_error(cls, status):
    import httpx2

    request = httpx2.Request("GET", "https://huggingface.co/acme/x/resolve/main/config.json")
    return cls("test", response=httpx2.Response(status, request=request))


@pytest.mark.parametrize(
    ("error", "needle"),
    [
        ("GatedRepoError", "gated repository"),
        ("RepositoryNotFoundError", "no such repository"),
        ("RevisionNotFoundError", "no such revision"),
    ],
)
def test_hub_failures_are_one_line_exit_2(monkeypatch, error, needle):
    import huggingface_hub
    from huggingface_hub import errors

    exc = _hub_error(getattr(errors, error), 404)

    def download(*args, local_files_only=False, **kwargs):
        raise errors.LocalEntryNotFoundError("not cached") if local_files_only else exc

    def head(*args, **kwargs):  # the one HEAD request made before downloading
        raise exc

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", head)
    r = CliRunner().invoke(app, ["size", "hf:acme/Private-MoE", "--revision", "v1"])
    assert r.exit_code == 2, r.output
    assert needle in r.output and "hf:acme/Private-MoE@v1" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_unreachable_hub_fails_at_once(monkeypatch):
    """Online, not cached, no connection: the HEAD request's error, one line (hf_hub_download
    alone would retry with backoff for about 20 s and log each retry)."""
    import httpx2
    import huggingface_hub

    def head(*args, **kwargs):
        raise httpx2.ConnectError("[Errno -2] Name or service not known")

    def download(*args, local_files_only=False, **kwargs):
        if local_files_only:
            raise huggingface_hub.errors.LocalEntryNotFoundError("not cached")
        raise AssertionError("downloaded after a failed HEAD request")

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", head)
    r = CliRunner().invoke(app, ["size", "acme/Not-Cached"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "Hub cannot be reached" in r.output and "Name or service" in r.output


def test_uncached_hub_id_reads_only_headers(tmp_path, monkeypatch):
    """Online and not cached: config.json is downloaded and the shards' headers are read with
    get_safetensors_metadata (range reads); nothing else is fetched. The Hub is stood in for
    by the same metadata read from a local folder."""
    import huggingface_hub
    import huggingface_hub.constants as c

    ckpt = _sharded(tmp_path / "src", _tensors())
    only_config = tmp_path / "snap"
    only_config.mkdir()
    shutil.copy(ckpt / "config.json", only_config / "config.json")
    downloaded, asked = [], []

    def download(repo_id, filename, local_files_only=False, **kwargs):
        if local_files_only:  # the cache is asked first: not there
            raise huggingface_hub.errors.LocalEntryNotFoundError("not cached")
        downloaded.append(filename)
        return str(only_config / filename)

    def metadata(repo_id, revision=None, **kwargs):
        asked.append((repo_id, revision))
        return huggingface_hub.get_local_safetensors_metadata(ckpt)

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(huggingface_hub, "get_safetensors_metadata", metadata)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", lambda url, **kw: None)
    r = CliRunner().invoke(app, ["size", "acme/Tiny-MoE", "--quant", "native", "--json"])
    assert r.exit_code == 0, r.output
    assert downloaded == ["config.json"] and asked == [("acme/Tiny-MoE", None)]
    doc = json.loads(r.output)
    assert doc["weights_source"] == "safetensors"
    assert doc["checkpoint"]["bytes"] == _header_bytes(ckpt)


def test_budget_takes_a_hub_id(tmp_path, monkeypatch):
    ckpt = _sharded(tmp_path / "src", _tensors())
    cache = tmp_path / "hub"
    _fake_hub(cache, "acme/Tiny-MoE", {p.name: p for p in ckpt.iterdir()})
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    budget = tmp_path / "budgets.yaml"
    budget.write_text(
        "budgets:\n  - name: tiny\n    model: hf:acme/Tiny-MoE\n    quant: native\n"
        "    gpu: h100-sxm\n    gpus: 1\n    limits: {max_weights_gb: 1}\n"
    )
    r = CliRunner().invoke(app, ["check", str(budget), "--format", "json"])
    assert r.exit_code == 0, r.output
    budget.write_text(budget.read_text().replace("Tiny-MoE", "Not-Cached"))
    r = CliRunner().invoke(app, ["check", str(budget), "--format", "json"])
    assert r.exit_code == 2 and "not in the local Hugging Face cache" in r.output, r.output


def test_hub_revision_in_the_id(tmp_path, monkeypatch):
    """hf:org/name@REV: the cached snapshot the ref REV points to (offline), one line when that
    ref is not cached or two different revisions are given."""
    ckpt = _sharded(tmp_path / "src", _tensors())
    cache = tmp_path / "hub"
    snap = _fake_hub(cache, "acme/Tiny-MoE", {p.name: p for p in ckpt.iterdir()})
    (snap.parent.parent / "refs" / "v1").write_text(snap.name)
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    r = CliRunner().invoke(app, ["size", "hf:acme/Tiny-MoE@v1", "--quant", "native", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["checkpoint"]["bytes"] == _header_bytes(ckpt)
    for argv in (["hf:acme/Tiny-MoE@v2"], ["hf:acme/Tiny-MoE@v1", "--revision", "v2"]):
        r = CliRunner().invoke(app, ["size", *argv])
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output


@pytest.mark.parametrize(
    ("index", "needle"),
    [
        ({"weight_map": {"a": ["x"]}}, "weight_map['a'] must be the file name"),  # unhashable
        ({"weight_map": {"a": 5}}, "weight_map['a'] must be the file name"),  # Path / int
        ({"weight_map": [1, 2]}, "'weight_map' must be a mapping"),
        ({"weight_map": {}}, "'weight_map' is empty"),
    ],
)
def test_cached_malformed_index_is_one_line(tmp_path, monkeypatch, index, needle):
    """A cached snapshot whose index is not one: refused (exit 2), was an internal error."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "config.json").write_text(json.dumps(CONFIG))
    (src / "model.safetensors.index.json").write_text(json.dumps(index))
    cache = tmp_path / "hub"
    _fake_hub(cache, "acme/Bad-Index", {p.name: p for p in src.iterdir()})
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    r = CliRunner().invoke(app, ["size", "acme/Bad-Index", "--quant", "native"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1, r.output
    assert needle in r.stderr and "model.safetensors.index.json" in r.stderr


def test_hub_headers_that_are_not_safetensors_headers_are_refused(tmp_path, monkeypatch):
    """Headers read from the Hub are checked as local ones are: a negative shape is refused
    naming the repo's file and tensor, not sized (nor dropped for an analytic count)."""
    import huggingface_hub
    import huggingface_hub.constants as c
    from huggingface_hub.utils import SafetensorsFileMetadata, SafetensorsRepoMetadata, TensorInfo

    snap = tmp_path / "snap"
    snap.mkdir()
    (snap / "config.json").write_text(json.dumps(CONFIG))

    def download(repo_id, filename, local_files_only=False, **kwargs):
        if local_files_only:
            raise huggingface_hub.errors.LocalEntryNotFoundError("not cached")
        return str(snap / filename)

    bad = TensorInfo(dtype="F16", shape=[-2, 2], data_offsets=(0, 8))
    file_meta = SafetensorsFileMetadata(metadata={}, tensors={"x.weight": bad})
    repo_meta = SafetensorsRepoMetadata(
        metadata=None,
        sharded=False,
        weight_map={"x.weight": "model.safetensors"},
        files_metadata={"model.safetensors": file_meta},
    )
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(huggingface_hub, "get_safetensors_metadata", lambda *a, **k: repo_meta)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", lambda url, **kw: None)
    r = CliRunner().invoke(app, ["size", "acme/Bad-Header", "--quant", "native"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1, r.output
    assert "hf:acme/Bad-Header/model.safetensors: tensor 'x.weight': shape" in r.stderr
