"""The network between nodes a layout spans (moved out of phases.py)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NETWORK_GBPS = 400.0
"""Inter-node network per GPU in Gb/s (one 400G InfiniBand/RoCE NIC per GPU)."""

INTER_NODE_LATENCY_S = 25e-6
"""Start-up latency of a collective or hop across nodes (InfiniBand, NCCL)."""


@dataclass(frozen=True)
class Network:
    nodes: int = 1
    inter_node_bytes_per_s: float = DEFAULT_NETWORK_GBPS * 1e9 / 8
    inter_node_latency_s: float = INTER_NODE_LATENCY_S
