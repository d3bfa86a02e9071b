"""The GPU's host link for expert offload: the PCIe bandwidth one direction carries when host
experts or hidden states cross it."""

from __future__ import annotations

from moeplan.hardware.gpus import GPU
from moeplan.hardware.hosts import pcie_bytes_per_s

ONE_CORE_READ_GBPS = 19.9
"""GB/s one core reads from DRAM by itself: one thread of an EPYC 7402 (Zen 2, 8 x DDR4-3200)
streaming read-only, 19.9 GB/s, in the per-thread sweep of kvcache-ai/ktransformers PR 2175
(05yuki, 2026-09-10); the one published single-core read of a platform ktransformers runs on."""

ONE_CORE_READ_SOURCE = (
    "one Zen 2 core's read-only stream, kvcache-ai/ktransformers PR 2175 (EPYC 7402, 2026-09-10), "
    "taken for every platform (no per-platform single-core figure is used)"
)


DEFAULT_PCIE = (5, 16)
"""Host link assumed when the GPU entry names none (NVLink/SXM parts sit on a PCIe Gen5 x16 host
link: aiconfigurator h100_sxm.yaml 'pcie 64 GB/s single direction')."""


def host_link_bytes_per_s(gpu: GPU, pcie: tuple[int, int] | None = None) -> tuple[float, str]:
    """One direction of the GPU's host link: an explicit (gen, lanes), the catalog's, else the
    GPU's PCIe interconnect figure, else DEFAULT_PCIE."""
    if pcie is None and gpu.pcie_gen and gpu.pcie_lanes:
        pcie = (gpu.pcie_gen, gpu.pcie_lanes)
    if pcie is not None:
        return pcie_bytes_per_s(*pcie), f"PCIe Gen{pcie[0]} x{pcie[1]}"
    if gpu.interconnect.kind == "pcie":
        return gpu.interconnect.per_direction_bytes_per_s, "PCIe (catalog link figure)"
    gen, lanes = DEFAULT_PCIE
    return pcie_bytes_per_s(gen, lanes), f"PCIe Gen{gen} x{lanes} (assumed: GPU entry names none)"


def pageable_copy_bytes_per_s(pinned_bytes_per_s: float, core_read_bytes_per_s: float) -> float:
    """Host-to-GPU copy rate from pageable memory: the CUDA driver first copies each chunk into a
    pinned bounce buffer with one CPU thread, then DMAs it, so the pinned link rate and one
    core's read rate add up in series: 1 / (1 / pinned + 1 / core). Checked, not fitted, against
    the two published pageable/pinned pairs found, at the one-core read of ONE_CORE_READ_GBPS
    (19.9 GB/s): an RTX 4090 on PCIe Gen4 x16, 64 MiB copies, 23.9 pinned and 12.88 GB/s pageable
    (NVlabs/cuda-oxide PR 976, 2026-08-17; the formula gives 10.9, -16%), and a DGX A100 (EPYC
    7742, Zen 2), 32 MB copies, 25.7 pinned and 10.0 GB/s pageable (CUDA samples bandwidthTest,
    gengwg's GPU P2P benchmark notes; the formula gives 11.2, +12%). llama.cpp keeps host
    experts in the memory-mapped file by default (LLAMACPP_OP_OFFLOAD_SOURCE): pageable; with
    --no-mmap they go to a pinned CUDA host buffer."""
    return 1.0 / (1.0 / pinned_bytes_per_s + 1.0 / core_read_bytes_per_s)


def expert_stream_bytes_per_s(
    link_bytes_per_s: float, maps_weights: bool, core_read_bytes_per_s: float | None = None
) -> float:
    """Rate host experts stream to the GPU in a prompt pass: the pinned link rate, or from a
    memory-mapped file (OffloadProfile.maps_weights) the pageable rate with one core staging
    the copy: the host's measured one-core read (Host.core_read_bytes_per_s) where given, else
    ONE_CORE_READ_GBPS."""
    if not maps_weights:
        return link_bytes_per_s
    core = core_read_bytes_per_s if core_read_bytes_per_s is not None else ONE_CORE_READ_GBPS * 1e9
    return pageable_copy_bytes_per_s(link_bytes_per_s, core)
