"""Published config.json files of the 2026 families (tests/data/configs-aic, copies from
ai-dynamo/aiconfigurator's model_configs; README there): DeepSeek-V4 (deepseek_v4 and SGLang's
deepseek_ref), Step-3.7-Flash (a flattened step3p7 copy, and the hub's own field names),
MiniMax-M3 (the minimax_m3 text decoder and the minimax_m3_vl shell) and GLM-5.2 (with and
without layer_types "deepseek_sparse_attention"). Totals are transformers 5.23.0's numel of the
same fields built on torch's meta device (tools/transformers_survey.py --diff, or the modeling
class named per test); active parameters and cache bytes by hand from the modeling shapes; the
publishers' figures at their rounding. Needs neither torch nor transformers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moeplan.errors import SpecError
from moeplan.memory.cache import kv_bytes_per_token_all_layers
from moeplan.model.hf_config import spec_from_config
from moeplan.model.params import count_params
from moeplan.model.quant_config import native_quant_of

DATA = Path(__file__).parent / "data" / "configs-aic"


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}_config.json").read_text())


def counts(cfg: dict, name: str = "c"):
    return count_params(spec_from_config(cfg, name))


def same_language_model(a: dict, b: dict) -> None:
    """Two configs of one model: the same spec, quantization and name aside."""
    sa, sb = spec_from_config(a, "a"), spec_from_config(b, "a")
    assert sa.layers == sb.layers and sa.attention == sb.attention and sa.moe == sb.moe
    assert count_params(sa).breakdown == count_params(sb).breakdown
    assert count_params(sa).active == count_params(sb).active
    assert kv_bytes_per_token_all_layers(sa) == kv_bytes_per_token_all_layers(sb)


# -- DeepSeek-V4 (modeling_deepseek_v4.py) ----------------------------------------------------
# transformers' numel of DeepseekV4ForCausalLM built from each deepseek-ai config.json
V4_TOTAL = {"Flash": 284_332_240_471, "Pro": 1_572_997_201_763}
V4_DEFAULT_TOTAL = 284_325_879_255  # DeepseekV4Config() (tests/data/configs-tf/deepseek_glm)


@pytest.mark.parametrize("size", ["Flash", "Pro"])
def test_deepseek_ref_reads_as_deepseek_v4(size):
    """SGLang's FP8 release names the config deepseek_ref: the same fields as deepseek-ai's
    deepseek_v4 config less tie_word_embeddings / attention_bias / mlp_bias (false either way)."""
    sgl = load(f"sgl-project--DeepSeek-V4-{size}-FP8")
    ref = load(f"deepseek-ai--DeepSeek-V4-{size}")
    assert sgl["model_type"] == "deepseek_ref" and ref["model_type"] == "deepseek_v4"
    same_language_model(sgl, ref)
    assert counts(sgl).total == counts(ref).total == V4_TOTAL[size]


@pytest.mark.parametrize("size", ["Flash", "Pro"])
def test_deepseek_v4_published_active_by_hand(size):
    """Active = every weight but the input embedding and the routed experts a token skips:
    (E - k) SwiGLU experts [3 x hidden x moe_intermediate_size] on each of the 43 / 61 layers."""
    c = load(f"deepseek-ai--DeepSeek-V4-{size}")
    h, V, n = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"]
    E, k, w = c["n_routed_experts"], c["num_experts_per_tok"], c["moe_intermediate_size"]
    got = counts(c)
    assert got.active == V4_TOTAL[size] - V * h - n * (E - k) * 3 * h * w
    # the model card: "DeepSeek-V4-Flash with 284B parameters (13B activated)", "DeepSeek-V4-Pro
    # with 1.6T parameters (49B activated)" (huggingface.co/deepseek-ai/DeepSeek-V4-Flash);
    # both without the MTP layer, which the config does not shape
    total_b, active_b = {"Flash": (284, 13), "Pro": (1600, 49)}[size]
    scale = 1e9 if size == "Flash" else 1e11
    assert round(got.total / scale) * (scale / 1e9) == total_b
    assert round(got.active / 1e9) == active_b


def test_deepseek_v4_flash_published_vs_default_config():
    """The published Flash config lays out 2 sliding-only + 21 CSA + 20 HCA layers
    (compress_ratios 0, 0, then 4 / 128 alternating); DeepseekV4Config()'s default has 20 CSA +
    23 HCA. The difference is one CSA compressor less three HCA ones (DeepseekV4CSACompressor
    with its indexer, DeepseekV4HCACompressor)."""
    c = load("deepseek-ai--DeepSeek-V4-Flash")
    ratios = c["compress_ratios"][: c["num_hidden_layers"]]  # a trailing entry for the MTP layer
    assert (ratios.count(0), ratios.count(4), ratios.count(128)) == (2, 21, 20)
    h, d, ql = c["hidden_size"], c["head_dim"], c["q_lora_rank"]
    di, ih = c["index_head_dim"], c["index_n_heads"]
    # HCA (rate 128): kv_proj and gate_proj [h, d], position_bias [128, d], kv_norm [d]
    hca = 2 * h * d + 128 * d + d
    # CSA (rate 4, overlapping windows: 2 x d wide): kv_proj, gate_proj [h, 2d], position_bias
    # [4, 2d], kv_norm [d]; its indexer the same at index_head_dim plus q_b [q_lora, heads x di]
    # and weights_proj [h, heads]
    indexer = 2 * h * 2 * di + 4 * 2 * di + di + ql * ih * di + h * ih
    csa = 2 * h * 2 * d + 4 * 2 * d + d + indexer
    assert csa - 3 * hca == 6_361_216
    assert V4_TOTAL["Flash"] - V4_DEFAULT_TOTAL == csa - 3 * hca


def test_deepseek_v4_native_formats():
    """deepseek-ai: block FP8 with expert_dtype fp4 routed experts (E2M1 + ue8m0 per 32 values:
    MXFP4's layout); SGLang's FP8 release: block FP8 throughout; NVIDIA's: NVFP4 experts."""
    assert native_quant_of(load("deepseek-ai--DeepSeek-V4-Flash")) == (
        "fp8-block,routed_experts=mxfp4"
    )
    assert native_quant_of(load("sgl-project--DeepSeek-V4-Flash-FP8")) == "fp8-block"
    assert native_quant_of(load("nvidia--DeepSeek-V4-Flash-NVFP4")) == (
        "fp8-block,routed_experts=nvfp4"
    )


# -- Step-3.7-Flash (modeling_step3p7.py) -----------------------------------------------------
def step_active(c: dict, sliding_heads: int) -> int:
    """Step3p7TextModel per token: lm_head; q, k, v, o, q/k RMSNorm(head_dim) and g_proj
    [hidden, heads] per layer at that layer's head count; 3 dense SwiGLU layers; 42 MoE layers
    of top-k experts, one shared expert, router [E, hidden] + correction bias; 2 norms a layer
    and the final norm."""
    h, d, kv, V = c["hidden_size"], c["head_dim"], 8, c["vocab_size"]
    E, k, w, dense_w = 288, 8, c["moe_intermediate_size"], c["intermediate_size"]

    def attn(heads: int) -> int:
        return 2 * h * heads * d + 2 * h * kv * d + 2 * d + h * heads

    types = c["layer_types"][: c["num_hidden_layers"]]
    n_sliding = types.count("sliding_attention")
    attention = (len(types) - n_sliding) * attn(64) + n_sliding * attn(sliding_heads)
    moe = 42 * (k * 3 * h * w + 3 * h * c["share_expert_dim"] + h * E + E)
    return V * h + attention + 3 * 3 * h * dense_w + moe + (2 * len(types) + 1) * h


def hub_step_config() -> dict:
    """The flattened copy in the published checkpoint's own spelling: a step3p7 wrapper whose
    step3p5 text_config names kv heads num_attention_groups, experts moe_num_experts / moe_top_k,
    MoE layers moe_layers_enum 3..44 (the released config's: the 3 MTP layers past the 45 are
    dense), layer_types padded with the MTP layers, and the sliding layers' 96 heads in
    attention_other_setting."""
    flat = load("stepfun-ai--Step-3.7-Flash")
    renamed = ("num_key_value_heads", "num_experts", "num_experts_per_tok", "first_k_dense_replace")
    text = {k: v for k, v in flat.items() if k not in (*renamed, "architectures", "model_type")}
    text |= {
        "model_type": "step3p5",
        "num_attention_groups": 8,
        "moe_num_experts": 288,
        "moe_top_k": 8,
        "moe_layers_enum": ",".join(str(i) for i in range(3, 45)),
        "layer_types": flat["layer_types"] + ["full_attention"] * 3,
        "attention_other_setting": {
            "attention_type": "sliding_attention",
            "num_attention_heads": 96,
            "num_attention_groups": 8,
            "head_dim": 128,
        },
        "use_head_wise_attn_gate": True,
        "use_qk_norm": True,
    }
    return {"model_type": "step3p7", "text_config": text}


def test_step3p7_flattened_copy():
    """The flattened step3p7 copy (num_experts, first_k_dense_replace, n_shared_experts,
    use_moe_router_bias; no text_config): 195,844,508,736 = Step3p7TextModel numel plus the
    lm_head [vocab, hidden] of Step3p7TextConfig built from the same fields. It names no
    sliding head count, so sliding layers keep num_attention_heads (64), and says so."""
    c = load("stepfun-ai--Step-3.7-Flash")
    got = counts(c)
    assert got.total == 195_844_508_736
    assert got.active == step_active(c, 64) == 10_347_744_320
    spec = spec_from_config(c, "s")
    assert any("96 query heads" in note for note in spec.reader_notes)
    assert kv_bytes_per_token_all_layers(spec) == 12 * 2 * 8 * 128 * 2 + 33 * 2 * 8 * 128 * 2
    same_language_model(c, load("stepfun-ai--Step-3.7-Flash-FP8"))


def test_step3p7_hub_names():
    """The hub's names read to the published model: 196,956,130,368 = transformers' numel of
    Step3p7TextConfig built from these fields (its attribute_map and __post_init__ take
    num_attention_groups, moe_num_experts, moe_top_k, moe_layers_enum, attention_other_setting)
    plus the lm_head. Each of the 33 sliding layers carries 32 more heads than the copy reads:
    q and o [hidden, 32 x head_dim] and g_proj [hidden, 32]."""
    cfg = hub_step_config()
    got = counts(cfg)
    flat = load("stepfun-ai--Step-3.7-Flash")
    assert got.total == 196_956_130_368
    assert got.total - counts(flat).total == 33 * (2 * 4096 * 32 * 128 + 4096 * 32)
    assert got.active == step_active(flat, 96) == 11_459_365_952
    assert not spec_from_config(cfg, "s").reader_notes
    # StepFun: "a 196B language backbone with a 1.8B perception encoder", "~11B active"
    # (the vision tower and the 3 MTP layers are not in this text config)
    assert int(got.total / 1e9) == 196 and round(got.active / 1e9) == 11


def test_step3p5_mtp_layers():
    """The released checkpoints hold num_nextn_predict_layers (3) MTP layers as
    model.layers.{45,46,47} (vLLM Step3p5MTP; llama.cpp's Step35Model appends them): each
    enorm + hnorm, eh_proj [2 x hidden, hidden], a full-attention decoder layer with a dense
    MLP (moe_layers_enum stops at 44) and the shared head's norm; its output is the lm_head.
    Counted as mtp, outside the total (196B stays the published figure)."""
    h = 4096
    attention = 2 * h * 64 * 128 + 2 * h * 8 * 128 + 2 * 128 + h * 64
    layer = attention + 3 * h * 11264 + 2 * h + 2 * h * h + 3 * h
    for cfg in (hub_step_config(), load("stepfun-ai--Step-3.7-Flash")):
        got = counts(cfg)
        assert got.breakdown["mtp"] == 3 * layer == 743_240_448
        assert got.total_with_mtp == got.total + 3 * layer
    sparse = hub_step_config()
    sparse["text_config"]["moe_layers_enum"] = ",".join(str(i) for i in range(3, 48))
    dense = spec_from_config(hub_step_config(), "s").mtp_blocks
    assert [b.ffn for b in dense] == ["dense"]
    assert [b.ffn for b in spec_from_config(sparse, "s").mtp_blocks] == ["moe"]
    no_mtp = {**load("stepfun-ai--Step-3.7-Flash"), "num_nextn_predict_layers": 0}
    assert counts(no_mtp).breakdown["mtp"] == 0


def test_step3p7_refuses_more_shared_experts():
    with pytest.raises(SpecError, match="n_shared_experts"):
        spec_from_config({**load("stepfun-ai--Step-3.7-Flash"), "n_shared_experts": 2}, "s")


# -- MiniMax-M3 (modeling_minimax_m3_vl.py) ---------------------------------------------------
M3_TOTAL = 426_174_572_928  # MiniMaxM3VLForCausalLM numel of either text config
M3_TOWER = 865_567_232  # MiniMaxM3SparseForConditionalGeneration numel less the text model


def test_minimax_m3_text_decoder_equals_vl_shell():
    """minimax_m3 (the text decoder form: first_k_dense_replace, moe_intermediate_size,
    num_nextn_predict_layers, num_mtp_modules 7) and the minimax_m3_vl shell's text_config
    (num_mtp_modules 1) describe one language model."""
    text, shell = load("MiniMaxAI--MiniMax-M3"), load("nvidia--MiniMax-M3-NVFP4")
    assert text["model_type"] == "minimax_m3" and shell["model_type"] == "minimax_m3_vl"
    same_language_model(text, shell)
    assert counts(text).total == counts(shell).total == M3_TOTAL
    for cfg in (text, shell):
        notes = spec_from_config(cfg, "m").reader_notes
        assert any("MTP module(s) are not counted" in note for note in notes)
        assert counts(cfg).breakdown["mtp"] == 0


def test_minimax_m3_active_indexer_and_cache_by_hand():
    """MiniMaxM3VLAttention: q [h, 64 x 128], k/v [h, 4 x 128], o, per-head q/k RMSNorm(128);
    on the 57 minimax_m3_sparse layers MiniMaxM3VLIndexer: q_proj [h, 4 x 128], k_proj
    [h, 128], q/k RMSNorm(128), and its cache one bf16 key of index_head_dim per token
    (MiniMaxM3VLSparseCacheLayer.idx_keys); MoE: 4 of 128 experts [3 x h x 3072], one shared
    MLP of 3072, router [128, h] + correction bias; layers 0-2 a dense MLP of 12288."""
    c = load("MiniMaxAI--MiniMax-M3")
    h, d, H, kv, V = 6144, 128, 64, 4, c["vocab_size"]
    attn = h * H * d + 2 * h * kv * d + H * d * h + 2 * d
    indexer = h * 4 * 128 + h * 128 + 2 * 128
    assert 57 * indexer == 224_147_712
    moe = 4 * 3 * h * 3072 + 3 * h * 3072 + 128 * h + 128
    active = V * h + 60 * (attn + 2 * h) + 57 * indexer + 3 * 3 * h * 12288 + 57 * moe + h
    got = counts(c)
    assert got.active == active == 24_733_280_640
    assert got.total == active + V * h + 57 * 124 * 3 * h * 3072
    spec = spec_from_config(c, "m")
    assert kv_bytes_per_token_all_layers(spec) == 60 * 2 * kv * d * 2 + 57 * 128 * 2 == 137_472


def test_minimax_m3_vl_shell_tower_and_publisher():
    """The shell's vision_config is the remote code's clip_vision_model with the patch sizes in
    img_token_compression_config: counted as MiniMaxM3VLVisionModel + projector (towers._minimax_m3)
    to transformers' numel. MiniMax: "428 billion total, 23 billion activated": 427.04B here
    with the ViT; the ~1B left is the MTP module, whose shapes the config does not give; 23B is
    the active count without the LM head (23.50B)."""
    shell = load("nvidia--MiniMax-M3-NVFP4")
    got = counts(shell)
    assert got.towers_total == M3_TOWER
    assert 0 < 428e9 - (got.total + got.towers_total) < 1.5e9
    assert int(got.active_without_embeddings / 1e9) == 23


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("attention_output_gate", True, "attention_output_gate"),
        ("qk_norm_type", "per_token", "qk_norm_type"),
        ("first_k_dense_replace", 4, "first_k_dense_replace"),
        ("moe_intermediate_size", 1536, "moe_intermediate_size"),
    ],
)
def test_minimax_m3_refuses_what_it_cannot_model(field, value, match):
    with pytest.raises(SpecError, match=match):
        spec_from_config({**load("MiniMaxAI--MiniMax-M3"), field: value}, "m")


