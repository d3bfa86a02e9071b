"""Rows and JSON for expert offload (`size`/`latency --offload`, `list hosts`)."""

from __future__ import annotations

from typing import Any

from moeplan.cli.render import Table, gb
from moeplan.hardware.hosts import Host
from moeplan.perf.offload import OffloadReport
from moeplan.perf.offload_flags import prefill_switch_flag
from moeplan.perf.offload_host_read import core_read_gbps, per_thread_read_gbps
from moeplan.plan.offload_plan import OffloadCandidate
from moeplan.plan.validate_offload import (
    OFFLOAD_ERROR_BAND_DEFINITION,
    offload_error_band_pct,
)


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def offload_json(r: OffloadReport) -> dict[str, Any]:
    p, e = r.placement, r.engine
    doc: dict[str, Any] = {
        "model": r.spec.name,
        "quant": r.scheme.id,
        "gpu": r.gpu.id,
        "host": r.host.id,
        "engine": e.id,
        "offload": r.mode,
        "batch": r.batch,
        "input_len": r.input_len,
        "output_len": r.output_len,
        "fits": p.fits,
        "fits_gpu": p.fits_gpu,
        "fits_host": p.fits_host,
        "reason": r.reason,
        "placement": {
            "n_cpu_moe": p.n_cpu_moe,
            "host_moe_layers": p.host_moe_layers,
            "gpu_bytes": p.gpu_bytes,
            "host_bytes": p.host_bytes,
            "gpu_weight_bytes": p.gpu_weight_bytes,
            "kv_cache_bytes": p.kv_cache_bytes,
            "compute_buffer_bytes": p.compute_buffer_bytes,
            "cuda_context_bytes": p.cuda_context_bytes,
            "gpu_capacity_bytes": p.gpu_capacity_bytes,
            "gpu_reserved_bytes": p.gpu_reserved_bytes,
            "host_expert_bytes": p.host_expert_bytes,
            "host_reserve_bytes": p.host_reserve_bytes,
            "host_ram_bytes": p.host_ram_bytes,
        },
        "decode_tok_s": _r(r.decode_tok_s),
        "prefill_tok_s": _r(r.prefill_tok_s, 1),
        "host_bw_bytes_per_s": round(r.host_bw_bytes_per_s),
        "pcie_bytes_per_s": round(r.pcie_bytes_per_s),
        "efficiencies": {
            "host_bw_efficiency": e.host_bw_efficiency,
            "numa_extra_socket_gain": e.numa_extra_socket_gain,
            "core_read_gbps": core_read_gbps(r.host, e) if e.core_read_gbps else None,
            "cpu_compute_efficiency": round(e.cpu_compute_efficiency, 4),
            "prompt_gemm_efficiency": round(e.prompt_gemm_efficiency, 4),
            "pcie_efficiency": e.pcie_efficiency,
            "stream_min_batch": e.stream_min_batch,
            "streams_used_experts": e.streams_used_experts,
            "ubatch_tokens": e.ubatch_tokens,
            "gpu_engine": e.gpu_engine.id,
            "sources": list(e.sources),
            "fitted_on": (
                "rule 3 of moeplan/data/offload_measurements.yaml: the least median |error| over "
                "every published decode run of the engine; `moeplan validate` lists them"
            ),
        },
        "notes": list(r.notes),
    }
    s = r.speed
    if s is not None:
        doc["error_band_pct"] = error_bands(r)
        doc["error_band"] = OFFLOAD_ERROR_BAND_DEFINITION
    if s is not None:
        doc["decode"] = {
            "bound": s.decode_bound,
            "step_ms": round(s.decode_step_s * 1e3, 4),
            "gpu_ms": round(s.gpu_step_s * 1e3, 4),
            "mla_decode_kernel_extra_ms": round(s.attention_kernel_s * 1e3, 4),
            "fa_quantized_kv_reread_ms": round(s.fa_reread_s * 1e3, 4),
            "host_ms": round(s.host_decode_s * 1e3, 4),
            "disk_ms": round(s.disk_s * 1e3, 4),
            "sampler_ms": round(s.sampler_s * 1e3, 4),
            "sampler": r.engine.sampler.describe() if r.engine.sampler else None,
        }
        doc["prefill"] = {
            "path": s.prefill_path,
            "seconds": round(s.prefill_s, 6),
            "other_path_seconds": _r(s.prefill_alternative_s, 6),
            "faster_ubatch": _faster_ubatch_json(r),
            "other_path_setting": _other_path_setting(r),
        }
    return doc


