"""Rows for `show` (architecture, layer pattern) and `list` (models, GPUs, quants)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moeplan.cli.render import Table, billions, gb
from moeplan.cli.views.layers import hybrid_rows, pattern_table
from moeplan.memory.quant import ATTENTION_PARTS, FORMATS, SCHEMES
from moeplan.memory.sizing import SizeReport
from moeplan.model.specs import ModelSpec
from moeplan.perf.offload_link import host_link_bytes_per_s

if TYPE_CHECKING:
    from moeplan.hardware.gpus import GPU


from moeplan.cli.views.size import size_tables


def show_tables(spec: ModelSpec, r: SizeReport) -> list[Table]:
    a = spec.attention
    rows: list[list[Any]] = [
        ["family", spec.family],
        ["hidden size", spec.hidden_size],
        ["vocab", spec.vocab_size],
        ["layers", f"{spec.num_layers} ({spec.num_dense_layers} dense, {spec.num_moe_layers} MoE)"],
        [
            "attention",
            f"{a.kind.value}: {a.num_heads} heads, {a.num_kv_heads} KV heads, "
            f"head_dim {a.head_dim}, v_head_dim {a.v_head_dim}",
        ],
    ]
    if a.kind.value == "mla":
        rows.append(
            [
                "MLA ranks",
                f"q_lora {a.q_lora_rank}, kv_lora {a.kv_lora_rank}, "
                f"rope {a.qk_rope_head_dim}, nope {a.qk_nope_head_dim}",
            ]
        )
    kinds = [(layer.window_kind.value, layer.window) for layer in spec.layers if layer.keeps_kv]
    rows.append(
        [
            "attention windows",
            ", ".join(
                f"{kinds.count(w)} x {w[0]}" + (f" {w[1]}" if w[1] else "")
                for w in sorted(set(kinds), key=str)
            ),
        ]
    )
    if spec.moe:
        mo = spec.moe
        rows.append(
            [
                "experts",
                f"{mo.num_experts} routed (top-{mo.top_k}, width "
                f"{mo.expert_intermediate_size}), {mo.num_shared_experts} shared"
                + (f" (width {mo.shared_intermediate_size})" if mo.num_shared_experts else ""),
            ]
        )
    if spec.dense_intermediate_size:
        rows.append(["dense FFN width", spec.dense_intermediate_size])
    rows += hybrid_rows(spec)
    rows += [
        ["tied embeddings", spec.tie_word_embeddings],
        ["MTP layers", spec.mtp_layers],
        ["native precision", spec.native_quant],
        ["max context", spec.max_position_embeddings],
    ]
    arch = Table(f"{spec.display_name or spec.name}: architecture", ["field", "value"], rows)
    if spec.source:
        arch.notes.append(f"source: {spec.source}")
    if spec.official:
        arch.notes.append(f"official counts: {spec.official.source}")
    arch.notes.extend(spec.reader_notes)
    return [arch, pattern_table(spec), size_tables(r)[0]]


def models_table(entries: list[tuple[str, ModelSpec, int, int]]) -> Table:
    rows = [
        [cid, s.display_name, s.family, billions(total), billions(active), s.native_quant]
        for cid, s, total, active in entries
    ]
    return Table("models", ["id", "name", "family", "total", "active", "native"], rows)


def gpus_table(gpus: list[GPU]) -> Table:
    rows = [
        [
            g.id,
            g.name,
            gb(g.memory_bytes),
            f"{g.mem_bw_bytes_per_s / 1e9:,.0f}",
            f"{g.bf16_flops / 1e12:,.0f}" if g.bf16_flops else "-",
            f"{g.fp8_flops / 1e12:,.0f}" if g.fp8_flops else "-",
            (
                f"{g.interconnect.kind} {g.interconnect.per_direction_bytes_per_s / 1e9:,.0f} GB/s"
                if g.interconnect.kind != "none"
                else "none"
            ),
            _host_link(g),
        ]
        for g in gpus
    ]
    return Table(
        "GPUs (dense peaks)",
        [
            "id",
            "name",
            "memory",
            "GB/s",
            "BF16 TFLOPS",
            "FP8 TFLOPS",
            "GPU link (per direction)",
            "host link",
        ],
        rows,
    )


def _host_link(gpu: GPU) -> str:
    """The host link expert offload prices for `gpu` (perf/offload_link.py), "-" for a GPU that
    names neither a PCIe link nor an interconnect (unified-memory parts)."""
    if gpu.interconnect.kind == "none" and not gpu.pcie_gen:
        return "-"
    rate, label = host_link_bytes_per_s(gpu)
    assumed = " (assumed)" if "assumed" in label else ""
    return f"{label.split(' (')[0]} {rate / 1e9:.0f} GB/s{assumed}"


def quants_table() -> Table:
    def kept(s) -> str:
        names = s.kept_in_16bit()
        every = [c for c in s.formats if c not in ATTENTION_PARTS]
        return "all" if set(every) <= set(names) else ", ".join(names) or "-"

    rows = [
        [
            s.id,
            s.description,
            f"{FORMATS[s.formats['routed_experts']].bits_per_weight:.4g}",
            kept(s),
        ]
        for s in SCHEMES.values()
    ]
    rows.append(
        [
            "native",
            "the checkpoint's own mix (e.g. DeepSeek-V3 fp8-block; gpt-oss bf16,experts=mxfp4)",
            "per model",
            "per model",
        ]
    )
    t = Table(
        "quantization schemes",
        ["id", "description", "bits/weight (experts)", "kept at >= 16 bits"],
        rows,
    )
    t.notes.append(
        "mixes: BASE,GROUP=FORMAT,... e.g. 'bf16,experts=mxfp4'; groups: experts, "
        "routed_experts, shared_experts, attention, attention_out (the output projection "
        "alone), attention_kv_b (MLA's kv_b_proj alone), dense_ffn, embedding, lm_head, router, "
        "mtp; formats: " + ", ".join(FORMATS)
    )
    t.notes.append(
        "GGUF file types (q8_0 ... iq1_s) use llama.cpp's per-tensor mix (llama-quant.cpp, "
        "an imatrix for the iq types): bits/weight of experts there is the base type's"
    )
    return t