def test_minimax_m3_remote_code_switches():
    """use_routing_bias false drops the correction bias; use_qk_norm false the q/k norms."""
    c = load("MiniMaxAI--MiniMax-M3")
    base = counts(c)
    assert base.total - counts({**c, "use_routing_bias": False}).total == 57 * 128
    assert base.total - counts({**c, "use_qk_norm": False}).total == 60 * 2 * 128


# -- GLM-5.2 (modeling_glm_moe_dsa.py) --------------------------------------------------------
GLM52_TOTAL = 743_377_019_904  # GlmMoeDsaForCausalLM numel of either config


def test_glm52_nvfp4_layer_types_read_as_indexed_attention():
    """nvidia's copy names every layer "deepseek_sparse_attention" (the name transformers remaps
    to indexed_attention, configuration_utils._LEGACY_LAYER_TYPE_REMAP); zai-org's has no
    layer_types. Same model, the quantization aside."""
    nv, zai = load("nvidia--GLM-5.2-NVFP4"), load("zai-org--GLM-5.2")
    assert set(nv["layer_types"]) == {"deepseek_sparse_attention"} and "layer_types" not in zai
    same_language_model(nv, zai)
    assert counts(nv).total == counts(zai).total == GLM52_TOTAL
    assert native_quant_of(zai) == "bf16" and native_quant_of(nv) != "bf16"
    assert not spec_from_config(zai, "g").reader_notes  # index_share_for_mtp_iteration: harmless
    with pytest.raises(SpecError, match="unknown: bogus_attention"):
        spec_from_config({**nv, "layer_types": ["bogus_attention"] * 78}, "g")


