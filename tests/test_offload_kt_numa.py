"""kt-kernel (ktransformers 0.4+) splits every expert over the NUMA nodes: one copy in RAM, each
socket reading its own slice; the V0.x engines copy the experts on every socket."""

from __future__ import annotations

from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.hardware.gpus import resolve_gpu
from moeplan.hardware.hosts import resolve_host, with_overrides
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.offload import estimate_offload
from moeplan.perf.offload_engines import OFFLOAD_ENGINES, resolve_offload_engine
from moeplan.perf.offload_placement import place
from moeplan.plan.offload_refit import FAMILIES, pool

KT = OFFLOAD_ENGINES["ktransformers"]
V03 = OFFLOAD_ENGINES["ktransformers-v03"]


def _dual_socket_dsv3():  # type: ignore[no-untyped-def]
    spec = load_model("deepseek-v3")
    return (
        spec,
        resolve_scheme("q4_k_m", spec),
        with_overrides(resolve_host("xeon-gold-6454s"), sockets=2),
    )


def test_kt_kernel_keeps_one_copy_v03_one_per_socket() -> None:
    spec, scheme, host = _dual_socket_dsv3()
    gpu = resolve_gpu("rtx-4090")
    split = place(spec, scheme, gpu, host, KT, 61, 4096)
    copied = place(spec, scheme, gpu, host, V03, 61, 4096)
    assert split.host_expert_bytes == copied.host_expert_bytes > 0
    assert split.host_bytes == split.host_expert_bytes
    assert copied.host_bytes == 2 * copied.host_expert_bytes


def test_split_and_copies_read_at_the_same_rate() -> None:
    # both read local memory on each socket: the fitted gain applies to both, llama.cpp's is 0
    spec, scheme, host = _dual_socket_dsv3()
    gpu = resolve_gpu("rtx-4090")
    a = estimate_offload(spec, scheme, gpu, host, KT, "experts", 61)
    b = estimate_offload(spec, scheme, gpu, host, V03, "experts", 61)
    assert a.decode_tok_s == b.decode_tok_s
    assert KT.numa_local_reads and V03.numa_local_reads
    assert not OFFLOAD_ENGINES["llamacpp"].numa_local_reads
    assert any("splits every host expert over the 2 sockets" in n for n in a.notes)
    assert any("keeps a copy of the host experts on each of 2 sockets" in n for n in b.notes)


def test_ram_verdict_differs_where_only_one_copy_fits() -> None:
    # 2 x 256 GB: DeepSeek-V3 Q4_K_M's ~380 GB of experts fit once, not twice
    spec, scheme, host = _dual_socket_dsv3()
    host = with_overrides(host, ram_gb=512)
    gpu = resolve_gpu("rtx-4090")
    assert estimate_offload(spec, scheme, gpu, host, KT, "experts", 61).placement.fits_host
    assert not estimate_offload(spec, scheme, gpu, host, V03, "experts", 61).placement.fits_host


def test_engine_names_and_family() -> None:
    assert resolve_offload_engine("kt-kernel").id == "ktransformers"
    assert resolve_offload_engine("ktransformers-v0.3").id == "ktransformers-v03"
    assert "ktransformers-v03" in FAMILIES["ktransformers"]
    assert OFFLOAD_ENGINES["ktransformers-v02"].numa_replicates_experts
    # every multi-socket ktransformers run still sets the gain; llama.cpp's pool stays empty
    assert pool("ktransformers", True) and not pool("llamacpp", True)


def test_cli_names_the_split() -> None:
    args = ["latency", "deepseek-v3", "--quant", "q4_k_m", "--gpu", "rtx-4090"]
    args += ["--host", "xeon-gold-6454s", "--host-sockets", "2", "--offload", "experts"]
    out = CliRunner().invoke(app, [*args, "--engine", "kt-kernel"])
    assert out.exit_code == 0, out.output
    assert "splits every host expert" in " ".join(out.output.split())