def _other_path_setting(r: OffloadReport) -> dict[str, str | None] | None:
    """The engine setting that takes the other prompt path and moeplan's option for it."""
    if r.speed is None or r.speed.prefill_alternative_s is None:
        return None
    switch = prefill_switch_flag(r.engine, r.speed.prefill_path, r.batch * r.input_len)
    return None if switch is None else {"engine": switch[0], "moeplan": switch[1]}


def _faster_ubatch_json(r: OffloadReport) -> dict[str, Any] | None:
    f = r.faster_ubatch
    if f is None:
        return None
    return {
        "ubatch_tokens": f.engine.ubatch_tokens,
        "prefill_tok_s": _r(f.prefill_tok_s, 1),
        "decode_tok_s": _r(f.decode_tok_s),
        "n_cpu_moe": f.placement.n_cpu_moe,
        "gpu_bytes": f.placement.gpu_bytes,
    }


def _faster_ubatch_note(r: OffloadReport) -> str | None:
    """The larger -ub that speeds the prompt, and what it costs decode (offload_ubatch.py)."""
    f = r.faster_ubatch
    if f is None or f.prefill_tok_s is None or f.decode_tok_s is None:
        return None
    ub, k = f.engine.ubatch_tokens, f.placement.n_cpu_moe
    decode = (
        "decode unchanged"
        if k == r.placement.n_cpu_moe
        else f"decode {f.decode_tok_s:,.2f} tok/s at --n-cpu-moe {k} (the larger compute buffer)"
    )
    return (
        f"llama.cpp -b {ub} -ub {ub} (moeplan --ubatch {ub}): prompt {f.prefill_tok_s:,.1f} "
        f"tok/s; {decode}; GPU {gb(f.placement.gpu_bytes)}"
    )


def sampler_text(r: OffloadReport) -> str:
    """What the sampler term prices (perf/llamacpp_sampler.py)."""
    if r.engine.sampler is not None:
        return f"CPU sampler: {r.engine.sampler.describe()}, x batch {r.batch}"
    if r.engine.id == "llamacpp":
        return "no sampler (llama-bench)"
    return f"{r.engine.id} samples on the GPU"


def error_bands(r: OffloadReport) -> dict[str, list[float] | str]:
    return {regime: offload_error_band_pct(r.engine.id, regime) for regime in ("decode", "prefill")}


def _band_text(band: list[float] | str) -> str:
    return band if isinstance(band, str) else f"{band[0]:+.1f}% to {band[1]:+.1f}% of time"


PATHS = {
    "stream": "host experts streamed to the GPU over PCIe",
    "cpu": "host experts computed by the CPU",
    "mixed": "host experts streamed to the GPU, the short last pass on the CPU",
}
ALTERNATIVE = {"stream": "all on the CPU", "cpu": "streamed to the GPU"}


def _alternative_prompt_note(r: OffloadReport, alternative_s: float) -> str:
    """The prompt speed the other path gives, and the engine setting that takes it when faster."""
    assert r.speed is not None
    path = r.speed.prefill_path
    text = (
        f"prompt with the host experts {ALTERNATIVE[path]} instead: "
        f"{r.batch * r.input_len / alternative_s:,.1f} tok/s"
    )
    switch = prefill_switch_flag(r.engine, path, r.batch * r.input_len)
    if alternative_s < r.speed.prefill_s and switch is not None:
        setting, option = switch
        priced = f" (moeplan {option} prices it)" if option else " (moeplan has no option for it)"
        return f"{text}, faster: {setting}{priced}"
    return f"{text} (not what {r.engine.id} does at ubatch {r.engine.ubatch_tokens})"


