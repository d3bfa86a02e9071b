"""The --n-cpu-moe sweep table and its JSON (cli/offload_sweep.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moeplan.cli.render import Table, gb

if TYPE_CHECKING:
    from moeplan.perf.offload import OffloadReport
    from moeplan.perf.offload_sweep import OffloadSweep


def _fits(r: OffloadReport) -> str:
    p = r.placement
    if p.fits:
        return "yes"
    return "no: " + ", ".join(
        part for part, ok in (("GPU", p.fits_gpu), ("RAM", p.fits_host)) if not ok
    )


def offload_sweep_table(s: OffloadSweep) -> Table:
    first = s.reports[0]
    rows = []
    for r in s.reports:
        p = r.placement
        k = p.n_cpu_moe
        rows.append(
            [
                f"{k} (auto)" if k == s.auto_n_cpu_moe else str(k),
                p.host_moe_layers,
                f"{p.gpu_bytes / 1e9:,.1f} / {p.gpu_capacity_bytes / 1e9:,.1f}",
                gb(p.host_bytes + p.host_reserve_bytes),
                _fits(r),
                f"{r.decode_tok_s:,.2f}" if r.decode_tok_s else "-",
                r.speed.decode_bound if r.speed else "-",
                f"{r.prefill_tok_s:,.0f}" if r.prefill_tok_s else "-",
            ]
        )
    t = Table(
        f"--n-cpu-moe sweep: {first.spec.display_name or first.spec.name} {first.scheme.id} on "
        f"{first.gpu.id} + {first.host.id}, {first.engine.id}, batch {first.batch}, input "
        f"{first.input_len}, output {first.output_len}",
        [
            "K",
            "MoE layers in RAM",
            "GPU GB (used / usable)",
            "RAM (with OS reserve)",
            "fits",
            "decode tok/s",
            "decode bound",
            "prompt tok/s",
        ],
        rows,
    )
    t.notes.append(
        f"auto (llama.cpp --fit) picks K = {s.auto_n_cpu_moe}, the smallest K whose GPU part fits "
        f"with {first.engine.gpu_margin_bytes / 1e9:.2f} GB left free; a K you pass is placed as "
        "given (no margin), and speed is priced only where the GPU part fits"
    )
    return t


def offload_sweep_json(s: OffloadSweep) -> dict[str, Any]:
    first = s.reports[0]
    return {
        "model": first.spec.name,
        "quant": first.scheme.id,
        "gpu": first.gpu.id,
        "host": first.host.id,
        "engine": first.engine.id,
        "offload": "sweep",
        "batch": first.batch,
        "input_len": first.input_len,
        "output_len": first.output_len,
        "auto_n_cpu_moe": s.auto_n_cpu_moe,
        "rows": [
            {
                "n_cpu_moe": r.placement.n_cpu_moe,
                "host_moe_layers": r.placement.host_moe_layers,
                "gpu_bytes": r.placement.gpu_bytes,
                "gpu_capacity_bytes": r.placement.gpu_capacity_bytes,
                "host_bytes": r.placement.host_bytes,
                "host_reserve_bytes": r.placement.host_reserve_bytes,
                "fits": r.fits,
                "fits_gpu": r.placement.fits_gpu,
                "fits_host": r.placement.fits_host,
                "reason": r.reason,
                "decode_tok_s": round(r.decode_tok_s, 3) if r.decode_tok_s else None,
                "decode_bound": r.speed.decode_bound if r.speed else None,
                "prefill_tok_s": round(r.prefill_tok_s, 1) if r.prefill_tok_s else None,
            }
            for r in s.reports
        ],
    }
