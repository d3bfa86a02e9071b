"""What an offload engine's CPU threads read of the host experts a second in decode: the socket's
achievable read bandwidth x the engine's efficiency (NUMA sockets adding their gain), and the
threads' own read ceiling."""

from __future__ import annotations

from moeplan.errors import MoeplanError
from moeplan.hardware.hosts import Host
from moeplan.perf.offload_engines import OffloadProfile, cpu_threads


def host_bandwidth_reached(host: Host, engine: OffloadProfile) -> float:
    """DRAM bandwidth expert matvecs reach: one socket's achievable read bandwidth
    (Host.read_bw_bytes_per_s: measured, or theoretical x the platform's measured read fraction)
    x the engine's efficiency, plus numa_extra_socket_gain of it for each further socket."""
    total = host.read_bw_bytes_per_s
    if total is None:
        raise MoeplanError(f"host '{host.id}': memory bandwidth unknown; pass --host-mem-gbps")
    per_socket = total / host.sockets
    gain = 1.0 + (host.sockets - 1) * engine.numa_extra_socket_gain
    return per_socket * engine.host_bw_efficiency * gain


def thread_read_bytes_per_s(host: Host, engine: OffloadProfile) -> float | None:
    """Expert bytes per second the engine's CPU threads read at most, whatever the DRAM: threads
    (cpu_threads) x what one core reads alone (OffloadProfile.core_read_gbps) x the engine's
    efficiency, the fraction of the hardware's read its kernels reach on the whole socket too;
    None where the engine has no per-thread ceiling. One core streams only as fast as its misses
    in flight allow over the loaded latency (J. McCalpin, "Single-core memory bandwidth: latency,
    bandwidth and concurrency", 2025-02-17: more or faster channels make "no difference" to it;
    kvcache-ai/ktransformers PR 2175's read-only sweep on an EPYC 7402: 19.9 GB/s on one thread,
    ~37 GB/s a CCD), so a few threads on a socket of many channels cannot use its bandwidth."""
    if engine.core_read_gbps is None:
        return None
    return cpu_threads(host, engine) * per_thread_read_gbps(host, engine) * 1e9


def core_read_gbps(host: Host, engine: OffloadProfile) -> float:
    """GB/s one core reads alone: measured on the host (Host.core_read_bytes_per_s, written by
    `moeplan profile --host-memory`), else the engine's published stand-in (core_read_gbps)."""
    if engine.core_read_gbps is None:
        raise MoeplanError(f"{engine.id} has no per-thread read ceiling")
    if host.core_read_bytes_per_s is not None:
        return host.core_read_bytes_per_s / 1e9
    return engine.core_read_gbps


def per_thread_read_gbps(host: Host, engine: OffloadProfile) -> float:
    """GB/s of experts one decode thread reads at most: core_read_gbps x host_bw_efficiency."""
    return core_read_gbps(host, engine) * engine.host_bw_efficiency
