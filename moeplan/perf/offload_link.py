"""The GPU's host link for expert offload: the PCIe bandwidth one direction carries when host
experts or hidden states cross it."""

from __future__ import annotations

from moeplan.hardware.gpus import GPU
from moeplan.hardware.hosts import pcie_bytes_per_s

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
