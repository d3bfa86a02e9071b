"""The profiler's review fixes (issue 16), on the CPU path with fakes for NVML, torch.cuda and
torch.distributed where the real thing needs a GPU. CUDA-only checks skip cleanly without one."""

from __future__ import annotations

import sys
import types

import pytest

torch = pytest.importorskip("torch")

from moeplan.profile import device as devmod  # noqa: E402
from moeplan.profile import memcheck  # noqa: E402
from moeplan.profile.moe import (  # noqa: E402
    MoEShape,
    backends,
    experts_loop,
    make_layer,
    plan_routing,
)
from moeplan.profile.moe_sweep import moe_row  # noqa: E402
from moeplan.profile.runner import CPU_SHAPE, ProfileOptions, run_profile  # noqa: E402

HAS_CUDA = torch.cuda.is_available()


# --- NVML identifies the GPU torch uses, by UUID or PCI bus id -------------------------------


class FakeNVML(types.ModuleType):
    """pynvml with two GPUs; asking by index is an error (it would pick the wrong one under
    CUDA_VISIBLE_DEVICES)."""

    NVML_CLOCK_SM, NVML_CLOCK_MEM = 1, 2

    def __init__(self, by_uuid: bool = True, by_pci: bool = True) -> None:
        super().__init__("pynvml")
        self.gpus = {"GPU-1111": "NVIDIA H100 PCIe", "GPU-2222": "NVIDIA H100 80GB HBM3"}
        self.pci = {"00000000:3b:00.0": "GPU-2222"}
        self.by_uuid, self.by_pci = by_uuid, by_pci
        self.asked: list[str] = []

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetHandleByIndex(self, i):
        raise AssertionError("NVML must not be asked by torch's index")

    def nvmlDeviceGetHandleByUUID(self, uuid):
        self.asked.append(uuid)
        if not self.by_uuid or uuid not in self.gpus:
            raise RuntimeError("NVML_ERROR_NOT_FOUND")
        return uuid

    def nvmlDeviceGetHandleByPciBusId(self, bus):
        self.asked.append(bus)
        if not self.by_pci or bus not in self.pci:
            raise RuntimeError("NVML_ERROR_NOT_FOUND")
        return self.pci[bus]

    def nvmlDeviceGetName(self, h):
        return self.gpus[h]

    def nvmlSystemGetDriverVersion(self):
        return "580.65"

    def nvmlDeviceGetMaxClockInfo(self, h, c):
        return 1980

    def nvmlDeviceGetPowerManagementLimit(self, h):
        return 700_000

    def nvmlDeviceGetMemoryInfo(self, h):
        return types.SimpleNamespace(total=80 * 2**30)


def _fake_cuda(monkeypatch, nvml):
    """torch sees one GPU (index 0 under CUDA_VISIBLE_DEVICES=1), physically NVML's second."""
    props = types.SimpleNamespace(
        name="torch-name",
        uuid="2222",
        pci_bus_id=0x3B,
        pci_device_id=0,
        pci_domain_id=0,
        major=9,
        minor=0,
        total_memory=79 * 2**30,
    )
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: props)
    return props


def test_nvml_is_asked_by_uuid_not_index(monkeypatch):
    nvml = FakeNVML()
    _fake_cuda(monkeypatch, nvml)
    info = devmod.detect_device("cuda")
    # NVML index 0 would be the H100 PCIe; torch's device is UUID GPU-2222, the SXM
    assert info.name == "NVIDIA H100 80GB HBM3" and info.catalog_id == "h100-sxm"
    assert info.identity_source == "nvml (uuid GPU-2222)" and nvml.asked == ["GPU-2222"]


def test_nvml_falls_back_to_pci_bus_id(monkeypatch):
    nvml = FakeNVML(by_uuid=False)
    _fake_cuda(monkeypatch, nvml)
    info = devmod.detect_device("cuda")
    # domain 0, bus 0x3b, device 0, function 0 in NVML's "dddddddd:bb:dd.f" form
    assert info.identity_source == "nvml (pci 00000000:3b:00.0)"
    assert info.name == "NVIDIA H100 80GB HBM3"


