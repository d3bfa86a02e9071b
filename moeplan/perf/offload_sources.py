"""Where the offload engines' structural facts come from (source text the profiles in
offload_engines.py cite): thread defaults and how each engine lays experts out over NUMA nodes."""

from __future__ import annotations

LLAMACPP_DEFAULT_THREADS_SOURCE = (
    "ggml-org/llama.cpp@17fce9be15411587700cda558a626e9f53e54a0b common/common.cpp: with no -t, "
    "postprocess_cpu_params sets n_threads = cpu_get_num_math(); on x86-64 Linux with a hybrid "
    "CPU (CPUID 7 EDX bit 15) cpu_count_math_cpus pins to each CPU, skips Atom-type (E) cores "
    "('efficiency cores harm lockstep threading') and SMT siblings, so a 14900K (8 P + 16 E) "
    "runs 8 threads; the sibling skip is an unconditional ++cpu ('hyperthreading isn't useful "
    "for linear algebra'), so on P-cores without SMT it skips every other P-core: a Core Ultra "
    "7 265K runs 4 (chrisdesrochers/MoEArc logs 'n_threads = 4' there); elsewhere "
    "cpu_get_num_physical_cores (one per core; macOS hw.perflevel0.physicalcpu, the P-cores; "
    "Windows every core, E-cores included)"
)


KT_KERNEL_NUMA_SOURCE = (
    "kvcache-ai/ktransformers@95009ea6 kt-kernel/operators/moe-tp.hpp (kt-kernel added in "
    "4c5fcf97, 2025-10-12): TP_MOE_Common splits every expert's intermediate_size over the "
    "worker pool's subpool_count, one part per NUMA subpool, and merges the outputs; doc/en/"
    "kt-kernel/AVX2-Tutorial.md: '--kt-threadpool-count: set to the number of NUMA nodes'. So "
    "each socket reads its own slice (numa_local_reads) of one copy (no replication)"
)


KT_USE_NUMA_SOURCE = (
    "kvcache-ai/ktransformers doc/en/DeepseekR1_V3_tutorial.md (V0.2/V0.3): dual socket 'copy "
    "the critical matrix on both nodes' (382 GB single socket vs 1 TB dual socket DRAM)"
)
