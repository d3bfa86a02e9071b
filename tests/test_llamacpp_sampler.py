"""llama.cpp's CPU sampler time per token (perf/llamacpp_sampler.py): the published points, which
settings sort the whole vocabulary in each build era, the CLI flags, the offload decode step and
the records' sampler field."""

from __future__ import annotations

import json
import math
import re

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.errors import MoeplanError
from moeplan.hardware.gpus import resolve_gpu
from moeplan.hardware.hosts import resolve_host
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.llamacpp_sampler import (
    SamplerSettings,
    chain_s,
    full_sort,
    sampler_s_per_token,
    with_sampler,
)
from moeplan.perf.offload import estimate_offload
from moeplan.perf.offload_engines import OFFLOAD_ENGINES
from moeplan.plan.validate_offload import load_offload_records

runner = CliRunner()
GPT_OSS_V = 201088
BAND = (0.6, 1.35)
"""formula / published lies within 0.61-1.32 for every point (notes sampler.md's table)."""


def _s(top_k: int = 40, top_p: float = 0.95, min_p: float = 0.05, era: str = "pr15665"):
    return SamplerSettings(top_k, top_p, min_p, era)


# (settings, vocab, hand-computed formula ms, published ms, source)
PUBLISHED = [
    # issue 8988, b3570 (pre-b5222), Apple Mac, gemma-2-2b V=256000, llama_perf sampling time:
    # top-k 0 6788 ms / 512 runs; 0.75 * 3.2e-9 * 256000 * log2(256000) = 11.04 ms
    (_s(0, era="pre-b5222"), 256000, 11.04, 13.26, "#8988 top-k 0"),
    # same, defaults (38.75 ms / 512): 0.39e-9 * 256000 = 0.0998 ms
    (_s(era="pre-b5222"), 256000, 0.0998, 0.0757, "#8988 defaults"),
    # issue 15223, b6123, Llama-3.2-1B V=128256: top-k 50 84.62 ms / 1029 = 0.082 ms;
    # 0.39e-9 * 128256 = 0.0500 ms
    (_s(50, era="b5222"), 128256, 0.0500, 0.0822, "#15223 top-k 50"),
    # top-k 0, top-p 1, min-p 0.05: 240.17 ms / 1029 = 0.233 ms; 1.1e-9 * 128256 = 0.1411 ms
    (_s(0, 1.0, 0.05, "b5222"), 128256, 0.1411, 0.2334, "#15223 k0 p1"),
    # top-k 0 (top-p 0.95): '~100x' the top-k 50 time, ~8 ms; 0.75*4.4e-9*128256*16.969 = 7.18
    (_s(0, era="b5222"), 128256, 7.18, 8.0, "#15223 k0 p.95"),
    # issue 13171, b5201 (pre-b5222), Qwen3-30B-A3B V=151936, server k0 p1 m0.1: 53.5 vs 75.5
    # t/s with top-k moved after min-p = 5.45 ms; 0.75*3.2e-9*151936*17.213 = 6.277 ms less the
    # min-p-first chain 1.1e-9 * 151936 = 0.167 ms: 6.11 ms
    (_s(0, 1.0, 0.1, "pre-b5222"), 151936, 6.11, 1e3 / 53.5 - 1e3 / 75.5, "#13171"),
    # discussion 15396 (Spyro000, Aug 2025, b5222 era), Ryzen 5 9600X, gpt-oss V=201088, top-k 0
    # min-p 0 (top-p 0.95): 35 vs 57 t/s = 11.03 ms; 0.75*4.4e-9*201088*17.617 = 11.69 ms less
    # the default chain 0.39e-9 * 201088 = 0.078 ms: 11.61 ms
    (_s(0, 0.95, 0.0, "b5222"), GPT_OSS_V, 11.61, 1e3 / 35 - 1e3 / 57, "#15396 Spyro000"),
    # PR 15704, M2 Ultra gpt-oss-120b k0 p1 m0: 70 -> 78 t/s = 1.47 ms saved, "~3x faster":
    # old = 3 x new and old - new = 1.47 ms: the fused dist ~0.73 ms; 4.7e-9 * 201088 = 0.945 ms
    (_s(0, 1.0, 0.0), GPT_OSS_V, 0.945, (1e3 / 70 - 1e3 / 78) / 2, "#15704"),
]


@pytest.mark.parametrize("settings,vocab,formula_ms,published_ms,source", PUBLISHED)
def test_published_points(settings, vocab, formula_ms, published_ms, source):
    predicted = chain_s(settings, vocab) * 1e3
    if source in ("#13171", "#15396 Spyro000"):  # a speed difference: minus the cheap chain
        cheap = _s(0, 1.0, 0.1, "b5222") if source == "#13171" else _s(era=settings.era)
        predicted -= chain_s(cheap, vocab) * 1e3
    assert predicted == pytest.approx(formula_ms, rel=0.01), source
    assert BAND[0] <= predicted / published_ms <= BAND[1], source


