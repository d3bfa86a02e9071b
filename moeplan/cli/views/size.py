"""Rows and JSON documents for `size` (rendered by render.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from moeplan.cli.render import Table, billions, gb, pct, small_bytes
from moeplan.memory.sizing import SizeReport
from moeplan.model.official import CONVENTIONS, OfficialComparison
from moeplan.model.params import COMPONENTS

if TYPE_CHECKING:
    from moeplan.perf.parallel import PerGPUMemory


def size_json(r: SizeReport) -> dict[str, Any]:
    m = r.memory
    doc: dict[str, Any] = {
        "model": r.spec.name,
        "display_name": r.spec.display_name or r.spec.name,
        "quant": r.scheme.id,
        "quant_description": r.scheme.description,
        "params": {
            "total": r.params.total,
            "active": r.params.active,
            "active_with_embedding": r.params.active_with_embedding,
            "active_without_embeddings": r.params.active_without_embeddings,
            "total_with_mtp": r.params.total_with_mtp,
            "breakdown": r.params.breakdown,
            "active_breakdown": r.params.active_breakdown,
        },
        "official": [asdict(c) for c in r.comparisons],
        "memory": {
            "units": "bytes",
            "weights_bytes": m.weights_bytes,
            "weights_by_component": m.weights_by_component,
            "bits_per_weight": {c: round(b, 4) for c, b in r.bits_per_weight.items()},
            "average_bits_per_weight": round(r.average_bits_per_weight, 4),
            "kept_in_16bit": r.scheme.kept_in_16bit(),
            "kv_bytes_per_token": m.kv_bytes_per_token,
            "kv_cache_bytes": m.kv_cache_bytes,
            **_state_json(r),
            "context": m.context,
            "batch": m.batch,
            "kv_quant": m.kv_quant,
            "cuda_context_bytes": m.cuda_context_bytes,
            "activation_bytes": m.activation_bytes,
            "total_bytes": m.total_bytes,
        },
        "notes": list(r.notes),
    }
    if r.gpu is not None:
        doc["gpu"] = {
            "id": r.gpu.id,
            "memory_bytes": r.gpu.memory_bytes,
            "memory_bytes_source": r.gpu.memory_bytes_source,
            "usable_fraction": r.usable_fraction,
        }
        doc["gpus_needed"] = r.gpus_needed
        doc["fits"] = r.fits
        if r.needed_shard is not None:
            doc["gpus_needed_layout"] = _shard_json(r.needed_shard)
    if r.shard is not None:
        doc["per_gpu"] = _shard_json(r.shard)
    doc["weights_source"] = "analytic"
    if r.spec.checkpoint is not None:  # the comparison is imported only for a checkpoint
        from moeplan.memory.checkpoint_weights import compare_checkpoint, weights_source

        doc["weights_source"] = weights_source(r.spec, r.scheme)
        comparison = compare_checkpoint(r.spec)
        if comparison is not None:
            doc["checkpoint"] = {
                **asdict(comparison),
                "bytes_difference": round(comparison.bytes_difference, 6),
            }
    return doc


def _checkpoint_notes(r: SizeReport) -> list[str]:
    if r.spec.checkpoint is None:
        return []
    from moeplan.memory.checkpoint_weights import compare_checkpoint, weights_source

    c = compare_checkpoint(r.spec)
    if c is None:
        return []
    used = "used for weights" if weights_source(r.spec, r.scheme) != "analytic" else "not used"
    kind = f" ({c.file_type})" if c.file_type else ""
    return [
        f"{c.source} headers{kind}, {len(c.files)} file(s): {c.params:,} parameters, "
        f"{gb(c.bytes)} ({used}: quant {r.scheme.id})",
        f"analytic estimate at {c.analytic_quant}: {c.analytic_params:,} parameters, "
        f"{gb(c.analytic_bytes)} ({pct(c.bytes_difference)} vs headers)",
    ]


def _state_json(r: SizeReport) -> dict[str, Any]:
    """Recurrent state and towers, only for models that have them (keeps other outputs)."""
    m = r.memory
    doc: dict[str, Any] = {}
    if r.spec.recurrent_layers:
        doc["state_bytes"] = m.state_bytes
        doc["state_bytes_per_sequence"] = m.state_bytes_per_sequence
        doc["state_dtype"] = m.state_dtype
    if r.spec.towers:
        doc["towers"] = [
            {"name": t.name, "family": t.family, "params": t.params, "detail": t.detail}
            for t in r.spec.towers
        ]
        doc["towers_in_weights"] = not m.text_only
    if r.params.active_range is not None:
        doc["active_min"], doc["active_max"] = r.params.active_range
    return doc


def _shard_json(s: PerGPUMemory) -> dict[str, Any]:
    return {
        "layout": s.layout.describe(),
        "tp": s.layout.tp,
        "ep": s.layout.ep,
        "pp": s.layout.pp,
        "dp": s.layout.dp,
        "gpus": s.layout.gpus,
        "weights_bytes": s.weights_bytes,
        "kv_cache_bytes": s.kv_cache_bytes,
        "overhead_bytes": s.overhead_bytes,
        "total_bytes": s.total_bytes,
    }


def size_tables(r: SizeReport) -> list[Table]:
    p, m = r.params, r.memory
    title = f"{r.spec.display_name or r.spec.name}: parameters"
    rows = [
        [
            c,
            f"{p.breakdown[c]:,}",
            f"{p.active_breakdown[c]:,}",
            f"{r.bits_per_weight[c]:.3f}",
            gb(m.weights_by_component[c]),
        ]
        for c in COMPONENTS
        if p.breakdown[c]
    ]
    rows.append(
        [
            "total (main model)",
            f"{p.total:,}",
            f"{p.active:,}",
            f"{r.average_bits_per_weight:.3f}",
            gb(m.weights_bytes - m.weights_by_component.get("towers", 0)),
        ]
    )
    params = Table(
        title,
        ["component", "total params", "active params", "bits/weight", f"weights ({r.scheme.id})"],
        rows,
    )
    if not any(c.figure == "active" and not c.convention_stated for c in r.comparisons):
        params.notes.append(  # otherwise the official-figure note lists all three counts
            f"active with input embedding: {billions(p.active_with_embedding)}; "
            f"without embedding and head: {billions(p.active_without_embeddings)}"
        )
    params.notes.extend(official_notes(r.comparisons))
    params.notes.extend(r.notes)
    towers = m.weights_by_component.get("towers", 0)
    mem_rows = [
        ["weights" + (" (towers included)" if towers else ""), gb(m.weights_bytes)],
        *([["  of which vision/audio towers", gb(towers)]] if towers else []),
        ["KV cache per token", small_bytes(m.kv_bytes_per_token) + f" ({m.kv_quant})"],
        [f"KV cache ({m.batch} x {m.context:,} tokens)", gb(m.kv_cache_bytes)],
        *(
            [[f"recurrent state ({m.batch} seq, {m.state_dtype})", gb(m.state_bytes)]]
            if m.state_bytes
            else []
        ),
        ["CUDA context + workspaces", gb(m.cuda_context_bytes)],
        ["activations (peak forward)", gb(m.activation_bytes)],
        ["total", gb(m.total_bytes)],
    ]
    mem = Table(f"memory: {r.scheme.id} ({r.scheme.description})", ["item", "size"], mem_rows)
    if r.scheme.kept_in_16bit():
        mem.notes.append("kept in 16 bits or more: " + ", ".join(r.scheme.kept_in_16bit()))
    mem.notes.extend(_checkpoint_notes(r))
    tables = [params, mem]
    if r.gpu is not None or r.shard is not None:
        tables.append(_gpu_table(r))
    return tables


def _gpu_table(r: SizeReport) -> Table:
    rows = []
    if r.gpu is not None:
        usable = r.gpu.memory_bytes * r.usable_fraction
        rows.append(
            [
                "GPU",
                f"{r.gpu.id}: {gb(r.gpu.memory_bytes)}, usable x{r.usable_fraction} = {gb(usable)}",
            ]
        )
        rows.append(["GPUs needed", str(r.gpus_needed) if r.gpus_needed else "does not fit"])
        if r.needed_shard is not None:
            rows.append(
                [f"per GPU at {r.needed_shard.layout.describe()}", gb(r.needed_shard.total_bytes)]
            )
    if r.shard is not None:
        s = r.shard
        rows.append(
            [
                f"per GPU at {s.layout.describe()} ({s.layout.gpus} GPUs)",
                f"weights {gb(s.weights_bytes)} + KV {gb(s.kv_cache_bytes)} + "
                f"overhead {gb(s.overhead_bytes)} = {gb(s.total_bytes)}",
            ]
        )
        cap = r.usable_bytes_per_gpu
        if cap is not None and not r.fits:
            rows.append(
                [
                    "fits",
                    f"does not fit: {gb(s.total_bytes)} per GPU > {gb(cap)} usable "
                    f"on {r.gpu.id if r.gpu else ''}",
                ]
            )
    return Table("GPUs", ["item", "value"], rows)


def levels_table(reports: list[SizeReport]) -> Table:
    r0 = reports[0]
    rows = []
    for r in reports:
        rows.append(
            [
                r.scheme.id,
                f"{r.average_bits_per_weight:.3f}",
                gb(r.memory.weights_bytes),
                gb(r.memory.total_bytes),
                (str(r.gpus_needed) if r.gpus_needed else "-") if r.gpu else "",
            ]
        )
    t = Table(
        f"{r0.spec.display_name or r0.spec.name}: total {billions(r0.params.total)}, active "
        f"{billions(r0.params.active)} params; KV {r0.memory.batch} x {r0.memory.context:,} tokens",
        [
            "quant",
            "bits/weight",
            "weights",
            "total with KV + overhead",
            f"GPUs needed ({r0.gpu.id})" if r0.gpu else "GPUs",
        ],
        rows,
    )
    t.notes.extend(r0.notes)
    for r in reports:
        cap = r.usable_bytes_per_gpu
        if r.shard is not None and cap is not None and not r.fits:
            t.notes.append(
                f"{r.scheme.id} does not fit at {r.shard.layout.describe()} "
                f"({r.shard.layout.gpus} GPUs): {gb(r.shard.total_bytes)} per GPU > "
                f"{gb(cap)} usable"
            )
    return t


def _figure(n: float) -> str:
    """A published figure as published: 37B, 3.3B, 1.04T."""
    return f"{n / 1e12:.6g}T" if n >= 1e12 else f"{n / 1e9:.6g}B"


_SHORT = {
    "with_embedding": "embedding + head",
    "without_input_embedding": "head only",
    "without_embeddings": "neither",
}


def official_notes(comparisons: Sequence[OfficialComparison]) -> list[str]:
    """Each published figure against the count on the publisher's own definition, or against
    all three counts where the publisher gives none; within its published rounding or not."""
    notes = []
    for c in comparisons:
        if c.figure == "active" and c.convention != comparisons[-1].convention:
            continue  # an unstated convention: the three counts are on one line (the last)
        rounding = f"the published rounding (+-{_figure(c.rounding)})"
        if c.figure == "total" or c.convention_stated:
            what = c.convention if c.figure == "total" else CONVENTIONS[c.convention]
            line = (
                f"official {c.figure} {_figure(c.published)} vs computed "
                f"{billions(c.computed)} ({what}"
                + ("" if c.figure == "total" else ", as the publisher states")
                + f"): {pct(c.relative_error)}; {'within' if c.within_rounding else 'outside'} "
                + rounding
            )
            met = c.within_rounding
        else:
            three = [x for x in comparisons if x.figure == "active"]
            counts = ", ".join(f"{billions(x.computed)} ({_SHORT[x.convention]})" for x in three)
            notes.append(
                f"official active {_figure(c.published)}: no definition by the publisher found; "
                f"computed {counts}"
            )
            matching = [_SHORT[x.convention] for x in three if x.within_rounding]
            met = bool(matching)
            line = f"official active {_figure(c.published)}: " + (
                f"within {rounding}: {', '.join(matching)}" if met else f"none within {rounding}"
            )
        notes.append(line)
        if not met and c.discrepancy:
            notes.append(f"known discrepancy ({c.figure} {_figure(c.published)}): {c.discrepancy}")
        if c.figure == "active" and c.convention_stated and c.convention_source:
            notes.append(f"active convention source: {c.convention_source}")
    return notes
