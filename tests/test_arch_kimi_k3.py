"""Kimi-K3 (moonshotai/Kimi-K3, model_type kimi_k3 around a kimi_linear text_config): read to the
parameter from its own modeling code (modeling_kimi_linear.py and modeling_kimi_k3.py of the
Hugging Face repo; not in transformers 5.23, so there is no counts.json from
tools/transformers_survey.py). tests/data/configs-tf/kimi_k3/kimi_k3.json is the published
config.json as ai-dynamo/aiconfigurator (095f58a51c4ca8e61b66ec108d86f223f8d559ce) ships it.
Every count below is recomputed from the raw config fields with the modeling shapes (class
named per line), independently of moeplan.model.params. No torch or transformers needed."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest

from moeplan.errors import SpecError
from moeplan.memory.cache import kv_bytes_per_token_all_layers, state_bytes_per_sequence
from moeplan.memory.estimate import weights_bytes_by_component
from moeplan.memory.quant import resolve_scheme
from moeplan.model.checkpoint import component_of
from moeplan.model.hf_config import spec_from_config
from moeplan.model.params import count_params

CONFIG = json.loads(
    (Path(__file__).parent / "data" / "configs-tf" / "kimi_k3" / "kimi_k3.json").read_text()
)


def spec(cfg: dict | None = None):
    return spec_from_config(cfg or CONFIG, "kimi-k3")


def with_text(**fields) -> dict:
    cfg = copy.deepcopy(CONFIG)
    for key, value in fields.items():
        if value is None:
            cfg["text_config"].pop(key, None)
        else:
            cfg["text_config"][key] = value
    return cfg


def hand(c: dict) -> dict[str, int]:
    """KimiLinearForCausalLM of modeling_kimi_linear.py, per component."""
    h, V, L = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"]
    # KimiMLAAttention: q_a_proj [h, q_lora] + q_a_layernorm [q_lora] + q_b_proj [q_lora,
    # H x (nope + rope)]; kv_a_proj_with_mqa [h, kv_lora + rope] + kv_a_layernorm [kv_lora];
    # kv_b_proj [kv_lora, H x (nope + v)]; o_proj [H x v, h]; mla_use_output_gate: g_proj
    # [h, H x v]
    H, nope, rope, v = 96, 128, 64, 128
    ql, kvl = c["q_lora_rank"], c["kv_lora_rank"]
    mla = h * ql + ql + ql * H * (nope + rope) + h * (kvl + rope) + kvl
    mla += kvl * H * (nope + v) + H * v * h + h * H * v
    # KimiDeltaAttention (linear_attn_config: 96 heads x 128, kernel 4): q/k/v_proj [h, D];
    # q/k/v_conv1d ShortConvolution [D, 1, 4] without bias; A_log [heads]; f_a_proj [h, 128] +
    # f_b_proj [128, D]; dt_bias [D]; b_proj [h, heads]; use_full_rank_gate: g_proj [h, D];
    # o_norm FusedRMSNormGated [128]; o_proj [D, h]
    lac = c["linear_attn_config"]
    nh, hd, k = lac["num_heads"], lac["head_dim"], lac["short_conv_kernel_size"]
    D = nh * hd
    kda = 3 * h * D + 3 * D * k + nh + h * hd + hd * D + D + h * nh + h * D + hd + D * h
    # layer 0: KimiMLP [h, intermediate] x 3 (SituAndMul has no weights)
    dense = 3 * h * c["intermediate_size"]
    # KimiSparseMoeBlock: experts KimiBlockSparseMLP(hidden=latent) w1/w3 [latent, w] and w2
    # [w, latent]; KimiMoEGate weight [E, h] + e_score_correction_bias [E]; shared_experts
    # KimiMLP of w x num_shared_experts on h; routed_expert_down_proj [h, latent],
    # routed_expert_up_proj [latent, h], routed_expert_norm [latent]
    E, top, w = c["num_experts"], c["num_experts_per_token"], c["moe_intermediate_size"]
    lat, ns = c["routed_expert_hidden_size"], c["num_shared_experts"]
    expert = 3 * lat * w
    router = E * h + E
    shared = 3 * h * w * ns + 2 * h * lat + lat
    # KimiDecoderLayer: input_layernorm, post_attention_layernorm, self_attention_res_norm,
    # mlp_res_norm [h], self_attention_res_proj, mlp_res_proj [1, h]; KimiLinearModel: norm,
    # output_attn_res_norm [h], output_attn_res_proj [1, h]
    norms = 6 * h * L + 3 * h
    n_mla, n_kda = len(lac["full_attn_layers"]), len(lac["kda_layers"])
    n_moe = L - c["first_k_dense_replace"]
    return dict(
        embedding=V * h,  # embed_tokens
        lm_head=V * h,  # untied
        attention=n_mla * mla + n_kda * kda,
        dense_ffn=dense,
        routed_experts=n_moe * E * expert,
        routed_active=n_moe * top * expert,
        shared_experts=n_moe * shared,
        router=n_moe * router,
        norms=norms,
        mla=mla,
        kda=kda,
    )


def test_layer_plan():
    """KimiDecoderLayer: KDA where (i + 1) is in kda_layers, MLA elsewhere (24 layers: every 4th
    and the last); a dense KimiMLP below first_k_dense_replace = 1, MoE after."""
    s = spec()
    assert s.num_linear_attention_layers == 69 and s.num_attention_layers == 24
    assert [x.keeps_kv for x in s.layers[:5]] == [False, False, False, True, False]
    assert s.layers[92].keeps_kv and s.layers[91].keeps_kv
    assert s.num_dense_layers == 1 and s.num_moe_layers == 92
    assert not s.reader_notes


def test_components_total_active():
    c = CONFIG["text_config"]
    h = hand(c)
    # 7168 x 1536 + 1536 + 1536 x 18432 + 7168 x 576 + 512 + 512 x 24576 + 2 x 12288 x 7168
    assert h["mla"] == 232_196_096
    # 5 x 7168 x 12288 + 3 x 12288 x 4 + 96 + 7168 x 128 + 128 x 12288 + 12288 + 7168 x 96 + 128
    assert h["kda"] == 443_740_384
    counts = count_params(spec())
    parts = ("embedding", "lm_head", "attention", "dense_ffn", "routed_experts")
    parts += ("shared_experts", "router", "norms")
    assert {p: counts.breakdown[p] for p in parts} == {p: h[p] for p in parts}
    assert counts.breakdown["routed_experts"] == 92 * 896 * 33_030_144  # 3 x 3584 x 3072
    assert counts.total == 2_779_484_476_000
    assert counts.active == (
        sum(h[p] for p in parts if p not in ("embedding", "routed_experts")) + h["routed_active"]
    )
    assert counts.active == 104_189_612_640


def test_kv_and_state_bytes():
    """24 MLA layers cache the latent and the rope key (512 + 64) in bf16: 24 x 576 x 2 =
    27,648 bytes/token. 69 KDA layers hold 96 x 128 x 128 fp32 + the conv window of q, k and v,
    3 x 12288 x (4 - 1) bf16: 69 x (6,291,456 + 221,184) = 449,372,160 bytes per sequence."""
    s = spec()
    assert kv_bytes_per_token_all_layers(s, "bf16") == 24 * (512 + 64) * 2 == 27_648
    assert state_bytes_per_sequence(s, "fp32") == 69 * (96 * 128 * 128 * 4 + 3 * 12288 * 3 * 2)
    assert state_bytes_per_sequence(s, "fp32") == 449_372_160


def test_published_figures():
    """Kimi K3 technical report (arXiv 2607.24653, abstract; github.com/MoonshotAI/Kimi-K3
    k3_tech_report.pdf): "a 2.8T parameter Mixture-of-Experts model with 104 billion activated
    parameters". The report does not define "activated": 104B is met by moeplan's convention
    (input embedding out, LM head in: 104.19B); with the input embedding it is 105.36B, without
    embedding and head 103.02B, both outside the rounding. The 2.8T total holds either way
    (2.7795T language model, 2.7799T with the 0.447B vision tower)."""
    counts = count_params(spec())
    assert round(counts.total / 1e11) == 28
    assert round((counts.total + counts.towers_total) / 1e11) == 28
    assert round(counts.active / 1e9) == 104
    assert round(counts.active_with_embedding / 1e9) == 105
    assert round(counts.active_without_embeddings / 1e9) == 103


def test_vision_tower():
    """modeling_kimi_k3.py MoonViT3dPretrainedModel (rmsnorm, no biases) + PatchMergerMLPV2:
    patch Conv2d 3 x 14 x 14 x 1024 (no bias) + pos_emb 64 x 64 x 1024; 27 x (norm0 + norm1
    2 x 1024 + wqkv 1024 x 3 x 1536 + wo 1536 x 1024 + fc0/fc1 2 x 1024 x 4096) +
    final_layernorm 1024; projector 4096 x 4096 + 4096 x 7168 + post_norm 7168."""
    block = 2 * 1024 + 1024 * 3 * 1536 + 1536 * 1024 + 2 * 1024 * 4096
    tower = 3 * 14 * 14 * 1024 + 64 * 64 * 1024 + 27 * block + 1024
    projector = 4096 * 4096 + 4096 * 7168 + 7168
    (vision,) = spec().towers
    assert vision.params == tower + projector == 447_358_976


def test_vision_tower_refuses_unknown_fields():
    cfg = copy.deepcopy(CONFIG)
    cfg["vision_config"]["vt_num_experts"] = 8
    (vision,) = spec(cfg).towers
    assert vision.params is None and "not understood" in vision.detail
    cfg = copy.deepcopy(CONFIG)
    cfg["vision_config"]["mm_projector_type"] = "perceiver"
    assert spec(cfg).towers[0].params is None


def test_native_weights():
    """compressed-tensors mxfp4-pack-quantized, group 32, with self_attn, shared_experts, the
    dense MLP, lm_head and the vision tower ignored: the routed experts are MXFP4 (4 + 8 / 32
    bits: an E8M0 scale per 32), the rest BF16 (the latent projections sit with the shared
    experts). 2,722,740,830,208 x 4.25 / 8 + 56,743,645,792 x 2 bytes = 1,559.94 GB, with the
    tower 1,560.84 GB: the published repository holds 1.56 TB."""
    s = spec()
    assert s.native_quant == "bf16,routed_experts=mxfp4"
    by_component = weights_bytes_by_component(s, resolve_scheme("native", s))
    routed = 2_722_740_830_208
    assert by_component["routed_experts"] == math.ceil(routed * 4.25 / 8)
    rest = count_params(s).total - routed
    assert sum(by_component.values()) == math.ceil(routed * 4.25 / 8) + 2 * rest
    assert round((sum(by_component.values()) + 2 * 447_358_976) / 1e10) == 156


@pytest.mark.parametrize(
    ("fields", "change"),
    [
        # routed_expert_hidden_size: experts on hidden, no latent projections nor norm
        (
            dict(routed_expert_hidden_size=None),
            92 * (896 * 3 * 3072 * (7168 - 3584) - 2 * 7168 * 3584 - 3584),
        ),
        (dict(latent_moe_use_norm=False), -92 * 3584),  # routed_expert_norm
        (dict(attn_res_block_size=None), -(4 * 7168 * 93 + 2 * 7168)),  # attention residuals
        (dict(mla_use_output_gate=False), -24 * 7168 * 12288),  # KimiMLAAttention g_proj
        # KimiDeltaAttention g_a_proj [h, 128] + g_b_proj [128, D] instead of g_proj [h, D]
        (dict(use_full_rank_gate=False), 69 * (7168 * 128 + 128 * 12288 - 7168 * 12288)),
        (dict(moe_layer_freq=2), -46 * (896 * 3 * 3584 * 3072 + 896 * 7168 + 896)),
    ],
)
def test_each_field_is_read(fields, change):
    """Each Kimi-K3 field moves the total by the weights it adds (moe_layer_freq 2: MoE only on
    even layers, KimiDecoderLayer; the odd ones become dense KimiMLP)."""
    if "use_full_rank_gate" in fields:
        cfg = copy.deepcopy(CONFIG)
        cfg["text_config"]["linear_attn_config"]["use_full_rank_gate"] = False
    else:
        cfg = with_text(**fields)
    base = count_params(spec()).total
    total = count_params(spec(cfg)).total
    if "moe_layer_freq" in fields:
        change += 46 * (3 * 7168 * 33792 - (3 * 7168 * 6144 + 2 * 7168 * 3584 + 3584))
    assert total - base == change


def test_unknown_fields_are_refused():
    """A kimi_linear field that looks like a shape and that the reader does not model, or an
    unknown linear_attn_config key, is refused naming it (not read as if absent)."""
    with pytest.raises(SpecError, match="routed_expert_gate_rank"):
        spec(with_text(routed_expert_gate_rank=64))
    cfg = copy.deepcopy(CONFIG)
    cfg["text_config"]["linear_attn_config"]["gate_rank"] = 32
    with pytest.raises(SpecError, match=r"linear_attn_config\.gate_rank"):
        spec(cfg)
    spec(with_text(activation_situ_beta=2.0, use_grouped_topk=False))  # no weights: read


def test_checkpoint_tensor_names():
    """The checkpoint's tensor names land in the components params.py counts them in: the
    latent projections and routed_expert_norm with the shared experts, the attention-residual
    norms and pseudo-queries with the norms."""
    layer = "language_model.model.layers.3."
    assert component_of(layer + "block_sparse_moe.routed_expert_down_proj.weight") == (
        "shared_experts"
    )
    assert component_of(layer + "block_sparse_moe.routed_expert_norm.weight") == "shared_experts"
    assert component_of(layer + "block_sparse_moe.experts.5.w1.weight_packed") == "routed_experts"
    for name in ("self_attention_res_proj", "mlp_res_proj", "self_attention_res_norm"):
        assert component_of(layer + name + ".weight") == "norms"
    assert component_of("language_model.model.output_attn_res_proj.weight") == "norms"