def test_per_token_adds_the_logit_copy_and_no_sampler_is_zero():
    s = _s()
    assert sampler_s_per_token(s, GPT_OSS_V) == pytest.approx(
        0.55e-9 * GPT_OSS_V + 0.39e-9 * GPT_OSS_V
    )
    assert sampler_s_per_token(s, GPT_OSS_V) * 1e3 == pytest.approx(0.189, abs=0.002)
    assert sampler_s_per_token(None, GPT_OSS_V) == 0.0


@pytest.mark.parametrize(
    "top_k,top_p,min_p,expected",
    [
        # era pre-b5222: top-k <= 0 means k = V, the top-k sampler sorts everything
        (0, 0.95, 0.05, {"pre-b5222": "top-k", "b5222": "top-p", "pr15665": "top-p"}),
        (0, 1.0, 0.05, {"pre-b5222": "top-k", "b5222": None, "pr15665": None}),
        (0, 1.0, 0.0, {"pre-b5222": "top-k", "b5222": "dist", "pr15665": "dist"}),
        (0, 0.95, 0.0, {"pre-b5222": "top-k", "b5222": "top-p", "pr15665": "top-p"}),
        (40, 0.95, 0.05, {"pre-b5222": None, "b5222": None, "pr15665": None}),
        (100, 1.0, 0.0, {"pre-b5222": None, "b5222": None, "pr15665": None}),
        (GPT_OSS_V, 1.0, 0.0, {"pre-b5222": "top-k", "b5222": "top-k", "pr15665": "top-k"}),
    ],
)
def test_which_step_sorts_the_vocabulary(top_k, top_p, min_p, expected):
    for era, step in expected.items():
        assert full_sort(_s(top_k, top_p, min_p, era), GPT_OSS_V) == step, era


def test_era_costs_at_gpt_oss_vocabulary():
    vl = GPT_OSS_V * math.log2(GPT_OSS_V)
    k0 = {era: chain_s(_s(0, era=era), GPT_OSS_V) for era in ("pre-b5222", "b5222", "pr15665")}
    assert k0["pre-b5222"] == pytest.approx(0.75 * 3.2e-9 * vl)  # ~8.5 ms
    assert k0["b5222"] == pytest.approx(0.75 * 4.4e-9 * vl)  # ~11.7 ms
    # after PR 15665 top-p bucket-sorts the top 256 only (wider nuclei priced 0: a lower bound)
    assert k0["pr15665"] == pytest.approx(9.2e-9 * GPT_OSS_V)  # ~1.85 ms
    assert chain_s(_s(0, 1.0, 0.0, "b5222"), GPT_OSS_V) == pytest.approx(0.75 * 4.7e-9 * vl)
    assert chain_s(_s(0, 1.0, 0.0), GPT_OSS_V) == pytest.approx(4.7e-9 * GPT_OSS_V)
    # the default top-k 40 costs the same in every era
    assert len({chain_s(_s(era=e), GPT_OSS_V) for e in ("pre-b5222", "b5222", "pr15665")}) == 1


def test_top_k_above_128_sorts_k_candidates():
    # llama.cpp partial_sorts up to 128 candidates; above, its 128-bucket sort orders the top k:
    # the price grows with k and meets the whole-vocabulary sort at k = V (no jump at V - 1)
    for era in ("pre-b5222", "b5222", "pr15665"):
        cut = chain_s(_s(40, era=era), GPT_OSS_V)
        assert chain_s(_s(128, era=era), GPT_OSS_V) == cut
        prices = [
            chain_s(_s(k, era=era), GPT_OSS_V) for k in (129, 1000, 10**4, 10**5, GPT_OSS_V - 1)
        ]
        assert prices[0] == cut and prices == sorted(prices)
        whole = chain_s(_s(GPT_OSS_V, era=era), GPT_OSS_V)
        assert prices[-1] == pytest.approx(whole, rel=1e-4)
        assert 20 * cut < chain_s(_s(10**5, era=era), GPT_OSS_V) < whole


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"top_p": "0.9"}, "--top-p"),
        ({"min_p": True}, "--min-p"),
        ({"top_k": -1}, "--top-k"),
        ({"top_p": 1.5}, "--top-p"),
        ({"top_p": -0.1}, "--top-p"),
        ({"min_p": 1.01}, "--min-p"),
        ({"era": "b9999"}, "era"),
    ],
)
def test_settings_refuse_bad_values(kwargs, message):
    with pytest.raises(MoeplanError, match=message):
        SamplerSettings(**kwargs)


