"""Expert-offload options shared by `size`, `latency` and `plan`, declared once, and the one
helper that turns them into a host and an offload report."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated

import typer

from moeplan.errors import MoeplanError

if TYPE_CHECKING:
    from moeplan.hardware.gpus import GPU
    from moeplan.hardware.hosts import Host
    from moeplan.memory.quant import QuantScheme
    from moeplan.model.specs import ModelSpec
    from moeplan.perf.llamacpp_sampler import SamplerSettings
    from moeplan.perf.offload import OffloadReport
    from moeplan.perf.offload_engines import OffloadProfile

OffloadOpt = Annotated[
    str | None,
    typer.Option(
        "--offload",
        help="Routed experts in host RAM: none, experts (all layers, or --n-cpu-moe K), auto "
        "(smallest K that fits the GPU, as llama.cpp --fit), sweep (latency: a table of K from "
        "auto's to every layer).",
    ),
]
NCpuMoeOpt = Annotated[
    int | None,
    typer.Option(
        "--n-cpu-moe",
        help="Keep the routed experts of layers 0..K-1 in RAM (llama.cpp counts every layer).",
    ),
]
HostOpt = Annotated[
    str | None,
    typer.Option(
        "--host",
        help="Host CPU id or brand string (see `moeplan list hosts`), local (this Linux machine: "
        "/proc/cpuinfo and /proc/meminfo), or a host YAML file.",
    ),
]
HostMemOpt = Annotated[
    float | None,
    typer.Option(
        "--host-mem-gbps",
        help="Host THEORETICAL memory bandwidth, GB/s of bytes (whole machine: channels x MT/s x "
        "8 / 1000); the platform's measured read fraction still applies.",
    ),
]
HostMemMeasuredOpt = Annotated[
    float | None,
    typer.Option(
        "--host-mem-measured-gbps",
        help="Host read bandwidth you MEASURED (STREAM, mlc, AIDA64 read), GB/s, whole machine; "
        "used as is instead of theoretical x the platform's read fraction.",
    ),
]
HostRamOpt = Annotated[
    float | None, typer.Option("--host-ram-gb", help="Host RAM, decimal GB (64 GiB = 68.7 GB).")
]
HostCoresOpt = Annotated[int | None, typer.Option("--host-cores", help="CPU cores, all sockets.")]
HostSocketsOpt = Annotated[int | None, typer.Option("--host-sockets", help="CPU sockets.")]
PcieGenOpt = Annotated[
    int | None, typer.Option("--pcie-gen", help="PCIe generation of the GPU link (default: GPU's).")
]
PcieLanesOpt = Annotated[
    int | None, typer.Option("--pcie-lanes", help="PCIe lanes of the GPU link (default: GPU's).")
]
DiskOpt = Annotated[
    float | None,
    typer.Option("--disk-gbps", help="Disk read speed, GB/s, for the RAM-short (mmap) estimate."),
]
GpuReservedOpt = Annotated[
    float | None,
    typer.Option(
        "--gpu-reserved-gb",
        help="GPU memory other processes already hold (a desktop on the card: nvidia-smi before "
        "the engine starts), decimal GB; off the GPU's capacity. Default 0 (a headless card).",
    ),
]
UbatchOpt = Annotated[
    int | None,
    typer.Option(
        "--ubatch",
        help="Prompt tokens a forward pass: llama.cpp -ub (default 512), ktransformers' chunk "
        "(default 8192). Sets the pass count, the experts a streamed pass copies and the "
        "compute buffer.",
    ),
]
NoOpOffloadOpt = Annotated[
    bool,
    typer.Option(
        "--no-op-offload",
        help="llama.cpp --no-op-offload: host experts stay on the CPU for prompts of any size.",
    ),
]
NoMmapOpt = Annotated[
    bool,
    typer.Option(
        "--no-mmap",
        help="llama.cpp --no-mmap: host experts in a pinned buffer, so prompt passes stream them "
        "at the link's pinned rate (default: the mmap'd file, pageable, about half of it).",
    ),
]
SwaFullOpt = Annotated[
    bool,
    typer.Option(
        "--swa-full",
        help="llama.cpp --swa-full: sliding-window layers (gpt-oss, Gemma) cache every cell of the "
        "context, not the window plus a ubatch.",
    ),
]
KtGpuExpertsOpt = Annotated[
    int | None,
    typer.Option(
        "--kt-gpu-experts",
        help="kt-kernel --kt-num-gpu-experts (--engine ktransformers only): experts of every MoE "
        "layer kept on the GPU; priced as the --n-cpu-moe with the same expert bytes in RAM.",
    ),
]
KtPrefillOpt = Annotated[
    int | None,
    typer.Option(
        "--kt-gpu-prefill-threshold",
        help="kt-kernel + SGLang --kt-gpu-prefill-token-threshold (--engine ktransformers only): "
        "chunks of at least this many tokens stream every expert of each host layer to the GPU "
        "(default: unset, CPU, as sglang.launch_server; `kt run` passes 4096).",
    ),
]
CacheLensOpt = Annotated[
    int | None,
    typer.Option(
        "--cache-lens",
        help="ktransformers server --cache_lens: its static KV cache holds this many tokens "
        "whatever the prompt (default: input + output, as local_chat sizes it).",
    ),
]
CtxSizeOpt = Annotated[
    int | None,
    typer.Option(
        "--ctx-size",
        help="Context cells the cache is allocated for at startup (llama.cpp -c, per sequence): "
        "the GPU's KV cache and buffers, and so the fit and --offload auto's K, are sized for it; "
        "speed stays priced at --input/--output (default: input + output).",
    ),
]
TopKOpt = Annotated[
    int | None,
    typer.Option(
        "--top-k",
        help="llama.cpp sampler top-k (default 40; 0 = off: every token then sorts the whole "
        "vocabulary in some builds, see --sampler-era). --engine llamacpp only.",
    ),
]
TopPOpt = Annotated[
    float | None, typer.Option("--top-p", help="llama.cpp sampler top-p, 0..1 (default 0.95).")
]
MinPOpt = Annotated[
    float | None, typer.Option("--min-p", help="llama.cpp sampler min-p, 0..1 (default 0.05).")
]
SamplerEraOpt = Annotated[
    str | None,
    typer.Option(
        "--sampler-era",
        help="llama.cpp build of the sampler: pre-b5222 (before 2025-04-29), b5222 (up to PR "
        "15665, 2025-08-31), pr15665 (default, later builds). Matters only with --top-k 0.",
    ),
]
NoSamplerOpt = Annotated[
    bool,
    typer.Option(
        "--no-sampler",
        help="No CPU sampler time (llama-bench and llama-batched-bench pick a random token).",
    ),
]


@dataclass(frozen=True)
class SamplerArgs:
    """llama.cpp's sampler flags (perf/llamacpp_sampler.py)."""

    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    era: str | None = None
    none: bool = False

    @property
    def given(self) -> bool:
        return self.none or any(
            v is not None for v in (self.top_k, self.top_p, self.min_p, self.era)
        )

    def settings(self) -> SamplerSettings | None:
        from moeplan.perf.llamacpp_sampler import CURRENT_ERA, SamplerSettings

        if self.none:
            if any(v is not None for v in (self.top_k, self.top_p, self.min_p, self.era)):
                raise MoeplanError(
                    "--no-sampler (llama-bench) takes no --top-k/--top-p/--min-p/--sampler-era"
                )
            return None
        base = SamplerSettings()
        return SamplerSettings(
            base.top_k if self.top_k is None else self.top_k,
            base.top_p if self.top_p is None else self.top_p,
            base.min_p if self.min_p is None else self.min_p,
            self.era or CURRENT_ERA,
        )


