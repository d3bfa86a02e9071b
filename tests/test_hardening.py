"""Bad input never loses a file, crashes or hangs: the one loader's guards, the output rules
and the exit codes (0 ok, 1 verdict, 2 bad input, 3 internal error)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.errors import MoeplanError
from moeplan.yamlio import MAX_DEPTH, load_document, load_json_text, load_yaml_text

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def one_line_error(r, code: int = 2) -> str:
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    return r.stderr


BUDGET = {
    "name": "b",
    "model": "mixtral-8x7b",
    "quant": "int4",
    "gpu": "h100-sxm",
    "gpus": 1,
    "limits": {"max_memory_fraction": 0.9},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("a: {b: 1, b: 2}\n", "duplicate key 'b'"),
        ("a: .inf\n", "non-finite"),
        ("a: .nan\n", "non-finite"),
        ("a: &x [1]\nb: *x\n", "aliases"),
        # billion laughs: refused at the first alias, before anything is expanded
        ("a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\n", "aliases"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested deeper"),
        ("[" * 200_000, "nest"),  # used to overflow libyaml's C stack (signal 11)
        # int() refuses more than 4,300 digits with a ValueError (was an internal error, exit 3)
        ("a: " + "1" * 5000, "5,000 digits is out of range"),
        ("a: 0x" + "f" * 200, "202 digits is out of range"),
    ],
)
def test_yaml_guards(text, expected):
    with pytest.raises(MoeplanError, match=expected):
        load_yaml_text(text, "f.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"a": NaN}', "non-finite"),
        ('{"a": -Infinity}', "non-finite"),
        ('{"a": 1e999}', "out of range"),  # float('1e999') is inf
        ("[" * 200_000, "nested deeper"),  # used to raise RecursionError
        ('{"hidden_size": ' + "9" * 5000 + "}", "5,000 digits is out of range"),
        ('{"a": -' + "1" * 101 + "}", "101 digits is out of range"),
    ],
)
def test_json_guards(text, expected):
    with pytest.raises(MoeplanError, match=expected):
        load_json_text(text, "f.json")


def test_depth_at_the_limit_and_brackets_in_strings_are_fine():
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert load_yaml_text(nested, "f") is not None
    assert load_json_text(nested, "f") is not None
    assert load_json_text('{"a": "[[[[]"}', "f") == {"a": "[[[[]"}
    big = "9" * 100  # MAX_INT_DIGITS digits still read
    assert load_json_text(f'{{"a": -{big}}}', "f") == {"a": -int(big)}
    read = load_yaml_text(f"a: {big}\nb: 0x1f\nc: 1_000", "f")
    assert read == {"a": int(big), "b": 31, "c": 1000}


def test_unreadable_and_non_utf8_files(tmp_path):
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(MoeplanError, match="not UTF-8"):
        load_document(bad)
    with pytest.raises(MoeplanError, match="is a folder"):
        load_document(tmp_path)


@pytest.mark.parametrize(
    "args",
    [
        ["size", ""],
        ["size", "~nope/config.json"],
        ["size", "x" * 300],
        ["check", "/nonexistent/b.yaml"],
    ],
)
def test_odd_names_are_one_line(args):
    one_line_error(run(*args))


def test_cli_reads_files_through_the_loader(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("budgets: " + "[" * 100_000)
    assert "nest" in one_line_error(run("check", str(deep)))
    dup = tmp_path / "config.json"
    dup.write_text('{"model_type": "mixtral", "model_type": "qwen3_moe"}')
    assert "duplicate key" in one_line_error(run("size", str(dup)))
    dup.write_text('{"model_type": "mixtral", "hidden_size": ' + "4" * 5000 + "}")
    assert "5,000 digits" in one_line_error(run("size", str(dup)))


def _budget(tmp_path, name="budgets.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"budgets": [BUDGET]}))
    return path


def test_check_output_never_overwrites_an_input_or_an_existing_file(tmp_path):
    budget = _budget(tmp_path)
    before = budget.read_text()
    assert "also an input" in one_line_error(run("check", str(budget), "--output", str(budget)))
    link = tmp_path / "hardlink.yaml"
    os.link(budget, link)
    assert "also an input" in one_line_error(run("check", str(budget), "--output", str(link)))
    report = tmp_path / "report.txt"
    report.write_text("keep me")
    assert "--force" in one_line_error(run("check", str(budget), "--output", str(report)))
    assert report.read_text() == "keep me" and budget.read_text() == before
    assert run("check", str(budget), "--output", str(report), "--force").exit_code == 0
    assert "b" in report.read_text() and not list(tmp_path.glob(".*.tmp"))


def test_check_output_refuses_the_model_config_a_budget_reads(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"model_type": "mixtral"}')
    budget = tmp_path / "b.yaml"
    budget.write_text(yaml.safe_dump({"budgets": [BUDGET | {"model": "config.json"}]}))
    assert "also an input" in one_line_error(run("check", str(budget), "--output", str(config)))
    assert config.read_text() == '{"model_type": "mixtral"}'


def test_check_output_to_a_folder_or_missing_folder(tmp_path):
    budget = _budget(tmp_path)
    assert "folder" in one_line_error(run("check", str(budget), "--output", str(tmp_path)))
    missing = tmp_path / "no" / "r.txt"
    assert "does not exist" in one_line_error(run("check", str(budget), "--output", str(missing)))


def test_internal_error_exits_3_not_1(monkeypatch):
    import moeplan.memory.sizing as sizing

    def boom(*a, **k):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(sizing, "size_model", boom)
    r = run("size", "mixtral-8x7b", "--quant", "int4")
    err = one_line_error(r, 3)
    assert "internal error" in err and "report" in err and "ZeroDivisionError" in err
    r = run("--debug", "size", "mixtral-8x7b", "--quant", "int4")
    assert r.exit_code == 3 and "Traceback" in r.stderr
    monkeypatch.setenv("MOEPLAN_DEBUG", "1")
    r = run("size", "mixtral-8x7b", "--quant", "int4")
    assert r.exit_code == 3 and "Traceback" in r.stderr


def test_help_documents_exit_codes():
    out = run("--help").stdout
    assert "Exit codes: 0 ok; 1 a budget exceeded or nothing fits; 2 bad input; 3" in out


# --- domains, checked once at the edge (moeplan/cli/common.py DOMAINS, model/fields.py) ---


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["size", "mixtral-8x7b", "--usable-fraction", "nan"], "finite"),
        (["size", "mixtral-8x7b", "--usable-fraction", "1.5"], "(0, 1]"),
        (["size", "mixtral-8x7b", "--usable-fraction", "5"], "(0, 1]"),
        (["size", "mixtral-8x7b", "--usable-fraction", "0"], "(0, 1]"),
        (["latency", "mixtral-8x7b", "--gpu", "h100-sxm", "--network-gbps", "nan"], "finite"),
        (["latency", "mixtral-8x7b", "--gpu", "h100-sxm", "--batch", "1,,8"], "--batch"),
        (["plan", "mixtral-8x7b", "--gpu", "h100-sxm", "--max-gpus", "100000"], "at most 4096"),
        (["plan", "mixtral-8x7b", "--gpu", "h100-sxm", "--max-gpus", "1e12"], "max-gpus"),
        (["size", "mixtral-8x7b", "--context", str(1 << 40)], "at most"),
    ],
)
def test_option_domains(args, needle):
    assert needle in one_line_error(run(*args))


def test_dtype_names_are_case_free():
    lower = run("size", "mixtral-8x7b", "--kv-quant", "fp8", "-q", "int4", "--json")
    upper = run("size", "mixtral-8x7b", "--kv-quant", "FP8", "-q", "INT4", "--json")
    assert upper.exit_code == 0 and upper.stdout == lower.stdout


BASE_CONFIG = {
    "model_type": "mixtral",
    "hidden_size": 512,
    "intermediate_size": 1024,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "num_hidden_layers": 2,
    "num_local_experts": 4,
    "num_experts_per_tok": 2,
    "vocab_size": 1000,
}


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"model_type": ["mixtral"]}, "'model_type' must be a string"),
        ({"quantization_config": "fp8"}, "'quantization_config' must be a mapping"),
        ({"num_experts_per_tok": 9}, "top-k 9"),  # 9 of 4 experts: active above total
        ({"tie_word_embeddings": "false"}, "'tie_word_embeddings' must be true/false"),
        ({"num_hidden_layers": 1e9}, "'num_hidden_layers'"),  # used to hang
        ({"hidden_size": 10**30}, "'hidden_size'"),  # used to raise OverflowError
    ],
)
def test_config_fields_are_typed_and_bounded(tmp_path, change, needle):
    path = tmp_path / "config.json"
    path.write_text(__import__("json").dumps(BASE_CONFIG | change))
    assert needle in one_line_error(run("size", str(path)))
    assert needle in one_line_error(run("show", str(path)))


# --- budgets, calibrations, size verdicts ---


def _write_budgets(tmp_path, budgets, name="b.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"budgets": budgets}))
    return str(path)


def test_budget_names_are_case_free(tmp_path):
    path = _write_budgets(tmp_path, [BUDGET | {"kv_quant": "FP8", "quant": "INT4"}])
    assert run("check", path).exit_code == 0


def test_empty_budget_list_is_refused(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text("budgets: []\n")
    assert "empty" in one_line_error(run("check", str(path)))


def test_model_folder_resolves_against_the_budget_file(tmp_path, monkeypatch):
    folder = tmp_path / "tinydir"
    folder.mkdir()
    (folder / "config.json").write_text(__import__("json").dumps(BASE_CONFIG))
    path = _write_budgets(tmp_path, [BUDGET | {"model": "tinydir", "quant": "bf16"}])
    monkeypatch.chdir("/")
    r = run("check", path, "--format", "json")
    assert r.exit_code == 0, r.stderr


def test_invalid_calibration_is_caught_without_latency_limits(tmp_path):
    cal = tmp_path / "cal.yaml"
    cal.write_text(
        "schema: moeplan-calibration/1\nmeasured: {copy_bandwidth_bytes_per_s: 1.0e12}\nmoe: []\n"
    )
    path = _write_budgets(tmp_path, [BUDGET | {"calibration": "cal.yaml"}])
    err = one_line_error(run("check", path))
    assert path in err and "budget 'b'" in err and "'moe' must be a mapping" in err


def test_layout_errors_name_file_and_budget(tmp_path):
    path = _write_budgets(tmp_path, [BUDGET | {"gpu": "m2-ultra", "gpus": 2}])
    err = one_line_error(run("check", path))
    assert path in err and "budget 'b'" in err and "no GPU interconnect" in err


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"moe": []}, "'moe' must be a mapping"),
        ({"device": "h100"}, "'device' must be a mapping"),
        ({"measured": {"copy_bandwidth_bytes_per_s": 1e12, "gemm_flops": [1]}}, "gemm_flops"),
        ({"moe": {"curves": {"x": [{"fraction_of_spec_bw": 0.5}]}}}, "tokens"),
        ({"moe": {"curves": {"x": [{"tokens": 0, "fraction_of_spec_bw": 0.5}]}}}, ">= 1"),
        ({"moe": {"curves": {"x": [{"tokens": 8, "fraction_of_spec_bw": 0}]}}}, "positive"),
    ],
)
def test_malformed_calibrations(tmp_path, doc, needle):
    cal = {"schema": "moeplan-calibration/1", "measured": {"copy_bandwidth_bytes_per_s": 1e12}}
    path = tmp_path / "cal.yaml"
    path.write_text(yaml.safe_dump(cal | doc))
    args = ["latency", "mixtral-8x7b", "--gpu", "h100-sxm", "-q", "int4"]
    assert needle in one_line_error(run(*args, "--calibration", str(path)))


def test_nan_in_a_calibration_is_not_called_negative():
    from moeplan.errors import CalibrationError
    from moeplan.perf.calibration import parse_calibration

    doc = {"schema": "moeplan-calibration/1", "measured": {"copy_bandwidth_bytes_per_s": 1e12}}
    with pytest.raises(CalibrationError, match="finite"):
        parse_calibration(doc | {"x": float("nan")}, "cal.yaml")


def test_size_says_does_not_fit():
    # bf16 Mixtral 8x7B: 93.4 GB of weights > 0.9 x 85.5 GB of one H100 SXM
    r = run("size", "mixtral-8x7b", "-q", "bf16", "--gpu", "h100-sxm", "--gpus", "1", "--json")
    assert r.exit_code == 0 and __import__("json").loads(r.stdout)["fits"] is False
    table = run("size", "mixtral-8x7b", "--gpu", "h100-sxm", "--gpus", "1").stdout
    assert "bf16 does not fit at TP1" in table
    r = run("size", "mixtral-8x7b", "-q", "int4", "--gpu", "h100-sxm", "--gpus", "1", "--json")
    assert __import__("json").loads(r.stdout)["fits"] is True


def test_m2_ultra_size_and_latency_agree():
    for cmd in ("size", "latency"):
        err = one_line_error(
            run(cmd, "mixtral-8x7b", "-q", "int4", "--gpu", "m2-ultra", "--gpus", "2")
        )
        assert "no GPU interconnect" in err


def test_output_to_a_character_device_writes_in_place(tmp_path):
    budget = _budget(tmp_path)
    # /dev/null is written, never renamed over (that would replace the device with a file)
    assert run("check", str(budget), "--output", "/dev/null").exit_code == 0
    assert Path("/dev/null").is_char_device()


def test_empty_text_options_and_gpu_lists_are_refused():
    assert "--gpu must not be empty" in one_line_error(run("size", "mixtral-8x7b", "--gpu", ""))
    err = one_line_error(run("plan", "mixtral-8x7b", "--gpu", ",,"))
    assert "comma-separated GPU ids" in err


def test_a_name_with_a_newline_stays_one_line():
    one_line_error(run("size", "a\nb"))


def test_unmodelled_quant_method_show_and_size_levels(tmp_path, tiny_config):
    """quant_method bitsandbytes: show still shows the parameters (bytes at bf16, said so) and
    size without --quant lists the main levels, leaving native out with a note; exit 0."""
    cfg = {**tiny_config, "quantization_config": {"quant_method": "bitsandbytes"}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    runner = CliRunner()
    shown = runner.invoke(app, ["show", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "'bitsandbytes' is not modelled" in shown.output
    sized = runner.invoke(app, ["size", str(path), "--json"])
    assert sized.exit_code == 0, sized.output
    doc = json.loads(sized.stdout)
    assert "native" not in [level["quant"] for level in doc["levels"]]
    assert any("bitsandbytes" in n for n in doc["notes"])
    planned = runner.invoke(app, ["plan", str(path), "--gpu", "h100"])  # 'any' skips native
    assert planned.exit_code in (0, 1) and "Traceback" not in planned.output, planned.output
    explicit = runner.invoke(app, ["size", str(path), "--quant", "native"])
    assert explicit.exit_code == 2 and "pass --quant" in explicit.stderr


def test_model_config_keeps_non_finite_constants_out_of_every_number(tmp_path, tiny_config):
    """A model's config.json may hold Infinity where Python wrote it (Nemotron-H's
    "time_step_limit": [0.0, Infinity]): a field no reader uses passes, a field read as a number
    is one line naming the value, and no other file accepts the constant."""
    folder = tmp_path / "m"
    folder.mkdir()
    config = folder / "config.json"
    text = json.dumps({**tiny_config, "time_step_limit": [0.0, 1.5]}).replace("1.5", "Infinity")
    config.write_text(text)
    for target in (config, folder):
        r = run("size", str(target), "--json")
        assert r.exit_code == 0, r.stderr
        assert "Infinity" not in r.stdout and "NaN" not in r.stdout
    for key, constant in (("hidden_size", "Infinity"), ("num_experts_per_tok", "NaN")):
        config.write_text(json.dumps({**tiny_config, key: 1.5}).replace("1.5", constant))
        assert f"'{key}' must be an integer, got {constant}" in one_line_error(
            run("size", str(config))
        )
    with pytest.raises(MoeplanError, match="non-finite"):
        load_document(config)  # any other JSON file (calibrations, prices) refuses it
