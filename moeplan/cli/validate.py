"""`moeplan validate`: predictions against the published measurements shipped with moeplan."""

from __future__ import annotations

from moeplan.cli.common import CalibrationOpt, FormatOpt, JsonOpt, app, output_format


@app.command()
def validate(
    as_json: JsonOpt = False, fmt: FormatOpt = "table", calibration: CalibrationOpt = None
) -> None:
    """Predicted vs published measurements (shipped with the package), and the median error;
    the latency references used to set nothing are reported apart. With --calibration, the
    records of the calibration's GPU also predicted with it, before and after."""
    from moeplan.cli.render import emit
    from moeplan.cli.views.offload_validate import offload_validate_json, offload_validate_table
    from moeplan.cli.views.perf import (
        references_json,
        references_table,
        validate_json,
        validate_table,
    )
    from moeplan.cli.views.serving import serving_validate_json, serving_validate_table
    from moeplan.plan.validate import leave_one_out, validate_all, validate_references
    from moeplan.plan.validate_offload import validate_offload_all
    from moeplan.plan.validate_serving import validate_serving_all

    results = validate_all()
    loo = leave_one_out()
    references = validate_references()
    offload = validate_offload_all()
    serving = validate_serving_all()
    doc = {
        **validate_json(results, loo),
        "latency_references": references_json(references),
        "offload": offload_validate_json(offload),
        "serving": serving_validate_json(serving),
    }
    tables = [
        validate_table(results, loo),
        references_table(references),
        offload_validate_table(offload),
        serving_validate_table(serving),
    ]
    if calibration:
        from moeplan.cli.views.calibration import calibrated_json, calibrated_table
        from moeplan.perf.calibration import load_calibration
        from moeplan.plan.validate_calibration import validate_with_calibration

        cal = load_calibration(calibration)
        rows = validate_with_calibration(cal)
        tables.append(calibrated_table(rows, cal.path, cal.catalog_id))
        doc["calibration"] = calibrated_json(rows, cal.path, cal.catalog_id)
    emit(tables, output_format(fmt, as_json), doc)