def test_nvml_without_a_match_uses_torch_and_says_so(monkeypatch):
    _fake_cuda(monkeypatch, FakeNVML(by_uuid=False, by_pci=False))
    info = devmod.detect_device("cuda")
    assert info.identity_source == "torch" and info.name == "torch-name"
    assert any("NVML has no device with torch's uuid GPU-2222" in w for w in info.warnings)
    assert info.catalog_id is None


# --- exact device names ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, gid",
    [
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("NVIDIA H100 PCIe", "h100-pcie"),
        ("NVIDIA H100 NVL", None),  # 3.9 TB/s: not h100-sxm's 3.35
        ("NVIDIA H200", "h200"),
        ("NVIDIA H200 NVL", None),
        ("NVIDIA GH200 480GB", None),  # not h200
        ("NVIDIA A100 80GB PCIe", None),  # not the SXM4 a100-80gb
        ("NVIDIA A100-SXM4-40GB", "a100-40gb"),
        ("NVIDIA GeForce RTX 4090 D", "rtx-4090d"),
        ("nvidia  h100 80gb hbm3 ", "h100-sxm"),  # case and spacing ignored
        ("NVIDIA H100 80GB HBM3 Engineering Sample", None),  # no substring guessing
    ],
)
def test_device_names_match_exactly(name, gid):
    got = devmod.match_catalog(name)
    assert (got.id if got else None) == gid


def test_every_listed_name_maps_to_a_catalog_gpu_or_says_why():
    from moeplan.hardware.gpus import gpu_catalog

    for name, gid in devmod.KNOWN_DEVICE_NAMES.items():
        if gid is None:
            assert "known variant" in devmod.catalog_note(name)
        else:
            assert gid in gpu_catalog() and devmod.catalog_note(name) is None
    assert "not in the GPU catalog" in devmod.catalog_note("NVIDIA B999")


# --- backends that sync with the host are never graph-captured ----------------------------


def test_syncing_backends_are_not_capturable():
    runnable, _ = backends("cpu", torch.float32)
    assert runnable["torch-loop"].capturable is False  # .tolist() of the expert counts
    assert runnable["torch-int4-loop"].capturable is False
    assert runnable["torch-gather-bmm"].capturable is True


@pytest.fixture(scope="module")
def cpu_run():
    """One quick CPU profile with 10 MB of "free memory", recording the graph flag the runner
    asks for per timed call."""
    from moeplan.profile import timing

    calls = []
    real = timing.Timer.time

    def spy(self, fn, flush_l2=True, graph=True):
        calls.append((getattr(fn, "args", (None,) * 5)[4], graph))
        return real(self, fn, flush_l2, graph)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(timing.Timer, "time", spy)
        mp.setattr(memcheck, "free_bytes", lambda device: 10_000_000)
        doc = run_profile(ProfileOptions("cpu", quick=True, repeats=1), _cpu_info()).doc
    return doc, calls


def test_runner_asks_for_no_graph_on_syncing_backends(cpu_run):
    by_fn = {fn.__name__: g for fn, g in cpu_run[1] if callable(fn)}
    assert by_fn["experts_loop"] is False and by_fn["experts_int4_loop"] is False
    assert by_fn["experts_gather_bmm"] is True


class _FakeEvent:
    def __init__(self, enable_timing=False):
        pass

    def record(self):
        pass

    def elapsed_time(self, end):
        return 2.0  # ms


def test_cuda_timer_captures_only_when_asked(monkeypatch):
    """torch.cuda faked: graph=False never tries a capture; a failed capture is reported."""
    from moeplan.profile import timing

    tried = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    monkeypatch.setattr(torch.cuda, "Event", _FakeEvent)
    monkeypatch.setattr(timing, "_capture", lambda fn: tried.append(fn) or (None, "no capture"))
    timer = timing.Timer("cuda", repeats=3, warmup=1)
    t = timer.time(lambda: None, flush_l2=False, graph=False)
    assert tried == [] and t.graph is False and t.graph_error is None and t.median_s == 2e-3
    t = timer.time(lambda: None, flush_l2=False, graph=True)
    assert len(tried) == 1 and t.graph is False and t.graph_error == "no capture"


