"""Notes on where a host's memory figures come from (offload_placement.py prints them)."""

from __future__ import annotations

from moeplan.hardware.hosts import Host


def rated_speed_note(host: Host) -> str | None:
    """Say so where a catalog host's bandwidth is its CPU's rated memory speed on every channel
    (no --host-mem-gbps, no measured read, no vendor figure for a fixed memory): a machine's kit
    may run faster (XMP/EXPO) or fill fewer channels than the CPU has."""
    if host.segment == "user" or not (host.memory_channels and host.memory_mts):
        return None
    if host.bw_override_bytes_per_s is not None or host.read_override_bytes_per_s is not None:
        return None
    if host.published_bw_bytes_per_s is not None:
        return None
    theoretical = host.mem_bw_bytes_per_s or 0.0  # the DDR formula: no override, no vendor figure
    sockets = f"{host.sockets} sockets x " if host.sockets > 1 else ""
    formula = "sockets x channels" if host.sockets > 1 else "channels"
    kit = (
        "registered DIMMs run at the rated speed, fewer DIMMs than channels or two a channel slower"
        if host.segment == "server"
        else "an XMP/EXPO kit runs faster, fewer DIMMs than channels slower"
    )
    return (
        f"host memory: {sockets}{host.memory_channels} x {host.memory_type}-{host.memory_mts:g} "
        f"= {theoretical / 1e9:,.1f} GB/s theoretical, {host.id}'s rated speed on every channel, "
        f"not measured on yours: pass --host-mem-gbps ({formula} x MT/s x 8 / 1000; {kit}), "
        "or measure the machine with `moeplan profile --host-memory` and pass the file it "
        "writes to --host"
    )