def offload_tables(r: OffloadReport) -> list[Table]:
    p = r.placement
    where = (
        f"--n-cpu-moe {p.n_cpu_moe} ({p.host_moe_layers} MoE layers' experts in RAM)"
        if r.engine.id == "llamacpp"
        else f"routed experts of {p.host_moe_layers} MoE layers in RAM"
    )
    host = r.host.id
    if r.host.segment == "user" and r.host.name not in (r.host.id, "host from options"):
        host += f' "{r.host.name}"'
    title = (
        f"{r.spec.display_name or r.spec.name} {r.scheme.id} on {r.gpu.id} + {host} "
        f"({r.host.sockets} socket(s), {r.host.cores} cores), {r.engine.id}, {where}"
    )
    on_host = "RAM: routed experts"
    if p.host_bytes > p.host_expert_bytes:
        on_host += " + input embedding" if r.engine.input_embedding_on_host else " (all copies)"
    reserved = [["GPU: held by other processes", gb(p.gpu_reserved_bytes)]]
    rows: list[list[Any]] = [
        ["GPU: weights", gb(p.gpu_weight_bytes)],
        ["GPU: KV cache", gb(p.kv_cache_bytes)],
        ["GPU: compute buffers + CUDA context", gb(p.compute_buffer_bytes + p.cuda_context_bytes)],
        ["GPU: total / usable", f"{gb(p.gpu_bytes)} / {gb(p.gpu_capacity_bytes)}"],
        *(reserved if p.gpu_reserved_bytes else []),
        [on_host, gb(p.host_bytes)],
        ["RAM: OS and runtime reserve", gb(p.host_reserve_bytes)],
        [
            "RAM: needed / installed",
            f"{gb(p.host_bytes + p.host_reserve_bytes)} / {gb(p.host_ram_bytes)}",
        ],
        [
            "fits (GPU, RAM)",
            f"{'yes' if p.fits else 'no'} ({'yes' if p.fits_gpu else 'no'}, "
            f"{'yes' if p.fits_host else 'no'})",
        ],
    ]
    t = Table(title, ["placement", "bytes"], rows)
    t.notes.append(r.reason)
    tables = [t]
    s = r.speed
    if s is not None and r.decode_tok_s is not None and r.prefill_tok_s is not None:
        perf = Table(
            f"speed, batch {r.batch}, input {r.input_len}, output {r.output_len}",
            ["metric", "value", "bound / path"],
            [
                ["decode tok/s (per sequence)", f"{r.decode_tok_s:,.2f}", s.decode_bound],
                [
                    "decode step ms: GPU + host + disk + sampler",
                    f"{s.gpu_step_s * 1e3:,.1f} + "
                    f"{s.host_decode_s * 1e3:,.1f} + "
                    f"{s.disk_s * 1e3:,.1f} + "
                    f"{s.sampler_s * 1e3:,.2f}",
                    sampler_text(r),
                ],
                ["prompt tok/s", f"{r.prefill_tok_s:,.1f}", PATHS[s.prefill_path]],
            ],
        )
        if s.prefill_alternative_s is not None:
            perf.notes.append(_alternative_prompt_note(r, s.prefill_alternative_s))
        ubatch_note = _faster_ubatch_note(r)
        perf.notes += [ubatch_note] if ubatch_note else []
        sockets = r.host.sockets
        further = (
            f", plus {r.engine.numa_extra_socket_gain:g} of that for each of {sockets - 1} "
            "further socket(s)"
            if sockets > 1
            else ""
        )
        perf.notes.append(
            f"host experts read at {r.host_bw_bytes_per_s / 1e9:,.0f} GB/s reached "
            f"({r.engine.host_bw_efficiency} of one socket's achievable read bandwidth{further})"
        )
        if "per-thread" in s.decode_bound:
            core_source = (
                "measured on this host"
                if r.host.core_read_bytes_per_s is not None
                else "perf/offload_engines.py"
            )
            perf.notes.append(
                f"each {r.engine.id} thread reads at most "
                f"{per_thread_read_gbps(r.host, r.engine):.1f} GB/s of experts "
                f"({r.engine.host_bw_efficiency} of the {core_read_gbps(r.host, r.engine):g} GB/s "
                f"one core reads alone, {core_source}), so the threads "
                "take less than the socket delivers: more threads would speed decode; more "
                "bandwidth would not"
            )
        if "per-core" in s.decode_bound:
            perf.notes.append(
                "the host's cores dequantize the experts' block types slower than its DRAM "
                "delivers them (llama.cpp's per-core matvec rates, perf/cpu_matvec.py): more "
                "threads or a cheaper-to-decode type would speed decode; more bandwidth would not"
            )
        perf.notes.append(
            "error band vs published runs (out of sample, 10th-90th percentile): "
            + "; ".join(f"{k} {_band_text(b)}" for k, b in error_bands(r).items())
        )
        tables.append(perf)
    t.notes.extend(r.notes)
    return tables