@dataclass(frozen=True)
class PromptArgs:
    """The run flags of an offload run (perf/offload_flags.py with_prompt_flags)."""

    ubatch: int | None = None
    no_op_offload: bool = False
    kt_gpu_prefill_threshold: int | None = None
    cache_lens: int | None = None
    sampler: SamplerArgs = SamplerArgs()
    swa_full: bool = False
    no_mmap: bool = False


@dataclass(frozen=True)
class HostArgs:
    offload: str | None = None  # not given: offload if --n-cpu-moe / --kt-gpu-experts are
    n_cpu_moe: int | None = None
    host: str | None = None
    host_mem_gbps: float | None = None
    host_ram_gb: float | None = None
    host_cores: int | None = None
    host_sockets: int | None = None
    pcie_gen: int | None = None
    pcie_lanes: int | None = None
    disk_gbps: float | None = None
    host_mem_measured_gbps: float | None = None
    prompt: PromptArgs = PromptArgs()
    gpu_reserved_gb: float | None = None
    kt_gpu_experts: int | None = None
    ctx_size: int | None = None

    def gpu_reserved_bytes(self) -> int:
        """--gpu-reserved-gb in bytes (0 when not given); a number that is not finite and
        non-negative is refused."""
        value = self.gpu_reserved_gb
        if value is None:
            return 0
        if not math.isfinite(value) or value < 0:
            raise MoeplanError(f"--gpu-reserved-gb must be 0 or more, got {value}")
        return round(value * 1e9)

    @property
    def host_given(self) -> bool:
        return any(
            v is not None
            for v in (
                self.host,
                self.host_mem_gbps,
                self.host_mem_measured_gbps,
                self.host_ram_gb,
                self.host_cores,
            )
        )

    @property
    def wanted(self) -> bool:
        """Offload asked for: --offload experts|auto, or --n-cpu-moe / --kt-gpu-experts alone."""
        if self.offload not in (None, "none", "experts", "auto", "sweep"):
            raise MoeplanError(
                f"--offload must be none, experts, auto or sweep, got '{self.offload}'"
            )
        placed = (self.n_cpu_moe, self.kt_gpu_experts) != (None, None)
        if self.offload == "none" and placed:
            raise MoeplanError(
                "--offload none keeps every routed expert on the GPU; drop it to place experts "
                "with --n-cpu-moe / --kt-gpu-experts"
            )
        return placed if self.offload is None else self.offload != "none"

    @property
    def mode(self) -> str:
        return "experts" if self.offload in (None, "none") else self.offload

    def pcie(self) -> tuple[int, int] | None:
        if self.pcie_gen is None and self.pcie_lanes is None:
            return None
        return (
            4 if self.pcie_gen is None else self.pcie_gen,
            16 if self.pcie_lanes is None else self.pcie_lanes,
        )

    def resolve_host(self) -> Host:
        from moeplan.hardware.hosts import HOST_OPTIONS, custom_host, resolve_host, with_overrides

        if not self.host_given:
            raise MoeplanError(f"--offload needs a host: pass {HOST_OPTIONS}")
        base = resolve_host(self.host) if self.host else custom_host()
        bw_given = self.host_mem_gbps is not None or self.host_mem_measured_gbps is not None
        if self.host is None and (not bw_given or self.host_ram_gb is None):
            raise MoeplanError(
                "without --host, --host-mem-gbps (or --host-mem-measured-gbps), --host-ram-gb "
                "and --host-cores describe the host"
            )
        return with_overrides(
            base,
            self.host_mem_gbps,
            self.host_ram_gb,
            self.host_cores,
            self.host_sockets,
            self.host_mem_measured_gbps,
        )


