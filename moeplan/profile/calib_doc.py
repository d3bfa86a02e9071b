"""The parts of a schema-2 calibration the estimator reads, built from the measured rows
(perf/calibration_schema.py has the schema): `moe.efficiency` (one curve per weight dtype and
expert shape, keyed on tokens per touched expert), `attention.decode` and `attention.prefill`.
Pure: no torch."""

from __future__ import annotations

from typing import Any

from moeplan.perf.calibration_curves import DTYPE_ALIASES


def dtype_name(torch_dtype: Any) -> str:
    """bf16 / fp32 / ... for a torch dtype (or its name): the calibration's dtype keys."""
    name = str(torch_dtype).split(".")[-1]
    return DTYPE_ALIASES.get(name, name)


def efficiency_curve(by_backend: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One shape and dtype: at each token count the fastest backend's point; points kept in
    increasing tokens per expert. Where a larger token count does not raise tokens per expert
    (few tokens, each touching experts no other token touched), the smaller count's point
    stands: the batch-1 read keys tokens per expert 1."""
    fastest: dict[int, tuple[str, dict[str, Any]]] = {}
    for backend, rows in by_backend.items():
        for r in rows:
            if r["tokens"] not in fastest or r["seconds"] < fastest[r["tokens"]][1]["seconds"]:
                fastest[r["tokens"]] = (backend, r)
    points: list[dict[str, Any]] = []
    for tokens in sorted(fastest):
        backend, r = fastest[tokens]
        if points and r["tokens_per_expert"] <= points[-1]["tokens_per_expert"]:
            continue
        points.append(
            {
                "tokens_per_expert": r["tokens_per_expert"],
                "fraction_of_spec_bw": min(1.0, r["fraction_of_spec_bw"]),
                "tokens": tokens,
                "distinct_experts": r["distinct_experts"],
                "backend": backend,
                "seconds": r["seconds"],
            }
        )
    return points


def efficiency_table(shape_docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """moe.efficiency: per weight dtype, one curve per measured expert shape, in increasing
    bytes per expert (each a shape's `curves_by_dtype` rows, efficiency_curve's rule)."""
    table: dict[str, list[dict[str, Any]]] = {}
    for sd in shape_docs:
        for dtype, by_backend in sd.get("curves_by_dtype", {}).items():
            rows = [r for rs in by_backend.values() for r in rs]
            if not rows:
                continue
            table.setdefault(dtype, []).append(
                {
                    "bytes_per_expert": rows[0]["bytes_per_expert"],
                    "model": sd.get("model", ""),
                    "shape": dict(sd.get("shape", {})),
                    "points": efficiency_curve(by_backend),
                }
            )
    for curves in table.values():
        curves.sort(key=lambda c: c["bytes_per_expert"])
    return table


def _capped(rows: list[dict[str, Any]], key: str, what: str, notes: list[str]) -> None:
    top = max((r[key] for r in rows), default=0.0)
    if top > 1:
        for r in rows:
            r[key] = min(1.0, r[key])
        notes.append(
            f"{what} reached {top:.2f}x its reference (data in a CPU cache, or a reference "
            "measured on small GEMMs): capped at 1"
        )


def attention_section(
    decode_rows: list[dict[str, Any]],
    prefill_rows: list[dict[str, Any]],
    spec_bw: float,
    peak_flops: float | None,
    notes: list[str],
) -> dict[str, list[dict[str, Any]]]:
    """attention.decode: fraction of spec bandwidth reading K and V, by KV bytes per call;
    attention.prefill: fraction of `peak_flops` by query tokens per sequence (omitted with no
    peak). Rows in increasing key; the measured rows ride along."""
    decode = sorted(
        ({**r, "fraction_of_spec_bw": r["kv_bytes"] / r["seconds"] / spec_bw} for r in decode_rows),
        key=lambda r: r["kv_bytes"],
    )
    _capped(decode, "fraction_of_spec_bw", "attention decode bandwidth", notes)
    prefill: list[dict[str, Any]] = []
    if peak_flops:
        prefill = sorted(
            ({**r, "fraction_of_peak_flops": r["flops_per_s"] / peak_flops} for r in prefill_rows),
            key=lambda r: r["tokens"],
        )
        _capped(prefill, "fraction_of_peak_flops", "attention prefill FLOP/s", notes)
    elif prefill_rows:
        notes.append("attention prefill not written: no reference peak FLOP/s")
    return {"decode": _increasing(decode, "kv_bytes"), "prefill": _increasing(prefill, "tokens")}


def _increasing(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in rows:
        if not out or r[key] > out[-1][key]:
            out.append(r)
    return out