# --- free-memory check ---------------------------------------------------------------------


def _cpu_info():
    return devmod.DeviceInfo("cpu", "cpu", None, None, "cpu")


def test_allocations_are_sized_against_free_memory(cpu_run):
    # CPU_SHAPE in fp32: layer 16 x (256 + 3 x 256 x 128) x 4 = 6,307,840 B; an expert
    # 3 x 256 x 128 x 4 = 393,216 B. 10 MB free, 9 MB usable: the layer fits; gather-bmm at 8
    # tokens copies 8 x 4 x 393,216 = 12.6 MB of experts: skipped, said so.
    assert MoEShape(256, 128, 16, 4) == CPU_SHAPE
    doc = cpu_run[0]
    gather = [r["tokens"] for r in doc["moe"]["curves"]["torch-gather-bmm"]]
    assert gather == [1]
    skipped = {(p["backend"], p["tokens"]) for p in doc["moe"]["skipped_points"]}
    assert ("torch-gather-bmm", 8) in skipped and ("torch-gather-bmm", 32) in skipped
    reason = next(p["reason"] for p in doc["moe"]["skipped_points"] if p["tokens"] == 8)
    # (activations 4 x (2 x 8 x 256 + 32 x (2 x 256 + 3 x 128)) = 131,072 + copies 32 x 393,216
    # = 12,582,912) x 2 for the graph pool = 25,427,968 B
    assert reason == "torch-gather-bmm at 8 tokens needs 25.4 MB, 9.0 MB usable of 10.0 MB free"
    assert [r["tokens"] for r in doc["moe"]["curves"]["torch-loop"]] == [1, 8, 32]


def test_a_layer_larger_than_free_memory_is_skipped(monkeypatch):
    monkeypatch.setattr(memcheck, "free_bytes", lambda device: 1_000_000)
    res = run_profile(ProfileOptions("cpu", quick=True, repeats=1), _cpu_info())
    assert res.doc["moe"]["curves"] == {}
    assert any(
        "MoE layer skipped: the MoE layer's weights needs 6.3 MB, 0.9 MB usable" in n
        for n in res.notes
    )


def test_memory_arithmetic():
    s = MoEShape(4096, 1536, 128, 8)
    expert = 3 * 4096 * 1536 * 2  # bf16: 37,748,736 B
    act = s.activation_bytes(64, 2)
    # 2 x (2 x 64 x 4096 + 64 x 8 x (2 x 4096 + 3 x 1536)) = 14,155,776
    assert act == 2 * (2 * 64 * 4096 + 64 * 8 * (2 * 4096 + 3 * 1536)) == 14_155_776
    assert memcheck.moe_transient_bytes(s, 64, 2, "torch-grouped-mm", expert) == act
    assert memcheck.moe_transient_bytes(s, 64, 2, "torch-gather-bmm", expert) == (
        act + 512 * expert
    )
    assert memcheck.call_bytes(100, graph=True) == 200  # a graph pool holds one more copy
    assert memcheck.skip_reason("x", 90, 100) is None  # 90% of 100 usable
    assert memcheck.skip_reason("x", 91, 100) is not None
    assert memcheck.skip_reason("x", 10**15, None) is None  # CPU: no check


# --- bytes moved include activations -------------------------------------------------------


def test_bytes_moved_include_activations():
    s = MoEShape(4096, 1536, 128, 8)
    t = types.SimpleNamespace(median_s=1.0, graph=False)
    expert, router = 3 * 4096 * 1536 * 2, 4096 * 128 * 2
    row = moe_row(s, 4096, 128, 2, expert, router, t)
    # weights: router + 128 experts; activations: 2 x 4096 x 110,592 elements in bf16
    assert row["weight_bytes"] == router + 128 * expert
    assert row["activation_bytes"] == 2 * 4096 * (2 * 4096 + 8 * (2 * 4096 + 3 * 1536))
    assert row["bytes"] == row["weight_bytes"] + row["activation_bytes"]
    assert row["activation_bytes"] / row["bytes"] > 0.15  # 906 MB of 5.74 GB at 4k tokens
    assert row["tokens_per_expert"] == 4096 * 8 / 128 and row["bytes_per_expert"] == expert


