"""Communication time of a pass: the link a collective runs over (the interconnect inside a node,
the network across nodes), the TP all-reduces, and the EP all-to-all or all-gather of the routed
tokens, with a calibration's measured collective times where it has them (phases.py calls it)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from moeplan.memory.estimate import ACTIVATION_BYTES
from moeplan.perf.moe_comm import allgather_moe_bytes_per_layer, uses_allgather
from moeplan.perf.terms import (
    all_to_all_seconds,
    allreduce_seconds,
    rank_load_factor,
    stage_fraction,
)

if TYPE_CHECKING:
    from moeplan.hardware.gpus import GPU
    from moeplan.perf.engines import EngineProfile
    from moeplan.perf.network import Network
    from moeplan.perf.parallel import Layout
    from moeplan.perf.phases import Setup


def collective_link(
    gpu: GPU,
    layout: Layout,
    network: Network,
    engine: EngineProfile,
    group: int,
    allreduce: bool = False,
) -> tuple[float, float]:
    """Bandwidth and latency for a collective over `group` GPUs: the GPU's interconnect inside a
    node, the network when the group spans nodes. A TP all-reduce (`allreduce`) inside a node
    takes the engine's all-reduce latency for the link (EngineProfile.allreduce_latency_for)."""
    per_node = math.ceil(layout.gpus / network.nodes)
    if group > per_node:
        return network.inter_node_bytes_per_s, network.inter_node_latency_s
    wire = gpu.interconnect
    if allreduce:
        return wire.per_direction_bytes_per_s, engine.allreduce_latency_for(wire.kind, group)
    return wire.per_direction_bytes_per_s, engine.collective_latency_s


def routed_load(setup: Setup, stage_tokens: float) -> float:
    """The busiest EP rank's routed picks over the mean rank's (terms.rank_load_factor); 1 where
    the engine runs every expert over every token (runs_moe_ootb: nothing is routed)."""
    if setup.rates.engine.runs_moe_ootb(setup.scheme.expert_compute):
        return 1.0
    return rank_load_factor(setup.spec, setup.layout, stage_tokens, setup.routing_skew)


def link(setup: Setup, group: int, allreduce: bool = False) -> tuple[float, float]:
    """collective_link for a pass's setup."""
    return collective_link(
        setup.gpu, setup.layout, setup.network, setup.rates.engine, group, allreduce
    )


def _collective(
    setup: Setup, kernel: str, message_bytes: float, group: int, default_s: float
) -> float:
    """A collective's time: the calibration's measured time for this kernel and group size
    when the group sits inside one node (where it was measured), else `default_s`."""
    measured = setup.rates.measured
    per_node = math.ceil(setup.layout.gpus / setup.network.nodes)
    if measured is None or group > per_node:
        return default_s
    seconds = measured.collective_s(kernel, message_bytes, group)
    return default_s if seconds is None else seconds


def communication_s(setup: Setup, tokens_per_group: float, stage_tokens: float) -> float:
    """Per stage: two TP all-reduces per layer of the group's hidden states; under EP an
    all-to-all dispatch and combine per MoE layer of top_k copies of each token's hidden state,
    or, for engines that all-gather under attention DP (perf.moe_comm), a ring all-gather of
    every token and a reduce-scatter of the outputs; none for an engine whose EP without
    attention DP runs the local experts over the replicated batch (EngineProfile.replicated_ep,
    moe_comm.REPLICATED_EP_SOURCE), where the TP all-reduce already sums the experts. A
    calibration's measured all-reduce and all-to-all times replace the link formula where it has
    them (_collective)."""
    spec, layout, eng = setup.spec, setup.layout, setup.rates.engine
    frac = stage_fraction(spec, layout)
    seconds = 0.0
    if layout.tp > 1:
        bw, lat = link(setup, layout.tp, allreduce=True)
        msg = tokens_per_group * spec.hidden_size * ACTIVATION_BYTES
        one = allreduce_seconds(msg, layout.tp, bw, lat, eng.collective_efficiency)
        one = _collective(setup, "all_reduce", msg, layout.tp, one)
        seconds += 2 * spec.num_layers * frac * one
    if spec.moe is not None and uses_allgather(eng.id, layout.dp, layout.ep):
        # all-gather the stage's tokens, reduce-scatter the outputs (perf.moe_comm)
        bw, lat = link(setup, layout.gpus_per_stage)
        n = layout.gpus_per_stage
        moved = allgather_moe_bytes_per_layer(
            stage_tokens, spec.hidden_size, spec.moe.top_k, setup.scheme.expert_compute
        )
        per_layer = 2 * lat + (n - 1) / n * moved / (bw * eng.collective_efficiency)
        seconds += spec.num_moe_layers * frac * per_layer
    elif layout.ep > 1 and spec.moe is not None and not (eng.replicated_ep and layout.dp == 1):
        group = layout.gpus_per_stage
        bw, lat = link(setup, group)
        per_gpu = (  # the busiest rank receives and returns its share of the picks
            routed_load(setup, stage_tokens)
            * stage_tokens
            * spec.moe.top_k
            * spec.hidden_size
            * ACTIVATION_BYTES
            / group
        )
        one = all_to_all_seconds(per_gpu, group, bw, lat, eng.collective_efficiency)
        seconds += (
            2 * spec.num_moe_layers * frac * _collective(setup, "all_to_all", per_gpu, group, one)
        )
    return seconds