HOST_COLUMNS = ["id", "segment", "cores", "sockets", "memory", "GB/s", "read GB/s"]
HOST_COLUMNS += ["reference RAM", "ISA"]


def hosts_table(hosts: list[Host]) -> Table:
    rows = []
    for h in hosts:
        bw = h.mem_bw_bytes_per_s
        read = h.read_bw_bytes_per_s
        mem = (
            f"{h.memory_channels} x {h.memory_type}-{h.memory_mts:g}"
            if h.memory_channels and h.memory_mts
            else f"{h.memory_channels} x {h.memory_type}"
            if h.memory_channels
            else h.memory_type
        )
        rows.append(
            [
                h.id,
                h.segment,
                h.cores,
                f"1-{h.max_sockets}" if h.max_sockets > 1 else "1",
                mem,
                f"{bw / 1e9:,.1f}" if bw else "pass --host-mem-gbps",
                f"{read / 1e9:,.1f} ({_read_basis(h)})" if read else "-",
                gb(h.ram_bytes) if h.ram_bytes else "-",
                ",".join(h.isa),
            ]
        )
    t = Table(
        "hosts for expert offload (per socket; bandwidth = channels x MT/s x 8 bytes)",
        HOST_COLUMNS,
        rows,
    )
    t.notes.append("reference RAM = one DIMM per channel; pass --host-ram-gb for your machine")
    t.notes.append(
        "read GB/s: achievable read bandwidth = theoretical x the platform's measured read "
        "fraction (host_read.py MEASURED_READ_FRACTIONS, sources there; 'median' where none "
        "was published), "
        "capped by the CCD links on desktop Ryzen (32 B x 2.0 GHz each); engines' "
        "host_bw_efficiency applies to it; --host-mem-measured-gbps gives your own"
    )
    return t


def _read_basis(h: Host) -> str:
    """Where a host's achievable read bandwidth comes from, in a word."""
    from moeplan.hardware.host_read import ccd_read_limit_bytes_per_s

    if h.read_override_bytes_per_s is not None:
        return "measured"
    if h.ccds and h.read_bw_bytes_per_s == ccd_read_limit_bytes_per_s(h.ccds * h.sockets):
        return f"{h.ccds} CCD link{'s' if h.ccds > 1 else ''}"
    fraction = h.read_fraction[0]
    return f"{fraction:.2f}" + ("" if h.read_family else " median")


def offload_plan_table(cands: list[OffloadCandidate], top: int, engine_id: str) -> Table:
    rows = []
    for c in cands[:top]:
        r, p = c.report, c.report.placement
        rows.append(
            [
                f"1 x {r.gpu.id} + {r.host.id}",
                r.scheme.id,
                p.n_cpu_moe,
                f"{r.decode_tok_s:,.2f}" if r.decode_tok_s else "-",
                f"{r.prefill_tok_s:,.0f}" if r.prefill_tok_s else "-",
                gb(p.gpu_bytes),
                gb(p.host_bytes + p.host_reserve_bytes),
                "; ".join(c.failures) or "ok",
            ]
        )
    t = Table(
        f"offload candidates (one GPU + host RAM, {engine_id}, smallest --n-cpu-moe that fits "
        "the GPU)",
        [
            "deployment",
            "quant",
            "K",
            "decode tok/s",
            "prompt tok/s",
            "GPU",
            "RAM (with OS reserve)",
            "verdict",
        ],
        rows,
    )
    ok = sum(1 for c in cands if c.ok)
    t.notes.append(f"{ok} of {len(cands)} offload candidates fit and meet every target")
    return t


def offload_plan_json(cands: list[OffloadCandidate], top: int) -> dict[str, Any]:
    return {
        "evaluated": len(cands),
        "accepted": [offload_json(c.report) for c in cands if c.ok][:top],
        "rejected": [
            offload_json(c.report) | {"failures": list(c.failures)} for c in cands if not c.ok
        ][:top],
    }
