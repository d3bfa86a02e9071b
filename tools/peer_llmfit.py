"""Score llmfit's offload speed formula on the published decode runs moeplan validates against,
beside moeplan's own out-of-sample errors (issue 15 names llmfit as the peer to beat).

llmfit (github AlexsJones/llmfit @ 3f44fd30a43d2619146f7bc0aa66c90aa54d78e6, 2026-08-22), read,
not run: `llmfit-core/src/fit.rs` `estimate_tps`, MoeOffload branch (lines 1262-1279):

    tok/s = 0.8 / (active_gb / ddr_gbps + active_gb / (gpu_gbps x 0.55))

with `default_efficiency` 0.55 (fit.rs:51) and the moe_offload run-mode factor 0.8 (fit.rs:68).
Every active byte counts as read from RAM and again by the GPU; nothing depends on
--n-cpu-moe, threads, sockets or the engine. llmfit takes its RAM bandwidth from a memcpy it
measures on the user's machine (hardware.rs `measure_ram_bandwidth_gbps`, at most 8 threads),
else 50 GB/s (fit.rs:1172); it never reads DDR type or speed.

So that the comparison is about the formula and not the facts, every input comes from moeplan's
reading of the record: active bytes per token at the record's quantization (the embedding lookup
not counted), the GPU's memory bandwidth, and the host's bandwidth, theoretical (column
`theoretical`) or moeplan's achievable read figure (column `read`, the nearer analogue of a
measured memcpy). Run: `python tools/peer_llmfit.py` (seconds; it runs `validate`'s offload
section for moeplan's side).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from moeplan.memory.estimate import weights_bytes_by_component
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.model.params import count_params
from moeplan.perf.terms import weight_split
from moeplan.plan.validate_offload import load_offload_records, record_gpu, record_host

LLMFIT_EFFICIENCY = 0.55  # fit.rs:51
LLMFIT_MOE_OFFLOAD_FACTOR = 0.8  # fit.rs:68
ISSUE_MODELS = ("gpt-oss-120b", "qwen3-235b-a22b", "deepseek-v3", "deepseek-r1")


def active_bytes_per_token(how: dict[str, Any]) -> float:
    """Weight bytes one decode token reads, all of them, at the record's quantization: the
    dense part, the head and top-k experts of every MoE layer (perf/terms.py weight_split)."""
    spec = load_model(how["model"])
    counts = count_params(spec)
    scheme = resolve_scheme(how["quant"], spec)
    split = weight_split(spec, counts, weights_bytes_by_component(spec, scheme, counts))
    routed = spec.moe.top_k * spec.num_moe_layers if spec.moe else 0
    return split.dense_bytes + split.head_bytes + routed * split.expert_bytes


def llmfit_tok_s(how: dict[str, Any], host_bandwidth: str) -> float:
    """llmfit's MoeOffload tok/s for a record, the host's bandwidth `theoretical` or `read`."""
    host = record_host(how)
    ddr = host.mem_bw_bytes_per_s if host_bandwidth == "theoretical" else host.read_bw_bytes_per_s
    if ddr is None:
        raise ValueError(f"{how['host']}: no host bandwidth")
    active = active_bytes_per_token(how)
    gpu_bw = record_gpu(how).mem_bw_bytes_per_s
    seconds = active / ddr + active / (gpu_bw * LLMFIT_EFFICIENCY)
    return max(LLMFIT_MOE_OFFLOAD_FACTOR / seconds, 0.1)


def moeplan_errors() -> dict[str, float]:
    """moeplan's decode error per record, out of sample (leave-one-out where a run sets a
    constant), as `moeplan validate` reports it (validate_offload_all)."""
    from moeplan.plan.validate_offload import validate_offload_all

    errors = {}
    for v in validate_offload_all():
        error = v.loo_error if v.loo_error is not None else v.error
        if v.metric == "decode_tok_s" and error is not None:
            errors[v.id] = error
    return errors


def decode_records() -> list[dict[str, Any]]:
    return [
        r
        for r in load_offload_records()
        if r["metric"] == "decode_tok_s" and "skip" not in r["moeplan"]
    ]


def main() -> None:
    ours = moeplan_errors()
    rows = []
    for rec in decode_records():
        if rec["id"] not in ours:
            continue
        how, published = rec["moeplan"], float(rec["value"])
        rows.append(
            {
                "model": how["model"],
                "engine": how["engine"],
                "moeplan": ours[rec["id"]],
                "theoretical": llmfit_tok_s(how, "theoretical") / published - 1,
                "read": llmfit_tok_s(how, "read") / published - 1,
            }
        )
    groups: dict[str, Callable[[dict[str, Any]], bool]] = {
        "all": lambda r: True,
        "llama.cpp": lambda r: r["engine"] == "llamacpp",
        "ktransformers": lambda r: r["engine"] != "llamacpp",
        "issue models": lambda r: r["model"] in ISSUE_MODELS,
    }
    print("median |decode error| over the same published runs")
    print(f"{'runs':14s} {'n':>4s} {'moeplan':>8s} {'llmfit (theoretical)':>21s} {'(read)':>8s}")
    for name, keep in groups.items():
        kept = [r for r in rows if keep(r)]
        ours_m, theo_m, read_m = (
            100 * statistics.median(abs(r[k]) for r in kept)
            for k in ("moeplan", "theoretical", "read")
        )
        print(f"{name:14s} {len(kept):4d} {ours_m:7.1f}% {theo_m:20.1f}% {read_m:7.1f}%")
    signed = 100 * statistics.median(r["theoretical"] for r in rows)
    closer = sum(abs(r["theoretical"]) < abs(r["moeplan"]) for r in rows)
    print(f"llmfit's signed median {signed:+.1f}%; nearer than moeplan on {closer} of {len(rows)}")


if __name__ == "__main__":
    main()