def test_glm52_attention_with_shared_indexers_by_hand():
    """GlmMoeDsaAttention (MLA): q_a [h, 2048] + norm, q_b [2048, 64 x 256], kv_a [h, 512 + 64]
    + norm(512), kv_b [512, 64 x (192 + 256)], o [64 x 256, h]; GlmMoeDsaIndexer (wq_b
    [2048, 32 x 128], wk [h, 128], k_norm LayerNorm(128), weights_proj [h, 32]) only on the 21
    "full" indexer_types layers: the 57 "shared" ones reuse the previous full layer's top-k."""
    c = load("zai-org--GLM-5.2")
    h, H = c["hidden_size"], c["num_attention_heads"]
    assert (c["indexer_types"].count("full"), c["indexer_types"].count("shared")) == (21, 57)
    mla = h * 2048 + 2048 + 2048 * H * 256 + h * 576 + 512 + 512 * H * 448 + H * 256 * h
    indexer = 2048 * 32 * 128 + h * 128 + 2 * 128 + h * 32
    got = counts(c)
    assert got.breakdown["attention"] == 78 * mla + 21 * indexer == 13_068_542_208
    E, k, w, V = 256, 8, c["moe_intermediate_size"], c["vocab_size"]
    assert got.active == GLM52_TOTAL - V * h - 75 * (E - k) * 3 * h * w == 40_298_947_584
    # the "744B total, ~40B active" quoted for GLM-5.2 is GLM-5 / 5.1's figure: the same model
    # with an indexer on all 78 layers (zai-org/GLM-5.1: 743,911,218,432); IndexShare drops 57
    glm51 = GLM52_TOTAL + 57 * indexer
    assert glm51 == 743_911_218_432 and round(glm51 / 1e9) == 744
    assert round(got.active / 1e9) == 40
    # the 753B some pages quote for zai-org/GLM-5.2 is the count with its MTP layer
    assert round(got.total_with_mtp / 1e9) == 753