def test_no_fraction_above_one_without_a_spec():
    from moeplan.profile.moe_sweep import rescale_without_spec as _rescale_without_spec

    row = {"fraction_of_spec_bw": 1.6, "all_bytes_fraction_of_spec_bw": 2.0}
    other = {"fraction_of_spec_bw": 0.4, "all_bytes_fraction_of_spec_bw": 0.8}
    moe = {"curves": {"a": [row]}, "curves_skewed": {}, "curves_by_dtype": {"int4": {"b": [other]}}}
    notes: list[str] = []
    assert _rescale_without_spec(moe, 10.0, notes) == 16.0  # 10 x 1.6
    assert row["fraction_of_spec_bw"] == 1.0 and other["fraction_of_spec_bw"] == 0.25
    assert row["all_bytes_fraction_of_spec_bw"] == 2.0 / 1.6 and "1.60x" in notes[0]


# --- quantized MoE paths -------------------------------------------------------------------


def test_int4_backend_matches_its_dequantized_weights():
    from moeplan.profile.moe_quant import (
        dequantize_int4,
        dequantized_int4_layer,
        experts_int4_loop,
        prepare_int4,
        quantize_int4,
    )

    w = torch.randn(64, 256)
    q, sz = quantize_int4(w)
    assert q.min() >= 0 and q.max() <= 15
    step = (sz[..., 0].float().t().repeat_interleave(128, 1)).abs()
    assert ((dequantize_int4(q, sz) - w).abs() <= step * 0.5 + 2e-2).all()  # half a step + bf16
    shape = MoEShape(256, 256, 4, 2)
    layer = make_layer(shape, "cpu", torch.float32)
    ids, wts = plan_routing(9, shape, True, "cpu")
    x = torch.randn(9, 256)
    got = experts_int4_loop(x, ids, wts, prepare_int4(layer))
    want = experts_loop(x, ids, wts, dequantized_int4_layer(None, layer))
    assert float((got - want).norm() / want.norm()) < 0.02  # bf16 activations


def test_fp8_grouped_backend_wiring_with_a_reference_kernel(monkeypatch):
    """torch._scaled_grouped_mm runs on CUDA only: a reference implementation of its contract
    (row-wise scales, column-major B, cumulative int32 offsets) checks the backend's wiring."""
    from moeplan.profile.moe_quant import experts_fp8_grouped, prepare_fp8

    def ref(a, b, sa, sb, offs, out_dtype):
        out = torch.zeros(a.shape[0], b.shape[2], dtype=out_dtype)
        start = 0
        for e, end in enumerate(offs.tolist()):
            out[start:end] = (a[start:end].float() * sa[start:end, None]) @ (
                b[e].float() * sb[e][None, :]
            )
            start = end
        return out

    monkeypatch.setattr(torch, "_scaled_grouped_mm", ref, raising=False)
    shape = MoEShape(128, 64, 4, 2)
    layer = make_layer(shape, "cpu", torch.float32)
    fp8 = prepare_fp8(layer)
    ids, wts = plan_routing(12, shape, False, "cpu")
    x = torch.randn(12, 128)
    got = experts_fp8_grouped(x, ids, wts, fp8)
    want = experts_loop(x, ids, wts, fp8.dequantized(layer))
    assert float((got - want).norm() / want.norm()) < 0.1  # fp8 activations: ~2^-4 per value
    # 1 byte per weight + a float32 scale per output row: 3 x 128 x 64 + 4 x (2 x 64 + 128)
    assert fp8.expert_bytes == 3 * 128 * 64 + 4 * (2 * 64 + 128)


def test_quantized_paths_on_cpu_run_or_say_why():
    runnable, skipped = backends("cpu", torch.float32)
    assert runnable["torch-int4-loop"].weight_dtype == "int4"
    assert "CUDA only" in skipped["torch-fp8-grouped-mm"]


