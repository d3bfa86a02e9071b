"""Offload records that state their weight file's size: the quant each is read as must size
within FILE_SIZE_TOLERANCE of that file (offload_measurements.yaml header, `file_gib`)."""

from __future__ import annotations

import pytest

from moeplan.memory.estimate import estimate_memory
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.plan.validate_offload import load_offload_records

FILE_SIZE_TOLERANCE = 0.03
"""A llama.cpp file type sizes its published files to within 1% (tests/test_gguf_mix.py); 3%
leaves room for an Unsloth dynamic file read as the nearest mix of llama.cpp's own types."""

SIZED = [r for r in load_offload_records() if "file_gib" in r["moeplan"]]


def modelled_gib(how: dict[str, object]) -> float:
    """The main model's weights under the record's quant, in GiB: no MTP layer (llama.cpp's
    GGUFs of these models leave it out, as the offload placement does) and no vision tower (a
    separate mmproj file)."""
    spec = load_model(str(how["model"]))
    scheme = resolve_scheme(str(how["quant"]), spec)
    return estimate_memory(spec, scheme, 1, 1, text_only=True).weights_bytes / 2**30


def test_records_state_file_sizes():
    assert len(SIZED) >= 20
    # both kinds: files of a llama.cpp type and Unsloth dynamic files read as the nearest mix
    assert any("UD-" in str(r["model"]) for r in SIZED)
    assert any("UD-" not in str(r["model"]) for r in SIZED)


@pytest.mark.parametrize("rec", SIZED, ids=[r["id"] for r in SIZED])
def test_record_quant_sizes_its_file(rec: dict[str, object]):
    how = rec["moeplan"]
    assert isinstance(how, dict)
    stated = float(how["file_gib"])
    assert stated > 0
    assert modelled_gib(how) / stated - 1 == pytest.approx(0, abs=FILE_SIZE_TOLERANCE)