LAT = ["latency", "gpt-oss-120b", "--gpu", "rtx-4090", "--host", "ryzen-9-9950x"]


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--offload", "experts", "--top-p", "1.5"], "--top-p"),
        (["--offload", "experts", "--top-p", "-0.2"], "top-p"),
        (["--offload", "experts", "--min-p", "2"], "--min-p"),
        (["--offload", "experts", "--min-p", "-0.1"], "min-p"),
        (["--offload", "experts", "--top-k", "-1"], "top-k"),
        (["--offload", "experts", "--sampler-era", "old"], "era"),
        (["--offload", "experts", "--engine", "ktransformers", "--top-k", "0"], "GPU"),
        (["--offload", "experts", "--engine", "ktransformers", "--no-sampler"], "GPU"),
        (["--offload", "experts", "--no-sampler", "--top-k", "0"], "--no-sampler"),
        (["--top-k", "0"], "--offload"),
        (["--no-sampler"], "--offload"),
        (["--offload", "experts", "--top-k", "2147483648"], "--top-k"),
    ],
)
def test_cli_bad_sampler_input_is_one_line_exit_2(extra, needle):
    r = runner.invoke(app, [*LAT, *extra])
    assert r.exit_code == 2, r.output
    assert len(r.output.strip().splitlines()) == 1, r.output
    assert needle in r.output


def _decode(extra: list[str]) -> dict:
    r = runner.invoke(app, [*LAT, "--offload", "experts", "--json", *extra])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["decode"]


def test_cli_sampler_in_the_decode_parts():
    default = _decode([])
    assert default["sampler_ms"] == pytest.approx(0.189, abs=0.002)
    assert default["sampler"] == "top-k 40, top-p 0.95, min-p 0.05, build pr15665"
    bench = _decode(["--no-sampler"])
    assert bench["sampler_ms"] == 0 and bench["sampler"] is None
    assert default["step_ms"] - bench["step_ms"] == pytest.approx(0.189, abs=0.002)
    old = _decode(["--top-k", "0", "--sampler-era", "b5222"])
    assert old["sampler_ms"] == pytest.approx(0.11 + 11.69, abs=0.02)
    kt = runner.invoke(app, [*LAT, "--offload", "experts", "--engine", "ktransformers", "--json"])
    assert json.loads(kt.stdout)["decode"]["sampler_ms"] == 0


def test_decode_step_includes_the_sampler_for_llamacpp_only():
    spec = load_model("gpt-oss-120b")
    scheme = resolve_scheme("native", spec)
    gpu, host = resolve_gpu("rtx-4090"), resolve_host("ryzen-9-9950x")
    llama = OFFLOAD_ENGINES["llamacpp"]
    per_token = sampler_s_per_token(SamplerSettings(), spec.vocab_size)
    for batch in (1, 4):
        with_s = estimate_offload(spec, scheme, gpu, host, llama, batch=batch).speed
        bench = with_sampler(llama, None)
        without = estimate_offload(spec, scheme, gpu, host, bench, batch=batch).speed
        assert with_s is not None and without is not None
        assert with_s.sampler_s == pytest.approx(batch * per_token)  # slots sampled in turn
        assert with_s.decode_step_s - without.decode_step_s == pytest.approx(batch * per_token)
    kt = OFFLOAD_ENGINES["ktransformers"]
    assert kt.sampler is None
    speed = estimate_offload(spec, scheme, gpu, host, kt).speed
    assert speed is not None and speed.sampler_s == 0.0
    with pytest.raises(MoeplanError, match="GPU"):
        with_sampler(kt, SamplerSettings())
    slow = with_sampler(llama, SamplerSettings(0, era="b5222"))
    slow_speed = estimate_offload(spec, scheme, gpu, host, slow).speed
    assert slow_speed is not None
    assert slow_speed.sampler_s > 0.01  # ~11.8 ms: a whole-vocabulary std::sort every token


BENCH = re.compile(r"llama-bench|batched-bench|sweep-bench", re.IGNORECASE)


def test_every_benchmark_record_has_no_sampler():
    """llama-bench, llama-batched-bench and sweep-bench decode a random next token (llama.cpp
    tools/llama-bench test_gen: std::rand() % n_vocab; ubergarm/llama.cpp@1c76ee82
    examples/sweep-bench/sweep-bench.cpp likewise): their records must say sampler: none."""
    missing = [
        rec["id"]
        for rec in load_offload_records()
        if BENCH.search(str(rec.get("engine", "")))
        and "skip" not in rec.get("moeplan", {})
        and rec["moeplan"].get("sampler") != "none"
    ]
    assert not missing, missing


def test_records_sampler_only_on_llamacpp():
    for rec in load_offload_records():
        how = rec.get("moeplan", {})
        if "sampler" in how:
            assert how["engine"] == "llamacpp", rec["id"]


def test_record_sampler_mapping_is_checked():
    from moeplan.plan.validate_offload import record_sampler

    assert record_sampler("none") is None
    assert record_sampler({"top_k": 0, "era": "b5222"}) == SamplerSettings(0, era="b5222")
    with pytest.raises(MoeplanError, match="unknown key"):
        record_sampler({"top_k": 40, "topp": 0.9})
    with pytest.raises(MoeplanError, match="--top-p"):
        record_sampler({"top_p": "0.9"})


def test_cli_sampler_era_is_case_free():
    lower = _decode(["--top-k", "0", "--sampler-era", "b5222"])
    upper = _decode(["--top-k", "0", "--sampler-era", "B5222"])
    assert upper["sampler_ms"] == lower["sampler_ms"]
