"""--plot FILE: the serving frontier drawn with matplotlib (the optional `plot` extra), or an
HTML page that embeds the SVG. Imported only when --plot is given."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from moeplan.errors import MoeplanError
from moeplan.perf.serving import ServingPoint
from moeplan.perf.serving_search import ServingResult, Targets

FORMATS = (".svg", ".png", ".html")
MAX_CURVES = 8  # the layouts with the highest tokens/s per GPU; more curves do not read


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MoeplanError("--plot needs matplotlib: pip install 'moeplan[plot]'") from None
    return plt


def plot_frontier(path: str, result: ServingResult, targets: Targets) -> None:
    """Tokens/s per GPU against tokens/s per user: every layout's points as a curve, the
    Pareto frontier, the per-user target as a vertical line, the chosen point circled."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise MoeplanError(f"--plot {path}: use a .svg, .png or .html file")
    curves: dict[str, list[ServingPoint]] = {}
    for lay in result.layouts:
        if lay.points:
            curves[f"{lay.layout.describe()} x {lay.replicas}"] = list(lay.points)
    title = (
        f"{result.deployment.spec.name} {result.deployment.scheme.id} on {result.gpus} x "
        f"{result.deployment.gpu.id}, ISL {result.workload.input_len} / OSL "
        f"{result.workload.output_len}"
    )
    draw(path, title, curves, result.frontier, result.best, targets)


def draw(
    path: str,
    title: str,
    curves: dict[str, list[ServingPoint]],
    frontier: tuple[ServingPoint, ...],
    best: ServingPoint | None,
    targets: Targets,
    best_label: str | None = None,
) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 6), dpi=110)
    ranked = sorted(curves.items(), key=lambda kv: -max(p.output_tok_s_per_gpu for p in kv[1]))
    for label, pts in ranked[:MAX_CURVES]:
        pts = sorted(pts, key=lambda p: p.output_tok_s_per_user)
        ax.plot(
            [p.output_tok_s_per_user for p in pts],
            [p.output_tok_s_per_gpu for p in pts],
            marker=".",
            linewidth=1,
            alpha=0.8,
            label=label,
        )
    if frontier:
        ax.plot(
            [p.output_tok_s_per_user for p in frontier],
            [p.output_tok_s_per_gpu for p in frontier],
            color="black",
            linewidth=2.2,
            label="frontier",
        )
    if targets.min_tok_s_user is not None:
        ax.axvline(targets.min_tok_s_user, color="red", linestyle="--", label="min tok/s/user")
    if best is not None:
        ax.scatter(
            [best.output_tok_s_per_user],
            [best.output_tok_s_per_gpu],
            s=180,
            facecolors="none",
            edgecolors="red",
            linewidths=2,
            zorder=5,
            label=best_label
            or f"chosen: {best.setup.layout.describe()} x {best.replicas}, "
            f"{best.concurrency} requests",
        )
    ax.set_xlabel("output tokens/s per user (OSL / (TTFT + OSL x TPOT))")
    ax.set_ylabel("output tokens/s per GPU (all GPUs)")
    ax.set_title(title, fontsize=10)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # an empty frontier has nothing to name
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    suffix = Path(path).suffix.lower()
    if Path(path).exists() and not Path(path).is_file():  # never rename over a device
        raise MoeplanError(f"--plot {path}: not a regular file")
    tmp = Path(path).with_name(f".{Path(path).name}.{os.getpid()}.tmp")
    try:
        if suffix == ".html":
            buf = io.StringIO()
            fig.savefig(buf, format="svg")
            tmp.write_text(
                f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
                f"</head><body>{buf.getvalue()}</body></html>\n"
            )
        else:
            fig.savefig(tmp, format=suffix[1:])
        tmp.replace(path)  # atomic: a failed write leaves no half file
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise MoeplanError(f"--plot {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


def plot_deployment(path: str, result: Any, base: Any, workload: Any, targets: Targets) -> None:
    """The frontier of the cheapest option of each GPU kind (up to five), one curve each, with
    the cheapest option circled."""
    from moeplan.perf.serving_search import Deployment, search_serving

    chosen = result.accepted[0]
    curves: dict[str, list[ServingPoint]] = {}
    seen: set[str] = set()
    for o in result.accepted:
        key = o.gpu.id
        if key in seen or len(seen) >= 5:
            continue
        seen.add(key)
        dep = Deployment(
            base.spec, o.scheme, o.gpu, base.engine, base.kv_quant, base.state_dtype,
            base.usable_fraction, base.speculation,
        )  # fmt: skip
        sweep = search_serving(dep, workload, o.layout.gpus, targets, pinned=o.layout)
        curves[f"{o.gpu.id} {o.scheme.id} {o.layout.describe()}"] = list(sweep.frontier)
    title = (
        f"{base.spec.name}: the cheapest options per GPU kind, ISL {workload.input_len} / "
        f"OSL {workload.output_len}"
    )
    label = (
        f"chosen: {chosen.gpu.id} {chosen.scheme.id} {chosen.layout.describe()} x "
        f"{chosen.replicas} ({chosen.gpus} GPUs)"
    )
    draw(path, title, curves, (), chosen.point, targets, label)
