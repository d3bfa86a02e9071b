"""`show`: the layer pattern (which layers are which token mixer and FFN), drawn compactly,
and the architecture rows of hybrid layers (recurrent mixers, per-layer attention, towers)."""

from __future__ import annotations

from typing import Any

from moeplan.cli.render import Table
from moeplan.model.specs import LayerSpec, MixerKind, ModelSpec, WindowKind

MIXER_CHARS = {
    (MixerKind.ATTENTION, WindowKind.FULL): "A",
    (MixerKind.ATTENTION, WindowKind.SLIDING): "S",
    (MixerKind.ATTENTION, WindowKind.CHUNKED): "C",
    (MixerKind.LINEAR_ATTENTION, WindowKind.FULL): "L",
    (MixerKind.MAMBA, WindowKind.FULL): "M",
    (MixerKind.MAMBA2, WindowKind.FULL): "M",
    (MixerKind.SHORT_CONV, WindowKind.FULL): "V",
}
FFN_CHARS = {"dense": "D", "moe": "E", "moe+dense": "X", "none": "."}
LEGEND = (
    "mixer: A full attention, S sliding window, C chunked, L linear attention (Gated DeltaNet), "
    "M Mamba/Mamba2, . none; FFN: D dense, E MoE, X MoE beside a dense FFN, . none"
)
PER_ROW = 16


def _mixer_char(layer: LayerSpec) -> str:
    return MIXER_CHARS.get((layer.mixer, layer.window_kind), ".")


def _groups(chars: str) -> str:
    return " ".join(chars[i : i + 4] for i in range(0, len(chars), 4))


def period(tokens: list[str], max_prefix: int = 8, max_period: int = 12) -> tuple[int, int]:
    """The shortest (prefix, period) such that tokens[prefix:] repeats with that period."""
    n = len(tokens)
    for p in range(1, max_period + 1):
        for k in range(max_prefix + 1):
            rest = n - k
            if rest < 2 * p or rest % p:
                continue
            if all(tokens[i] == tokens[i + p] for i in range(k, n - p)):
                return k, p
    return n, 0


def pattern_summary(spec: ModelSpec) -> str:
    tokens = [_mixer_char(x) + FFN_CHARS[x.ffn] for x in spec.layers]
    k, p = period(tokens)
    if not p:
        return "no repeating unit (see the table)"
    head = f"{' '.join(tokens[:k])}, then " if k else ""
    return f"{head}[{' '.join(tokens[k : k + p])}] x {(len(tokens) - k) // p}"


def pattern_table(spec: ModelSpec) -> Table:
    """Rows of 16 layers: their mixers and their FFN blocks, one character each."""
    mixers = "".join(_mixer_char(x) for x in spec.layers)
    ffns = "".join(FFN_CHARS[x.ffn] for x in spec.layers)
    rows = [
        [
            f"{i}-{min(i + PER_ROW, spec.num_layers) - 1}",
            _groups(mixers[i : i + PER_ROW]),
            _groups(ffns[i : i + PER_ROW]),
        ]
        for i in range(0, spec.num_layers, PER_ROW)
    ]
    t = Table(f"layer pattern ({spec.num_layers} layers)", ["layers", "mixer", "FFN"], rows)
    t.notes.append("pattern: " + pattern_summary(spec))
    if spec.block_size > 1:
        t.notes.append(
            f"{spec.block_size} sublayers per published layer "
            f"({spec.num_layers // spec.block_size} layers)"
        )
    t.notes.append(LEGEND)
    if any(layer.mixer is MixerKind.SHORT_CONV for layer in spec.layers):
        t.notes.append("mixer V: LFM2 gated short convolution")
    return t


def hybrid_rows(spec: ModelSpec) -> list[list[Any]]:
    """Rows for what a uniform decoder does not have."""
    rows: list[list[Any]] = []
    counts: dict[str, int] = {}
    for layer in spec.layers:
        key = layer.mixer.value + (
            f" ({layer.window_kind.value})" if layer.mixer is MixerKind.ATTENTION else ""
        )
        counts[key] = counts.get(key, 0) + 1
    if len(counts) > 1:
        rows.append(["token mixers", ", ".join(f"{n} x {k}" for k, n in counts.items())])
    for r in sorted(set(spec.recurrent_layers), key=str):
        rows.append(
            [
                r.kind.value,
                f"{r.num_heads} heads x {r.head_dim}, state {r.state_size}, "
                f"conv {r.conv_kernel}"
                + (f", {r.num_key_heads} key heads" if r.num_key_heads else "")
                + (f", {r.n_groups} groups" if r.n_groups > 1 else ""),
            ]
        )
    for layer in spec.layers:
        if layer.attention is not None:
            a = layer.attention
            rows.append(
                [
                    f"{layer.window_kind.value} layers' attention",
                    f"{a.num_heads} heads, {a.num_kv_heads} KV heads, head_dim {a.head_dim}, "
                    f"v_head_dim {a.v_head_dim}" + (", sinks" if a.sinks else ""),
                ]
            )
            break
    ix = spec.attention.indexer
    if ix is not None:
        rows.append(["DSA indexer", f"{ix.num_heads} heads x {ix.head_dim}, top-{ix.top_k} tokens"])
    if spec.moe is not None and spec.moe.num_zero_experts:
        rows.append(["zero-computation experts", spec.moe.num_zero_experts])
    for t in spec.towers:
        count = f"{t.params / 1e9:.2f}B params" if t.params is not None else t.detail
        rows.append([f"{t.name} tower", f"{t.family}: {count}"])
    return rows
