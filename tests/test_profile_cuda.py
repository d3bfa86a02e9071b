"""The profiler on a real CUDA GPU (issue 16's GPU part): each backend against the loop, the
quantized paths, graph capture, autotuning, NVML identity and the memory query. All marked
`cuda` and skipped without a GPU; benchmarks/gpu_session.sh runs them with `pytest -m cuda`."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def _case(tokens: int, skewed: bool = False):
    from moeplan.profile.moe import MoEShape, make_layer, plan_routing

    shape = MoEShape(512, 256, 16, 4)
    layer = make_layer(shape, "cuda", torch.bfloat16)
    ids, w = plan_routing(tokens, shape, skewed, "cuda")
    x = torch.randn(tokens, 512, device="cuda", dtype=torch.bfloat16)
    return shape, layer, ids, w, x


def _rel(a, b) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


@pytest.mark.parametrize("tokens, skewed", [(1, False), (33, True), (300, False)])
def test_bf16_backends_agree_with_the_loop(tokens, skewed):
    from moeplan.profile.moe import backends, experts_loop

    _, layer, ids, w, x = _case(tokens, skewed)
    want = experts_loop(x, ids, w, layer)
    runnable, skipped = backends("cuda", torch.bfloat16)
    for b in runnable.values():
        if b.prepare is None:
            assert _rel(b.fn(x, ids, w, layer), want) < 2e-2, b.name  # bf16 rounding
    assert "torch-grouped-mm" in runnable or "torch-grouped-mm" in skipped


def test_quantized_backends_run_or_say_why():
    from moeplan.profile.moe import backends

    runnable, skipped = backends("cuda", torch.bfloat16)
    major, _ = torch.cuda.get_device_capability()
    if major >= 8:  # tinygemm int4 needs sm80+
        assert "torch-int4-loop" in runnable, skipped.get("torch-int4-loop")
    if major >= 9:  # H100/H200: fp8 grouped GEMM expected to run
        assert "torch-fp8-grouped-mm" in runnable, skipped.get("torch-fp8-grouped-mm")


def test_capturable_backends_capture():
    from moeplan.profile.moe import backends
    from moeplan.profile.timing import _capture

    _, layer, ids, w, x = _case(16)
    for b in backends("cuda", torch.bfloat16)[0].values():
        if b.capturable:
            e = b.layer_for(layer)
            graph, why = _capture(lambda b=b, e=e: b.fn(x, ids, w, e))
            assert graph is not None, (b.name, why)


def test_triton_autotuner_picks_a_config():
    from moeplan.profile.triton_moe import _kernel, experts_triton, triton_available

    if triton_available("cuda") is not None:
        pytest.skip(triton_available("cuda"))
    _, layer, ids, w, x = _case(64)
    experts_triton(x, ids, w, layer)
    torch.cuda.synchronize()
    assert _kernel().best_config is not None


def test_nvml_identity_is_torch_device():
    from moeplan.profile.device import detect_device, torch_device_ids

    info = detect_device("cuda")
    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    uuid, pci = torch_device_ids(props)
    if info.identity_source.startswith("nvml"):
        assert uuid in info.identity_source or pci in info.identity_source
        assert abs(info.memory_bytes - props.total_memory) < 0.02 * props.total_memory


def test_free_memory_is_read_from_the_device():
    from moeplan.profile.memcheck import free_bytes

    free = free_bytes("cuda")
    assert 0 < free <= torch.cuda.get_device_properties(0).total_memory