def test_calibration_keys_moe_rows_by_weight_dtype(cpu_run):
    doc = cpu_run[0]
    by = doc["moe"]["curves_by_dtype"]
    assert {"fp32", "int4"} <= set(by) and "torch-int4-loop" not in doc["moe"]["curves"]
    row = by["int4"]["torch-int4-loop"][0]
    # CPU_SHAPE: 3 x 256 x 128 = 98,304 weights: 49,152 B of int4 + 4 B per group of 128
    assert row["bytes_per_expert"] == 98_304 // 2 + 4 * 98_304 // 128 == 52_224
    assert row["tokens_per_expert"] == row["tokens"] * 4 / row["distinct_experts"]


# --- Triton autotuning ---------------------------------------------------------------------


def test_triton_autotunes_over_a_small_set():
    from moeplan.profile.triton_moe import AUTOTUNE_CONFIGS, autotune_configs

    assert 2 <= len(AUTOTUNE_CONFIGS) <= 8 and (64, 64, 4, 3) in AUTOTUNE_CONFIGS
    assert autotune_configs(interpret=True) == AUTOTUNE_CONFIGS[:1]


# --- collectives ---------------------------------------------------------------------------


def test_set_device_before_init_with_device_id(monkeypatch):
    import torch.distributed as dist

    from moeplan.profile import collectives

    calls = []
    monkeypatch.setenv("LOCAL_RANK", "3")
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(torch.cuda, "set_device", lambda i: calls.append(("set_device", i)))
    monkeypatch.setattr(
        dist, "init_process_group", lambda backend, **kw: calls.append((backend, kw))
    )
    monkeypatch.setattr(dist, "get_rank", lambda: 3)
    monkeypatch.setattr(dist, "get_world_size", lambda: 8)
    assert collectives.init_process_group("cuda") == (3, 8)
    assert calls[0] == ("set_device", 3)
    assert calls[1][0] == "nccl" and calls[1][1]["device_id"] == torch.device("cuda", 3)
    assert calls[1][1]["timeout"] == collectives.COLLECTIVE_TIMEOUT


def test_model_shaped_collectives():
    from moeplan.profile.collectives import bus_factor, model_collectives

    jobs = model_collectives(MoEShape(4096, 1536, 128, 8), "cuda")
    tp = next(j for j in jobs if j["purpose"] == "tp all-reduce" and j["tokens"] == 64)
    ep = next(j for j in jobs if j["purpose"] == "ep dispatch" and j["tokens"] == 64)
    assert tp["elements"] == 64 * 4096 and tp["dtype"] == "bf16"
    assert ep["elements"] == 64 * 8 * 4096 and ep["kernel"] == "all_to_all"
    assert bus_factor("all_reduce", 8) == 2 * 7 / 8 and bus_factor("all_to_all", 8) == 7 / 8


def test_other_ranks_only_join_the_collectives_first(monkeypatch):
    from moeplan.profile import collectives

    seen = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setattr(
        collectives, "time_collectives", lambda *a, **kw: seen.append(kw["model_shapes"]) or []
    )
    res = run_profile(ProfileOptions("cpu", quick=True, repeats=1), _cpu_info())
    assert res.doc == {} and len(seen) == 1 and seen[0]  # no kernel timed on rank 1


# --- attention decode says what it timed --------------------------------------------------


def test_attention_decode_names_its_kernel(monkeypatch):
    from moeplan.profile.kernels import attention_decode, attention_decode_impl
    from moeplan.profile.timing import Timer

    row = attention_decode(Timer("cpu", 1, 0), "cpu", 1, 4, 2, 16, 32)
    assert row["implementation"] == "sdpa, default dispatch"
    monkeypatch.setitem(sys.modules, "flash_attn", None)
    assert attention_decode_impl("cuda") == "sdpa, flash backend"
    fake = types.ModuleType("flash_attn")
    fake.flash_attn_with_kvcache = lambda *a, **k: None
    monkeypatch.setitem(sys.modules, "flash_attn", fake)
    assert attention_decode_impl("cuda") == "flash_attn.flash_attn_with_kvcache"


def test_ci_installs_triton_for_the_interpreter_test():
    from pathlib import Path

    import tomllib

    text = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    test_extra = tomllib.loads(text)["project"]["optional-dependencies"]["test"]
    assert any(dep.startswith("triton") for dep in test_extra)
    assert any(dep.startswith("numpy") for dep in test_extra)