def _set_everywhere(cfg, key: str, value) -> dict:
    """`cfg` with `key` set to `value` wherever it occurs (text_config included)."""
    if isinstance(cfg, dict):
        return {k: value if k == key else _set_everywhere(v, key, value) for k, v in cfg.items()}
    return cfg


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("configs-aic/zai-org--GLM-5.2_config.json", "n_routed_experts"),
        ("configs-aic/MiniMaxAI--MiniMax-M3_config.json", "num_local_experts"),
        ("configs-2026/ling-lite.json", "num_experts"),
        ("configs-2026/ernie-4.5-21b-a3b.json", "moe_num_experts"),
        ("configs-tf/misc/hunyuan_v1_moe.json", "num_experts"),
        ("configs-tf/hybrid/granitemoehybrid.json", "num_local_experts"),
        ("configs-aic-b/nvidia--NVIDIA-Nemotron-3.5-Lightning-30B-A3B-NVFP4_config.json",
         "n_routed_experts"),
    ],
)  # fmt: skip
def test_zero_experts_beside_a_top_k_are_refused_in_every_family(path, key):
    """Each family read 0 experts as a dense model (GLM-5: 33.17B) or crashed (Nemotron-H: no
    MoE layer to build); a top-k above 0 routes to experts that are not there."""
    cfg = _set_everywhere(json.loads((DATA.parent / path).read_text()), key, 0)
    with pytest.raises(SpecError, match=f"'{key}' is 0 but '.*' routes"):
        spec_from_config(cfg, "c")


def test_zero_experts_and_zero_top_k_is_dense_unless_layers_are_moe():
    """GraniteMoeHybrid's dense variants set both to 0 (granite-4.0-h-1b: the shared MLP runs
    alone); Nemotron-H's pattern still names MoE layers ("E") with no experts to build them."""
    granite = json.loads((DATA.parent / "configs-tf/hybrid/granitemoehybrid.json").read_text())
    dense = spec_from_config({**granite, "num_local_experts": 0, "num_experts_per_tok": 0}, "g")
    assert dense.moe is None and dense.num_moe_layers == 0
    name = "configs-aic-b/nvidia--NVIDIA-Nemotron-3.5-Lightning-30B-A3B-NVFP4_config.json"
    nemotron = json.loads((DATA.parent / name).read_text())
    cfg = {**nemotron, "n_routed_experts": 0, "num_experts_per_tok": 0}
    with pytest.raises(SpecError, match="MoE layers but the config has no routed experts"):
        spec_from_config(cfg, "n")
