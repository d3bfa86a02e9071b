"""Rows and JSON for `moeplan profile` and `--compare`."""

from __future__ import annotations

from typing import Any

from moeplan.cli.render import Table, pct
from moeplan.profile.compare import Comparison


def profile_tables(doc: dict[str, Any], path: str) -> list[Table]:
    d, m = doc["device"], doc["measured"]
    spec_bw = doc["spec"]["mem_bw_bytes_per_s"]
    head = Table(
        f"profile: {d['name']} ({d['catalog_id'] or 'not in catalog'}), identity from "
        f"{d['identity_source']}",
        ["measure", "value"],
        [
            [
                "copy bandwidth",
                f"{m['copy_bandwidth_bytes_per_s'] / 1e9:,.1f} GB/s "
                f"({m['copy_bandwidth_bytes_per_s'] / spec_bw * 100:.0f}% of spec)",
            ],
            *[[f"best GEMM {k}", f"{v / 1e12:,.1f} TFLOPS"] for k, v in m["gemm_flops"].items()],
            ["calibration written", path],
        ],
    )
    head.notes.extend(doc.get("notes", []))
    rows = []
    moe_doc = doc["moe"]
    by_dtype = moe_doc.get("curves_by_dtype") or {moe_doc["dtype"]: moe_doc["curves"]}
    for weight_dtype, curves in by_dtype.items():
        for backend, backend_rows in curves.items():
            for r in backend_rows:
                # % of bandwidth on all bytes moved (weights + activations) where recorded
                spec = r.get("all_bytes_fraction_of_spec_bw", r["fraction_of_spec_bw"])
                copy = r.get("all_bytes_fraction_of_copy_bw", r.get("fraction_of_copy_bw", 0.0))
                rows.append(
                    [
                        backend,
                        weight_dtype,
                        r["tokens"],
                        f"{r['seconds'] * 1e6:,.1f}",
                        r["distinct_experts"],
                        f"{r['achieved_bytes_per_s'] / 1e9:,.1f}",
                        f"{spec * 100:.0f}%",
                        f"{copy * 100:.0f}%",
                        f"{r['flops_per_s'] / 1e12:,.2f}",
                        "yes" if r["cuda_graph"] else "no",
                    ]
                )
    moe = Table(
        f"MoE layer of {doc['moe']['model']} {doc['moe']['shape']} ({doc['moe']['dtype']}), "
        f"balanced routing; best backend: {doc['moe']['best_backend']}",
        [
            "backend",
            "weights",
            "tokens",
            "us",
            "experts read",
            "GB/s",
            "% spec BW",
            "% copy BW",
            "TFLOPS",
            "graph",
        ],
        rows,
    )
    for name, why in doc["moe"]["skipped"].items():
        moe.notes.append(f"{name} skipped: {why}")
    for point in doc["moe"].get("skipped_points", []):
        moe.notes.append(
            f"{point['backend']} at {point['tokens']} tokens skipped: {point['reason']}"
        )
    moe.notes.append("GB/s and % of bandwidth count weights and activations moved")
    return [head, moe, curves_table(doc)]


def curves_table(doc: dict[str, Any]) -> Table:
    """Schema 2's curves, as the estimator reads them: per weight dtype and expert size, the
    fastest backend's fraction of spec bandwidth by tokens per expert; then attention."""
    rows: list[list[Any]] = []
    for dtype, entries in doc["moe"].get("efficiency", {}).items():
        for e in entries:
            for p in e["points"]:
                rows.append(
                    [
                        f"moe {dtype}",
                        f"{e['model']}, {e['bytes_per_expert'] / 1e6:,.3g} MB/expert",
                        f"{p['tokens']} tokens, {p['tokens_per_expert']:,.3g} per expert",
                        f"{p['fraction_of_spec_bw'] * 100:.0f}% of spec BW",
                        p.get("backend", ""),
                    ]
                )
    attention = doc.get("attention", {})
    for r in attention.get("decode", []):
        bw = f"{r['fraction_of_spec_bw'] * 100:.0f}% of spec BW"
        rows.append(
            ["attention decode", f"batch {r['batch']}, {r['context']} context",
             f"{r['kv_bytes'] / 1e6:,.3g} MB KV", bw, r["implementation"]]
        )  # fmt: skip
    for r in attention.get("prefill", []):
        rows.append(
            ["attention prefill", f"{r['tokens']} tokens", f"{r['flops_per_s'] / 1e12:,.2f} TFLOPS",
             f"{r['fraction_of_peak_flops'] * 100:.0f}% of peak", r["implementation"]]
        )  # fmt: skip
    t = Table(
        "calibration curves (what the latency model reads)",
        ["curve", "shape", "point", "efficiency", "backend / kernel"],
        rows,
    )
    if not doc.get("collectives"):
        t.notes.append("no collectives (run under torchrun with 2+ processes)")
    return t


def _fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:,.1f}"


def compare_table(rows: list[Comparison], path: str) -> Table:
    body = [
        [
            c.kernel,
            c.shape,
            _fmt(c.measured_s),
            _fmt(c.default_s),
            pct(c.default_error) if c.default_error is not None else "-",
            _fmt(c.calibrated_s),
            pct(c.calibrated_error) if c.calibrated_error is not None else "-",
            pct(c.loo_error) if c.loo_error is not None else "-",
        ]
        for c in rows
    ]
    t = Table(
        f"model vs measurement ({path})",
        [
            "kernel",
            "shape",
            "measured us",
            "default us",
            "default err",
            "calibrated us",
            "calibrated err",
            "leave-one-out err",
        ],
        body,
    )
    loo = [abs(c.loo_error) for c in rows if c.loo_error is not None]
    if loo:
        t.notes.append(
            f"leave-one-out interpolation of the MoE curve: max |error| {max(loo) * 100:.1f}%"
        )
    return t


def compare_json(rows: list[Comparison], path: str) -> dict[str, Any]:
    return {
        "calibration": path,
        "kernels": [
            {
                "kernel": c.kernel,
                "shape": c.shape,
                "measured_s": c.measured_s,
                "default_s": c.default_s,
                "calibrated_s": c.calibrated_s,
                "leave_one_out_s": c.leave_one_out_s,
                "default_error": c.default_error,
                "calibrated_error": c.calibrated_error,
                "leave_one_out_error": c.loo_error,
            }
            for c in rows
        ],
    }
