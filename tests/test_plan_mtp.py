"""`plan --mtp K --mtp-acceptance A`: every GPU candidate is priced drafting K tokens a step with
the model's MTP layers, as `latency` prices one layout, for one batch and for a demand (with the
launch line's speculative flags), and the refusals."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.engines import resolve_engine
from moeplan.perf.latency import latency_point, make_setup
from moeplan.perf.network import Network
from moeplan.perf.speculation import Speculation
from moeplan.plan.search import Targets, plan

runner = CliRunner()
MTP = Speculation(1, 0.85)


def _plan(speculation: Speculation):
    spec = load_model("deepseek-v3")
    return plan(
        spec,
        [resolve_scheme("fp8", spec)],
        [resolve_gpu("h200")],
        8,
        1024,
        256,
        8,
        Targets(),
        resolve_engine("vllm"),
        speculation=speculation,
    )


def test_each_candidate_is_latency_s_point_with_the_same_drafting():
    """A plan candidate's figures are `latency`'s for its layout, drafting included: one formula."""
    result = _plan(MTP)
    assert result.accepted and result.speculation == MTP
    for cand in result.accepted[:3]:
        setup = make_setup(
            load_model("deepseek-v3"),
            cand.scheme,
            cand.gpu,
            cand.layout,
            resolve_engine("vllm"),
            network=Network(nodes=1),
        )
        alone = latency_point(setup, 8, 1024, 256, speculation=MTP)
        assert cand.point is not None
        assert cand.point.tpot_s == pytest.approx(alone.tpot_s)
        assert cand.point.memory.total_bytes == alone.memory.total_bytes


def test_drafting_cuts_tpot_and_costs_the_mtp_layer_s_memory():
    plain = {c.layout.describe(): c for c in _plan(Speculation()).accepted}
    drafted = {c.layout.describe(): c for c in _plan(MTP).accepted}
    assert plain.keys() == drafted.keys()
    for name, cand in drafted.items():
        base = plain[name]
        assert cand.point is not None and base.point is not None
        # 1.85 tokens a step for a step that verifies 2 tokens and runs one draft: faster,
        # but by less than the 1.85 gained (the verify step reads more experts)
        speedup = base.point.tpot_s / cand.point.tpot_s
        assert 1.2 < speedup < 1.85
        # the MTP layer's weights (and KV) sit on the GPUs while drafting
        assert cand.point.memory.total_bytes > base.point.memory.total_bytes


def _json(*args: str) -> dict:
    res = runner.invoke(app, ["plan", "deepseek-v3", "--gpu", "h200", "--quant", "fp8", *args])
    assert res.exit_code in (0, 1), res.output
    return json.loads(res.output)


def test_plan_json_reports_the_drafting_priced():
    doc = _json("--concurrency", "8", "--top", "1", "--json")
    assert doc["speculation"] == {"draft_tokens": 0, "acceptance": 0.0, "tokens_per_step": 1.0}
    drafted = _json("--concurrency", "8", "--top", "1", "--json", "--mtp", "2",
                    "--mtp-acceptance", "0.8")  # fmt: skip
    assert drafted["speculation"] == {"draft_tokens": 2, "acceptance": 0.8, "tokens_per_step": 2.44}
    assert drafted["best"]["decode"]["speculation"]["draft_tokens"] == 2
    assert drafted["best"]["decode"]["tpot_ms"] < doc["best"]["decode"]["tpot_ms"]


def test_demand_with_mtp_meets_a_per_user_speed_plain_decode_does_not():
    """64 users at 40 tok/s each on up to 8 H200s: no plain-decode deployment reaches it,
    drafting 2 tokens at 0.8 does; its launch line drafts too."""
    demand = ["--users", "64", "--min-tok-s-user", "40", "--top", "1", "--json"]
    plain = _json(*demand)
    assert plain["best"] is None
    drafted = _json(*demand, "--mtp", "2", "--mtp-acceptance", "0.8")
    assert drafted["best"] is not None and drafted["speculation"]["draft_tokens"] == 2
    assert '"num_speculative_tokens": 2' in drafted["launch"]["vllm"]
    assert "--speculative-num-steps 2" in drafted["launch"]["sglang"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--mtp", "1"], "--mtp 1 needs --mtp-acceptance"),
        (["--mtp-acceptance", "0.8"], "--mtp-acceptance needs --mtp K"),
        (["--mtp", "1", "--mtp-acceptance", "1.5"], "--mtp-acceptance must be in [0, 1]"),
        (["--mtp", "1", "--mtp-acceptance", "0.8", "--host", "epyc-9355"], "do not draft"),
        (["--mtp", "1", "--mtp-acceptance", "0.8", "--host-mem-gbps", "400"], "do not draft"),
    ],
)
def test_refused_in_one_line(args: list[str], message: str):
    res = runner.invoke(app, ["plan", "deepseek-v3", "--gpu", "h200", *args])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
