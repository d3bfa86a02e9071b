"""`moeplan show` and `moeplan list`: the catalog and one model's architecture."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from moeplan.cli.common import (
    FormatOpt,
    FromHubOpt,
    JsonOpt,
    ModelArg,
    RevisionOpt,
    app,
    output_format,
)
from moeplan.errors import MoeplanError


@app.command()
def show(
    model: ModelArg,
    revision: RevisionOpt = None,
    from_hub: FromHubOpt = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "table",
) -> None:
    """The normalized architecture and the parameter breakdown."""
    from dataclasses import asdict

    from moeplan.cli.render import emit
    from moeplan.cli.views.catalog import show_tables
    from moeplan.cli.views.size import size_json
    from moeplan.memory.quant import resolve_scheme
    from moeplan.memory.sizing import size_model
    from moeplan.model.catalog import load_model
    from moeplan.model.specs import spec_dict

    spec = load_model(model, revision, from_hub)
    # parameters do not depend on the scheme: an unmodelled checkpoint quantization shows too
    quant = "bf16" if spec.native_quant.startswith("unmodelled:") else "native"
    report = size_model(spec, resolve_scheme(quant, spec))
    full = size_json(report)
    doc = {
        "spec": asdict(spec, dict_factory=spec_dict),
        "params": full["params"],
        "official": full["official"],
    }
    tables = show_tables(spec, report)
    if quant == "bf16":
        tables[-1].notes.append(
            f"bytes shown at bf16: the checkpoint's quant_method "
            f"'{spec.native_quant.split(':', 1)[1]}' is not modelled"
        )
    emit(tables, output_format(fmt, as_json), doc)


HOST_SEGMENT_ORDER = {"desktop": 0, "workstation": 1, "server": 2}
"""`list hosts` groups desktops, then workstations, then servers (unified-memory and superchip
hosts after them), each by vendor and id."""


@app.command("list")
def list_(
    what: Annotated[str, typer.Argument(help="models, gpus, hosts or quants")],
    match: Annotated[
        str | None,
        typer.Option(
            "--match",
            help="Only entries whose id, name, alias, family or segment contains this text "
            "(case-insensitive; e.g. epyc, 'rtx 40', workstation).",
        ),
    ] = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "table",
) -> None:
    """List the catalog: models, gpus, hosts or quants."""
    from dataclasses import asdict

    from moeplan.cli.render import emit
    from moeplan.names import mentions

    out = output_format(fmt, as_json)
    if match is not None and not match.strip():
        raise MoeplanError("--match needs some text")
    if what == "models":
        from moeplan.cli.views.catalog import models_table
        from moeplan.model.catalog import catalog_ids, load_model
        from moeplan.model.params import count_params

        entries = []
        for cid in catalog_ids():
            spec = load_model(cid)
            if match and not mentions(match, cid, spec.display_name, spec.family):
                continue
            counts = count_params(spec)
            entries.append((cid, spec, counts.total, counts.active))
        doc: Any = [
            {
                "id": c,
                "name": s.display_name,
                "family": s.family,
                "total": t,
                "active": a,
                "native": s.native_quant,
            }
            for c, s, t, a in entries
        ]
        emit([_matched(models_table(entries), match, entries, "model")], out, doc)
    elif what == "gpus":
        from moeplan.cli.views.catalog import gpus_table
        from moeplan.hardware.gpus import gpu_catalog

        gpus = [
            g
            for g in gpu_catalog().values()
            if not match or mentions(match, g.id, g.name, g.vendor, *g.aliases)
        ]
        emit([_matched(gpus_table(gpus), match, gpus, "GPU")], out, [asdict(g) for g in gpus])
    elif what == "hosts":
        from moeplan.cli.views.offload import hosts_table
        from moeplan.hardware.hosts import host_catalog

        hosts = sorted(
            (
                h
                for h in host_catalog().values()
                if not match or mentions(match, h.id, h.name, h.segment, *h.aliases)
            ),
            key=lambda h: (
                HOST_SEGMENT_ORDER.get(h.segment, len(HOST_SEGMENT_ORDER)),
                h.vendor,
                h.id,
            ),
        )
        emit(
            [_matched(hosts_table(hosts), match, hosts, "host")],
            out,
            [
                asdict(h)
                | {
                    "mem_bw_bytes_per_s": h.mem_bw_bytes_per_s,
                    "read_bw_bytes_per_s": h.read_bw_bytes_per_s,
                }
                for h in hosts
            ],
        )
    elif what == "quants":
        from moeplan.cli.views.catalog import quants_table
        from moeplan.memory.quant import FORMATS, SCHEMES

        doc = {
            "schemes": {
                k: {"description": s.description, "formats": s.formats} for k, s in SCHEMES.items()
            },
            "formats": {k: asdict(f) for k, f in FORMATS.items()},
        }
        emit([quants_table()], out, doc)
    else:
        raise MoeplanError(f"unknown list '{what}' (choose from models, gpus, hosts, quants)")


def _matched(table: Any, match: str | None, found: list[Any], what: str) -> Any:
    """`table` with a note when --match found nothing (the empty table alone reads as a bug)."""
    if match and not found:
        table.notes.insert(0, f"no {what} matches '{match}' (id, name, family or alias)")
    return table
