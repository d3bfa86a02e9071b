"""Calibration schema 2 (issue 17): MoE curves per weight dtype and expert shape looked up by
(dtype, bytes per expert, tokens per expert), attention and collective figures read by the
estimator, schema 1 files still read with the same latency, bad files refused in one line.
Expected values are derived by hand in the comments."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.errors import CalibrationError
from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.calibration import (
    SCHEMA,
    SCHEMA_V1,
    load_calibration,
    parse_calibration,
    rates_from_calibration,
)
from moeplan.perf.calibration_curves import (
    MoECurve,
    calibration_dtype,
    collective_seconds,
    interpolate_loglog,
    moe_lookup,
)
from moeplan.perf.engines import resolve_engine
from moeplan.perf.latency import make_setup
from moeplan.perf.parallel import Layout
from moeplan.perf.phases import _expert_bw, decode_step, prefill, stage_pass
from moeplan.perf.terms import kv_read_bytes_per_gpu, stage_fraction

runner = CliRunner()
H100_BW = 3.35e12  # h100-sxm spec bandwidth in the GPU catalog
H100_BF16 = 989e12  # h100-sxm dense BF16 peak in the GPU catalog
MIXTRAL_EXPERT_BF16 = 3 * 4096 * 14336 * 2  # 352,321,536 B: gate, up, down in bf16


def _flat(fraction: float) -> list[dict]:
    return [
        {"tokens_per_expert": 1, "fraction_of_spec_bw": fraction},
        {"tokens_per_expert": 4096, "fraction_of_spec_bw": fraction},
    ]


def _v2(**over) -> dict:
    doc = {
        "schema": SCHEMA,
        "device": {"name": "NVIDIA H100 80GB HBM3", "catalog_id": "h100-sxm"},
        "spec": {"mem_bw_bytes_per_s": H100_BW, "bf16_flops": H100_BF16},
        "measured": {"copy_bandwidth_bytes_per_s": 3.0e12, "gemm_flops": {"bf16": 6.5e14}},
        "moe": {
            "efficiency": {
                "bf16": [{"bytes_per_expert": MIXTRAL_EXPERT_BF16, "points": _flat(0.5)}],
                "fp8": [{"bytes_per_expert": MIXTRAL_EXPERT_BF16 // 2, "points": _flat(0.25)}],
            }
        },
    }
    doc.update(over)
    return doc


def _write(tmp_path, doc, name="cal.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _setup(doc, quant="bf16", layout=None, gpu="h100-sxm", model="mixtral-8x7b"):
    layout = layout or Layout()
    spec, device = load_model(model), resolve_gpu(gpu)
    engine = resolve_engine("vllm")
    cal = parse_calibration(doc, "cal.yaml")
    rates = rates_from_calibration(cal, device, engine)
    return make_setup(spec, resolve_scheme(quant, spec), device, layout, engine, rates)


# --- the lookup rules, by hand ------------------------------------------------------------


def test_loglog_interpolation_and_clamp():
    pts = ((1.0, 0.2), (16.0, 0.8))
    # slope ln(0.8/0.2) / ln(16/1) = ln 4 / ln 16 = 0.5, so y(4) = 0.2 x 4^0.5 = 0.4
    assert interpolate_loglog(pts, 4.0) == (pytest.approx(0.4), False)
    assert interpolate_loglog(pts, 16.0) == (0.8, False)  # exact at a measured point
    assert interpolate_loglog(pts, 0.5) == (0.2, True)  # held below, said so
    assert interpolate_loglog(pts, 100.0) == (0.8, True)  # held above


def test_nearest_expert_size_by_log_bytes():
    small = MoECurve("bf16", 10e6, ((1.0, 0.3), (64.0, 0.9)))
    large = MoECurve("bf16", 100e6, ((1.0, 0.6), (64.0, 0.9)))
    curves = (small, large)
    # the geometric midpoint of 10 and 100 MB is 31.6 MB: 30 MB takes the small curve
    # (|ln 3| = 1.10 < |ln 0.3| = 1.20), 40 MB the large one (|ln 0.4| = 0.92 < |ln 4| = 1.39)
    assert moe_lookup(curves, "bf16", 30e6, 1.0, 1).value == 0.3
    assert moe_lookup(curves, "bf16", 40e6, 1.0, 1).value == 0.6
    # tokens per expert 8 between 1 and 64 on the small curve: slope ln 3 / ln 64, so
    # 0.3 x 8^(ln 3 / ln 64) = 0.3 x 3^(1/2) = 0.5196
    got = moe_lookup(curves, "bf16", 10e6, 8.0, 8)
    assert got.value == pytest.approx(0.3 * math.sqrt(3)) and got.notes == ()
    # outside the measured sizes and tokens per expert: nearest, with notes
    got = moe_lookup(curves, "bf16", 1e9, 128.0, 512)
    assert got.value == 0.9
    assert any("outside the measured 10 MB-100 MB" in n for n in got.notes)
    assert any("tokens per expert outside the measured 1-64" in n for n in got.notes)


def test_dtype_choice():
    bf16 = MoECurve("bf16", 1e6, ((1.0, 0.5),))
    fp8 = MoECurve("fp8", 1e6, ((1.0, 0.25),))
    int4 = MoECurve("int4", 1e6, ((1.0, 0.125),))
    assert moe_lookup((bf16, fp8), "fp8", 1e6, 1, 1).value == 0.25  # exact dtype, no note
    assert moe_lookup((bf16, fp8), "fp8", 1e6, 1, 1).notes == ()
    # int8 has 8 bits: fp8's curve (same bits); int4: fp8 (|log2(8/4)| = 1 < |log2(16/4)| = 2)
    for asked in ("int8", "int4"):
        got = moe_lookup((bf16, fp8), asked, 1e6, 1, 1)
        assert got.value == 0.25 and f"no {asked} MoE curve" in got.notes[0]
    assert moe_lookup((bf16, fp8, int4), "mxfp4", 1e6, 1, 1).value == 0.125  # 4 bits
    assert moe_lookup((bf16,), "fp8", 1e6, 1, 1).value == 0.5  # the only curve
    # weight format ids of memory.quant map onto calibration dtypes
    assert calibration_dtype("fp8-block") == "fp8" and calibration_dtype("mxfp4") == "mxfp4"
    assert calibration_dtype("bfloat16") == "bf16" and calibration_dtype("q4_k") == "q4_k"
    assert moe_lookup((bf16, fp8, int4), "q4_k", 1e6, 1, 1).value == 0.125  # 4.5 bits: int4


def test_collective_time_rule():
    pts = ((1e3, 10e-6), (1e6, 100e-6))
    # log-log: slope ln 10 / ln 1000 = 1/3: at 8,192 B, 10 us x 8.192^(1/3) = 20.16 us
    assert collective_seconds(pts, 8192) == pytest.approx(10e-6 * 8.192 ** (1 / 3))
    assert collective_seconds(pts, 10) == 10e-6  # latency floor below the smallest size
    assert collective_seconds(pts, 4e6) == pytest.approx(400e-6)  # largest size's bandwidth


# --- the estimator reads them -------------------------------------------------------------


def test_fp8_curve_for_fp8_experts_and_bf16_for_bf16():
    doc = _v2()
    notes: list[str] = []
    # mixtral bf16 experts are 352 MB (the bf16 curve's size), fp8 176 MB (the fp8 curve's)
    assert _expert_bw(_setup(doc, "bf16"), 1, notes) == (H100_BW * 0.5, True)
    assert _expert_bw(_setup(doc, "fp8"), 1, notes) == (H100_BW * 0.25, True)
    assert notes == []
    # int4 experts: no int4 curve, the nearest bits (fp8) is used and the note says so
    assert _expert_bw(_setup(doc, "int4"), 1, notes) == (H100_BW * 0.25, True)
    assert notes and "no int4 MoE curve" in notes[0]


def test_tokens_per_expert_and_bytes_per_expert_reach_the_lookup():
    doc = _v2(
        moe={
            "efficiency": {
                "bf16": [
                    {
                        "bytes_per_expert": 100e6,
                        "points": [
                            {"tokens_per_expert": 1, "fraction_of_spec_bw": 0.3},
                            {"tokens_per_expert": 4, "fraction_of_spec_bw": 0.6},
                        ],
                    },
                    {
                        "bytes_per_expert": 300e6,
                        "points": [
                            {"tokens_per_expert": 1, "fraction_of_spec_bw": 0.4},
                            {"tokens_per_expert": 4, "fraction_of_spec_bw": 0.8},
                        ],
                    },
                ]
            }
        }
    )
    # TP1: 352 MB experts -> the 300 MB curve. 4 tokens, 8 experts, top-2: touched
    # 8 x (1 - (6/8)^4) = 5.46875, tokens per expert 8 / 5.46875 = 1.4629; slope
    # ln 2 / ln 4 = 0.5: 0.4 x 1.4629^0.5 = 0.4838
    got, _ = _expert_bw(_setup(doc), 4, [])
    assert got == pytest.approx(H100_BW * 0.4 * math.sqrt(8 / 5.46875))
    # TP4: a quarter of each expert per GPU, 88 MB -> the 100 MB curve; 1 token: 1 per expert
    got, _ = _expert_bw(_setup(doc, layout=Layout(tp=4)), 1, [])
    assert got == H100_BW * 0.3


def test_attention_decode_and_prefill_figures_change_the_estimate():
    base = _v2()
    flat_decode = [{"kv_bytes": 1e3, "fraction_of_spec_bw": 0.5}]
    flat_prefill = [{"tokens": 16, "fraction_of_peak_flops": 0.25}]
    with_attn = _v2(attention={"decode": flat_decode, "prefill": flat_prefill})
    # decode at batch 8 and 32k context: without the figures the KV cache streams at the copy
    # bandwidth (3.0e12), with them at 0.5 x 3.35e12 (memory and compute terms add)
    s0, s1 = _setup(base), _setup(with_attn)
    p0 = stage_pass(s0, 8, 8, 1, 32768, 8, decode=True)
    p1 = stage_pass(s1, 8, 8, 1, 32768, 8, decode=True)
    kv = kv_read_bytes_per_gpu(s0.spec, s0.layout, 8, 32769, "bf16", "fp32")
    assert p1.memory_s - p0.memory_s == pytest.approx(kv / (0.5 * H100_BW) - kv / 3.0e12)
    assert any("attention decode: KV bytes per layer outside" in n for n in p1.notes)
    # prefill of one 8k prompt: attention FLOPs at 0.25 x the spec BF16 peak instead of the
    # measured GEMM rate (6.5e14)
    from moeplan.perf.terms import attention_core_flops

    flops = attention_core_flops(s0.spec, 8192, 0) * stage_fraction(s0.spec, s0.layout)
    q0 = stage_pass(s0, 8192, 1, 8192, 0, 1)
    q1 = stage_pass(s1, 8192, 1, 8192, 0, 1)
    assert q1.compute_s - q0.compute_s == pytest.approx(flops / (0.25 * H100_BF16) - flops / 6.5e14)


def test_collective_figures_change_the_estimate():
    rows = [
        {"kernel": "all_reduce", "world_size": 2, "bytes": 1e3, "seconds": 10e-6},
        {"kernel": "all_reduce", "world_size": 2, "bytes": 1e6, "seconds": 100e-6},
        {"kernel": "all_reduce", "world_size": 2, "bytes": 1e6, "seconds": 200e-6},  # slower dup
    ]
    setup = _setup(_v2(collectives=rows), "fp8", Layout(tp=2))
    # batch 1 decode, TP2: two all-reduces per layer of 1 x 4096 x 2 = 8,192 B each, at the
    # measured 10 us x 8.192^(1/3) = 20.16 us: 2 x 32 layers x 20.16 us = 1.290 ms
    step = decode_step(setup, 1, 1024)
    assert step.communication_s == pytest.approx(2 * 32 * 10e-6 * 8.192 ** (1 / 3))
    # a group of another size (TP4 on 4 GPUs) keeps the link formula: differs from measured
    other = decode_step(_setup(_v2(collectives=rows), "fp8", Layout(tp=4)), 1, 1024)
    default = decode_step(_setup(_v2(), "fp8", Layout(tp=4)), 1, 1024)
    assert other.communication_s == default.communication_s


V1 = {
    "schema": SCHEMA_V1,
    "device": {"name": "NVIDIA H100 80GB HBM3", "catalog_id": "h100-sxm"},
    "spec": {"mem_bw_bytes_per_s": H100_BW},
    "measured": {"copy_bandwidth_bytes_per_s": 3.0e12, "gemm_flops": {"bf16": 6.5e14}},
    "moe": {
        "curves": {
            "x": [
                {"tokens": 1, "fraction_of_spec_bw": 0.6},
                {"tokens": 32, "fraction_of_spec_bw": 0.9},
            ],
            "y": [{"tokens": 8, "fraction_of_spec_bw": 0.7}],
        }
    },
    "attention_decode": [{"context": 1024, "bytes_per_s": 1.0e12}],
    "collectives": [{"kernel": "all_reduce", "bytes": 4096, "world_size": 2, "seconds": 1.0e-3}],
}


def test_schema_1_reads_as_before(tmp_path):
    """A schema 1 file keeps schema 1's rule: its one curve (the best backend per token count:
    (1, 0.6), (8, 0.7), (32, 0.9)) by layer token count, linear in log2 tokens, held outside,
    for every dtype and expert size; weights and KV at the copy bandwidth; its attention and
    collective rows unread. (Checked by rule, not by pinned latencies, which move with every
    engine constant: at the rebase onto e03dfd2 the CLI printed the same latencies as main.)"""
    notes: list[str] = []
    for quant in ("int4", "bf16"):
        setup = _setup(V1, quant)
        assert setup.rates.stream_bw_bytes_per_s == 3.0e12
        # log2 4 = 2 of the way 0..3 from 1 to 8 tokens: 0.6 + 2/3 x 0.1; 16 tokens halfway
        # from 8 to 32 in log2: 0.8; 64 tokens: held at 0.9
        for tokens, fraction in ((1, 0.6), (4, 0.6 + 0.1 * 2 / 3), (16, 0.8), (64, 0.9)):
            bw, measured = _expert_bw(setup, tokens, notes)
            assert measured and bw == pytest.approx(H100_BW * fraction)
    assert notes == []  # schema 1's note rides with the rates, once per phase
    bare = {k: v for k, v in V1.items() if k not in ("attention_decode", "collectives")}
    for layout in (Layout(), Layout(tp=2)):
        for step in (lambda s: decode_step(s, 8, 4096), lambda s: prefill(s, 2, 1024)):
            assert step(_setup(V1, "fp8", layout)) == step(_setup(bare, "fp8", layout))
    path = _write(tmp_path, V1)
    r = runner.invoke(app, ["latency", "mixtral-8x7b", "--gpu", "h100-sxm", "--calibration", path])
    assert r.exit_code == 0 and "calibration schema 1" in r.stdout


def test_a_measured_curve_holds_the_layers_compute():
    """profile --compare at a measured point: 1 token of a qwen3-235b-shaped layer reads the
    router (4096 x 128 x 2 = 1,048,576 B) and 8 experts (3 x 4096 x 1536 x 2 = 37,748,736 B
    each): 303,038,464 B in the measured 100 us, fraction 303,038,464 / 1e-4 / 3.35e12. The
    calibrated prediction is that time again: the GEMM time (2 x (4096 x 128 + 8 x 18,874,368)
    FLOPs / 6.5e14 = 0.47 us) is inside the curve, not added to it."""
    from moeplan.profile.compare import compare

    shape = {"hidden": 4096, "width": 1536, "num_experts": 128, "top_k": 8}
    expert = 3 * 4096 * 1536 * 2
    fraction = (4096 * 128 * 2 + 8 * expert) / 1e-4 / H100_BW
    point = {"tokens": 1, "tokens_per_expert": 1, "fraction_of_spec_bw": fraction}
    doc = _v2(
        moe={
            "dtype": "bf16",
            "efficiency": {
                "bf16": [
                    {
                        "bytes_per_expert": expert,
                        "shape": shape,
                        "points": [point | {"seconds": 1e-4, "backend": "x"}],
                    }
                ]
            },
        },
        raw={"copy": [], "gemm": []},
    )
    rows = compare(
        parse_calibration(doc, "cal.yaml"), resolve_gpu("h100-sxm"), resolve_engine("vllm")
    )
    (moe,) = [r for r in rows if r.kernel.startswith("moe")]
    assert moe.calibrated_s == pytest.approx(1e-4) and moe.default_s is not None


# --- bad files: one line, exit 2 -----------------------------------------------------------


def _eff(points, dtype="bf16", size=1e6):
    return {"moe": {"efficiency": {dtype: [{"bytes_per_expert": size, "points": points}]}}}


BAD = [
    (_eff([{"tokens_per_expert": 1, "fraction_of_spec_bw": 1.2}]), "must be at most 1, got 1.2"),
    (
        _eff(
            [
                {"tokens_per_expert": 4, "fraction_of_spec_bw": 0.5},
                {"tokens_per_expert": 2, "fraction_of_spec_bw": 0.6},
            ]
        ),
        "points[1].tokens_per_expert' must increase along the curve (2 after 4)",
    ),
    (_eff([{"tokens_per_expert": 1, "fraction_of_spec_bw": 0.5}], "fp6"), "unknown weight dtype"),
    (_eff([]), "must hold measured points"),
    (_eff([{"tokens_per_expert": 1}]), "fraction_of_spec_bw' must be a number, got None"),
    (_eff([{"tokens_per_expert": 0, "fraction_of_spec_bw": 0.5}]), "must be positive, got 0"),
    (
        {"attention": {"decode": [{"kv_bytes": 1e6, "fraction_of_spec_bw": 0}]}},
        "attention.decode[0].fraction_of_spec_bw' must be positive",
    ),
    (
        {"collectives": [{"kernel": "broadcast", "world_size": 2, "bytes": 1, "seconds": 1}]},
        "collectives[0].kernel' must be one of all_reduce, all_to_all",
    ),
    (
        {"collectives": [{"kernel": "all_reduce", "world_size": 1, "bytes": 1, "seconds": 1}]},
        "world_size' must be an integer >= 2",
    ),
    (
        {
            "spec": {"mem_bw_bytes_per_s": H100_BW},
            "attention": {"prefill": [{"tokens": 64, "fraction_of_peak_flops": 0.5}]},
        },
        "attention.prefill needs field 'spec.bf16_flops'",
    ),
]


@pytest.mark.parametrize("change, needle", BAD)
def test_bad_schema_2_files_exit_2_in_one_line(tmp_path, change, needle):
    path = _write(tmp_path, _v2(**change))
    r = runner.invoke(app, ["latency", "mixtral-8x7b", "--gpu", "h100-sxm", "--calibration", path])
    assert r.exit_code == 2, r.output
    assert needle in r.stderr and r.stderr.count("\n") == 1


def test_nan_and_duplicate_shapes_are_refused(tmp_path):
    doc = _v2()
    doc["moe"]["efficiency"]["bf16"][0]["points"][0]["fraction_of_spec_bw"] = float("nan")
    with pytest.raises(CalibrationError, match="finite"):
        parse_calibration(doc, "cal.yaml")
    doc = _v2()
    doc["moe"]["efficiency"]["bf16"].append(dict(doc["moe"]["efficiency"]["bf16"][0]))
    with pytest.raises(CalibrationError, match="a second bf16 curve"):
        parse_calibration(doc, "cal.yaml")
    path = tmp_path / "nan.yaml"
    path.write_text(yaml.safe_dump(_v2()).replace("0.25", ".nan"))
    r = runner.invoke(
        app, ["latency", "mixtral-8x7b", "--gpu", "h100-sxm", "--calibration", str(path)]
    )
    assert r.exit_code == 2 and r.stderr.count("\n") == 1


def test_a_good_schema_2_file_runs_every_calibrated_command(tmp_path):
    path = _write(tmp_path, _v2())
    cal = load_calibration(path, resolve_gpu("h100-sxm"))
    assert cal.schema_version == 2 and len(cal.moe_curves) == 2
    base = ["latency", "mixtral-8x7b", "--gpu", "h100-sxm", "--quant", "fp8", "--json"]
    r = runner.invoke(app, [*base, "--calibration", path])
    assert r.exit_code == 0, r.output
    default = json.loads(runner.invoke(app, base).stdout)
    assert json.loads(r.stdout)["decode"]["tpot_ms"] != default["decode"]["tpot_ms"]
    prefill_step = prefill(_setup(_v2(), "fp8"), 1, 128)
    assert prefill_step.total_s > 0


# --- validate --calibration ----------------------------------------------------------------


def test_validate_with_a_calibration(tmp_path):
    path = _write(tmp_path, _v2())
    r = runner.invoke(app, ["validate", "--calibration", path, "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    cal = doc["calibration"]
    assert cal["gpu"] == "h100-sxm" and cal["records"]
    # the default predictions are validate's own for the same records
    default = {
        v["id"]: v["predicted"] for v in doc["records"] + doc["latency_references"]["records"]
    }
    for rec in cal["records"]:
        assert rec["predicted_default"] == pytest.approx(default[rec["id"]])
    assert any(rec["predicted_calibrated"] != rec["predicted_default"] for rec in cal["records"])
    assert cal["median_abs_error_default"] is not None
    # a bad file: one line, exit 2
    bad = _write(tmp_path, _v2(schema="x"), "bad.yaml")
    r = runner.invoke(app, ["validate", "--calibration", bad])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1


def test_validate_with_a_calibration_of_a_gpu_without_records(tmp_path):
    doc = _v2(device={"name": "NVIDIA GeForce RTX 4080", "catalog_id": "rtx-4080"})
    r = runner.invoke(app, ["validate", "--calibration", _write(tmp_path, doc)])
    assert r.exit_code == 0, r.output
    assert "no published record on rtx-4080" in r.stdout


def test_the_estimator_does_not_add_expert_compute_to_a_measured_curve():
    # mixtral decode at batch 1 in bf16: 2 experts of 3 x 4096 x 14336 = 176,160,768 params in
    # each of 32 layers: 2 x 176,160,768 x 2 x 32 = 22,548,578,304 FLOPs, at the measured
    # 6.5e14 bf16 GEMM rate 34.7 us: added without a curve, inside the curve with one
    no_curve = _v2(moe={"efficiency": {}})
    with_curve = decode_step(_setup(_v2()), 1, 1024)
    without = decode_step(_setup(no_curve), 1, 1024)
    flops = 2 * 176_160_768 * 2 * 32
    assert without.compute_s - with_curve.compute_s == pytest.approx(flops / 6.5e14)
    # and the experts' bytes at 0.5 x spec instead of the copy bandwidth; without a curve the
    # roofline also moves the 2 expanded rows' activations (perf.moe_activations, BF16:
    # 4096 x 10 + 14336 x 12 + 4096 x 2 / 2 = 217,088 B a row, 32 layers), which the curve holds
    expert_bytes = 2 * 32 * MIXTRAL_EXPERT_BF16
    activations = 2 * 32 * 217_088
    assert with_curve.memory_s - without.memory_s == pytest.approx(
        expert_bytes / (0.5 * H100_BW) - (expert_bytes + activations) / 3.0e12
    )