def offload_report(
    args: HostArgs,
    spec: ModelSpec,
    scheme: QuantScheme,
    gpu: GPU,
    engine: str | None,
    batch: int,
    input_len: int,
    output_len: int,
    kv_quant: str,
    with_speed: bool = True,
) -> OffloadReport:
    from moeplan.perf.offload import DEFAULT_DISK_BYTES_PER_S, estimate_offload
    from moeplan.perf.offload_engines import resolve_offload_engine
    from moeplan.perf.offload_flags import with_prompt_flags
    from moeplan.perf.offload_ubatch import faster_ubatch

    if args.offload == "sweep":
        raise MoeplanError("--offload sweep is a table of `moeplan latency`; here: experts or auto")
    if args.n_cpu_moe is not None and args.n_cpu_moe < 0:
        raise MoeplanError(f"--n-cpu-moe must be 0 or more, got {args.n_cpu_moe}")
    if args.disk_gbps is not None and args.disk_gbps <= 0:
        raise MoeplanError(f"--disk-gbps must be positive, got {args.disk_gbps}")
    disk = args.disk_gbps * 1e9 if args.disk_gbps else DEFAULT_DISK_BYTES_PER_S
    prompt = args.prompt
    profile = with_prompt_flags(
        resolve_offload_engine(engine),
        prompt.ubatch,
        not prompt.no_op_offload,
        prompt.kt_gpu_prefill_threshold,
        prompt.cache_lens,
        prompt.swa_full,
        not prompt.no_mmap,
    )
    if prompt.sampler.given:
        from moeplan.perf.llamacpp_sampler import with_sampler

        profile = with_sampler(profile, prompt.sampler.settings())
    n_cpu_moe = args.n_cpu_moe
    if args.kt_gpu_experts is not None:
        from moeplan.perf.offload_placement import kt_gpu_experts_as_n_cpu_moe

        if n_cpu_moe is not None or args.mode == "auto":
            raise MoeplanError("--kt-gpu-experts places the experts: drop --n-cpu-moe / auto")
        n_cpu_moe = kt_gpu_experts_as_n_cpu_moe(spec, profile, args.kt_gpu_experts)
    host, pcie, reserved = args.resolve_host(), args.pcie(), args.gpu_reserved_bytes()

    def run(profile: OffloadProfile) -> OffloadReport:
        return estimate_offload(
            spec,
            scheme,
            gpu,
            host,
            profile,
            args.mode,
            n_cpu_moe,
            batch,
            input_len,
            output_len,
            kv_quant,
            pcie,
            disk,
            with_speed,
            gpu_reserved_bytes=reserved,
            ctx_size=args.ctx_size,
        )

    report = run(profile)
    if prompt.ubatch is None:  # the default -ub: would a larger one speed the prompt?
        report = replace(report, faster_ubatch=faster_ubatch(report, run))
    if args.kt_gpu_experts is None or spec.moe is None:
        return report
    note = (
        f"--kt-gpu-experts {args.kt_gpu_experts} of {spec.moe.num_experts} a layer priced as "
        f"--n-cpu-moe {n_cpu_moe} (the same expert bytes in RAM; uniform routing assumed)"
    )
    return replace(report, notes=(*report.notes, note))