def test_plan_takes_every_ktransformers_name() -> None:
    # the GPU-only candidates of a ktransformers plan are llama.cpp's (kt serves none itself)
    args = ["plan", "deepseek-v3", "--quant", "q4_k_m", "--gpu", "rtx-4090"]
    args += ["--host", "xeon-gold-6454s"]
    for name, shown in (
        ("kt-kernel", "ktransformers,"),
        ("ktransformers-v03", "ktransformers-v03"),
    ):
        out = CliRunner().invoke(app, [*args, "--engine", name])
        assert out.exit_code == 0, out.output
        assert f"one GPU + host RAM, {shown}" in " ".join(out.output.split())
    bad = CliRunner().invoke(app, [*args, "--engine", "nonsense"])
    assert bad.exit_code == 2 and "unknown engine 'nonsense'" in bad.output


def test_each_profile_cites_its_own_numa_layout() -> None:
    from moeplan.perf.offload_sources import KT_KERNEL_NUMA_SOURCE, KT_USE_NUMA_SOURCE

    assert KT_KERNEL_NUMA_SOURCE in KT.sources and KT_USE_NUMA_SOURCE not in KT.sources
    for profile in (V03, OFFLOAD_ENGINES["ktransformers-v02"]):
        assert KT_USE_NUMA_SOURCE in profile.sources
        assert KT_KERNEL_NUMA_SOURCE not in profile.sources


def test_kt_gpu_experts_is_the_n_cpu_moe_of_the_same_bytes() -> None:
    from moeplan.errors import MoeplanError
    from moeplan.perf.offload_placement import kt_gpu_experts_as_n_cpu_moe, moe_layers_before

    minimax = load_model("minimax-m2.5")  # 62 MoE layers of 256 experts
    assert kt_gpu_experts_as_n_cpu_moe(minimax, KT, 15) == 58  # round(62 x 241 / 256)
    assert kt_gpu_experts_as_n_cpu_moe(minimax, KT, 32) == 54  # round(62 x 224 / 256)
    deepseek = load_model("deepseek-v3")  # 3 dense layers, then 58 MoE layers
    assert kt_gpu_experts_as_n_cpu_moe(deepseek, KT, 0) == 61
    assert moe_layers_before(deepseek, kt_gpu_experts_as_n_cpu_moe(deepseek, KT, 128)) == 29
    assert kt_gpu_experts_as_n_cpu_moe(deepseek, KT, 256) == 0
    for bad in (-1, 257):
        try:
            kt_gpu_experts_as_n_cpu_moe(deepseek, KT, bad)
        except MoeplanError as exc:
            assert "--kt-gpu-experts must be 0..256" in str(exc)
        else:
            raise AssertionError(bad)


def test_cli_kt_gpu_experts() -> None:
    args = ["latency", "minimax-m2.5", "--gpu", "rtx-5090", "--host", "epyc-9355"]
    runner = CliRunner()
    ok = runner.invoke(app, [*args, "--engine", "kt-kernel", "--kt-gpu-experts", "15"])
    assert ok.exit_code == 0, ok.output
    text = " ".join(ok.output.split())
    assert "--n-cpu-moe 58" in text and "--kt-gpu-experts 15 of 256 a layer" in text
    for extra, said in (
        (["--kt-gpu-experts", "15"], "--kt-gpu-experts is a kt-kernel flag"),
        (["--engine", "ktransformers", "--kt-gpu-experts", "300"], "must be 0..256"),
        (["--engine", "ktransformers", "--kt-gpu-experts", "8", "--n-cpu-moe", "3"], "drop"),
        (["--engine", "ktransformers-v03", "--kt-gpu-experts", "8"], "kt-kernel flag"),
    ):
        out = runner.invoke(app, [*args, *extra])
        assert out.exit_code == 2 and said in out.output, (extra, out.output)
        assert len(out.output.strip().splitlines()) == 1
