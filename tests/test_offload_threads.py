"""Threads of the host's expert kernels: llama.cpp's default runs on the P-cores of a hybrid CPU
(common/common.cpp cpu_get_num_math), so the CPU int8 rate counts those cores only."""

from __future__ import annotations

from pathlib import Path

import pytest

from moeplan.errors import MoeplanError
from moeplan.hardware.hosts import resolve_host, with_overrides
from moeplan.perf.cpu_int8 import cpu_int8_ops_per_s
from moeplan.perf.offload_engines import OFFLOAD_ENGINES, cpu_threads

LLAMACPP = OFFLOAD_ENGINES["llamacpp"]
KTRANSFORMERS = OFFLOAD_ENGINES["ktransformers"]


def test_llamacpp_default_threads_are_the_p_cores_of_a_hybrid_cpu():
    # 14900K: 8 P + 16 E cores; llama.cpp skips the E-cores, ktransformers uses what it is given
    raptor = resolve_host("core-i9-14900k")
    assert raptor.cores == 24
    assert cpu_threads(raptor, LLAMACPP) == 8
    assert cpu_threads(raptor, KTRANSFORMERS) == 24
    # not hybrid: one thread per physical core
    assert cpu_threads(resolve_host("ryzen-9-7950x"), LLAMACPP) == 16
    # AVX2 int8: 4 TOPS (AMX) / 8 / 2 = 0.25 TOPS a core, x 8 P-cores = 2 TOPS
    assert cpu_int8_ops_per_s(raptor, False, 8) == pytest.approx(2.0e12)


def test_given_cores_replace_the_p_core_split():
    # --host-cores names the cores that compute: no P/E split is left to apply
    raptor = with_overrides(resolve_host("core-i9-14900k"), cores=12)
    assert raptor.performance_cores is None
    assert cpu_threads(raptor, LLAMACPP) == 12


def test_host_file_refuses_more_p_cores_than_cores(tmp_path: Path):
    f = tmp_path / "box.yaml"
    f.write_text("cores: 8\nperformance_cores: 12\nmem_bw_gbps: 90\nram_gb: 64\n")
    with pytest.raises(MoeplanError, match="performance_cores"):
        resolve_host(str(f))
    f.write_text("cores: 16\nperformance_cores: 4\nmem_bw_gbps: 90\nram_gb: 64\n")
    assert cpu_threads(resolve_host(str(f)), LLAMACPP) == 4


def test_llamacpp_on_macos_runs_the_p_cores():
    # hw.perflevel0.physicalcpu: M2 Ultra 16 P + 8 E, M3 Ultra 24 + 8, M4 Max 12 + 4
    for host, p_cores in (("apple-m2-ultra", 16), ("apple-m3-ultra", 24), ("apple-m4-max", 12)):
        assert cpu_threads(resolve_host(host), LLAMACPP) == p_cores


@pytest.mark.parametrize(
    ("value", "message"),
    [("-2", "positive number"), ("0", "positive number"), ("4.5", "whole number")],
)
def test_host_file_refuses_nonsense_p_cores(tmp_path: Path, value: str, message: str):
    f = tmp_path / "box.yaml"
    f.write_text(f"cores: 16\nperformance_cores: {value}\nmem_bw_gbps: 90\nram_gb: 64\n")
    with pytest.raises(MoeplanError, match=message):
        resolve_host(str(f))


def test_llamacpp_default_on_p_cores_without_smt_counts_every_other_one():
    # cpu_count_math_cpus skips the logical CPU after each P-core for its SMT sibling; Arrow Lake
    # P-cores have none, so a 265K (8 P + 12 E) or 285K (8 P + 16 E) runs 4 threads
    for host in ("core-ultra-7-265k", "core-ultra-9-285k"):
        arrow = resolve_host(host)
        assert arrow.p_core_smt is False
        assert cpu_threads(arrow, LLAMACPP) == 4
        assert cpu_threads(arrow, KTRANSFORMERS) == arrow.cores
    assert resolve_host("core-i9-14900k").p_core_smt is True


def test_host_file_p_core_smt(tmp_path: Path):
    f = tmp_path / "box.yaml"
    body = "cores: 14\nperformance_cores: 6\nmem_bw_gbps: 90\nram_gb: 64\nisa: [avx2]\n"
    f.write_text(body + "p_core_smt: false\n")
    assert cpu_threads(resolve_host(str(f)), LLAMACPP) == 3
    f.write_text(body)
    assert cpu_threads(resolve_host(str(f)), LLAMACPP) == 6
    f.write_text(body + "p_core_smt: no-ht\n")
    with pytest.raises(MoeplanError, match="p_core_smt"):
        resolve_host(str(f))
