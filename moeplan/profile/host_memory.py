"""`moeplan profile --host-memory`: this machine's DRAM read bandwidth, measured, and the host file
that carries it (`mem_read_gbps`, which replaces theoretical x read fraction: hardware/hosts.py).

Why: the llama.cpp offload runs moeplan validates imply host read rates from 0.38 to 0.94 of the
figure the catalog gives their CPUs, box by box, with no input that predicts it (a kit below its
rated speed, fewer DIMMs than channels, a BIOS setting). A read measured on the machine itself
removes the part of that spread that is the memory; llmfit likewise measures the RAM it runs on.

How, as the read figures of MEASURED_READ_FRACTIONS (AIDA64 read, the Mess read curves) were
taken: every CPU the process may use streams reads through its own share of a buffer far larger
than the caches, each thread pinned to one CPU and first touching its own share (so on a NUMA
machine each share sits in its reader's node, as STREAM with bound threads does); the rate is the
buffer's bytes over the wall time of one pass, the median of several passes. The read is numpy's
bitwise-or reduction over 64-bit words (one integer op a word, vectorized; numpy releases the GIL
in it, so the threads run in parallel)."""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

from moeplan.errors import MoeplanError

WORD_BYTES = 8


@dataclass(frozen=True)
class ReadProbe:
    """One measurement: bytes a second of each timed pass, and how it was taken."""

    pass_bytes_per_s: tuple[float, ...]
    threads: int
    buffer_bytes: int

    @property
    def read_bytes_per_s(self) -> float:
        """The median pass, not STREAM's best: on a shared or virtual machine single passes run
        both slower (another tenant reading) and faster (a boost window, lines the first touch
        left in cache) than the memory sustains; on this project's 2-CPU EPYC VM one pass of 1 GB
        read 92.5 GB/s beside five at 64-66, and another run's passes spread 37-98."""
        return statistics.median(self.pass_bytes_per_s)


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        raise MoeplanError(
            "--host-memory needs numpy: pip install numpy (or 'moeplan[profile]')"
        ) from None
    return numpy


def usable_cpus() -> list[int]:
    """The CPUs this process may run on (its affinity mask; all of them where the OS has none)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def _pin(cpu: int | None) -> None:
    """Bind the calling thread to one CPU (Linux: pid 0 names the calling thread)."""
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):  # a CPU taken away meanwhile: run unpinned
            os.sched_setaffinity(0, {cpu})


def measure_read(threads: int, buffer_bytes: int, passes: int) -> ReadProbe:
    """Time `passes` reads of a `buffer_bytes` buffer split across `threads` pinned threads."""
    if threads < 1 or passes < 1 or buffer_bytes < WORD_BYTES * threads:
        raise MoeplanError(
            f"host read probe: {threads} thread(s), {passes} pass(es) and {buffer_bytes} bytes "
            "(at least one 8-byte word a thread) are needed"
        )
    np = _numpy()
    words = buffer_bytes // WORD_BYTES // threads * threads
    try:
        buffer = np.empty(words, dtype=np.uint64)
    except MemoryError:
        raise MoeplanError(
            f"host read probe: cannot allocate {words * WORD_BYTES / 1e9:.2f} GB; "
            "pass a smaller --buffer-gb"
        ) from None
    shares = np.array_split(buffer, threads)
    cpus = usable_cpus()
    start = threading.Barrier(threads + 1)
    done = threading.Barrier(threads + 1)
    failures: list[BaseException] = []

    def reader(index: int) -> None:
        try:
            _pin(cpus[index % len(cpus)] if len(cpus) > 1 else None)
            shares[index].fill(index + 1)  # first touch: the page lands in this thread's node
        except BaseException as exc:  # reported after the passes; the barriers must still meet
            failures.append(exc)
        done.wait()
        for _ in range(passes):
            start.wait()
            np.bitwise_or.reduce(shares[index])
            done.wait()

    workers = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    done.wait()
    rates = []
    for _ in range(passes):
        start.wait()
        began = time.perf_counter()
        done.wait()
        rates.append(words * WORD_BYTES / max(time.perf_counter() - began, 1e-9))
    for worker in workers:
        worker.join()
    if failures:
        raise MoeplanError(f"host read probe: a reader thread failed: {failures[0]}")
    return ReadProbe(tuple(rates), threads, words * WORD_BYTES)
