"""Dense Qwen3.5/3.6 hybrids (qwen3_5 / qwen3_5_text) and Nemotron 3 (nemotron_h with latent MoE
and MTP), read from their published config.json files (tests/data/configs-aic-b, README there).

Every total is the numel transformers 5.23.0 gives for the model built from the same file on
torch's meta device (tools/transformers_survey.py --diff; Qwen3_5ForConditionalGeneration for
the vision tower), written here as a literal; the hand counts below recompute it, the active
count, the KV and state bytes and the MTP weights from the modeling shapes, independently of
moeplan.model.params. transformers builds no MTP layers: theirs follow vLLM's
Qwen3_5MultiTokenPredictor and NemotronHMultiTokenPredictor. Runs without torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moeplan.errors import SpecError
from moeplan.memory.cache import kv_bytes_per_token_all_layers, state_bytes_per_sequence
from moeplan.model.hf_config import spec_from_config
from moeplan.model.params import count_params
from moeplan.model.specs import MixerKind

DATA = Path(__file__).parent / "data" / "configs-aic-b"
QWEN35 = "Qwen--Qwen3.5-27B_config.json"
QWEN36 = "nvidia--Qwen3.6-27B-NVFP4_config.json"
SUPER = "nvidia--NVIDIA-Nemotron-3-Super-120B-A12B-FP8_config.json"
ULTRA = "nvidia--NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16_config.json"
LIGHTNING = "nvidia--NVIDIA-Nemotron-3.5-Lightning-30B-A3B-NVFP4_config.json"

# transformers 5.23.0, sum(p.numel()) on the meta device (plus the routers'
# e_score_correction_bias buffers, which the checkpoints store): (language model, vision tower)
TRANSFORMERS = {
    QWEN35: (26_895_998_464, 460_730_096),
    QWEN36: (26_895_998_464, 460_730_096),
    SUPER: (120_668_707_840, 0),
    ULTRA: (549_308_993_536, 0),
    LIGHTNING: (31_577_940_288, 0),
}


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


# -- Qwen3.5 / 3.6 dense (transformers models/qwen3_5) ---------------------------------------
def qwen35_hand(c: dict) -> dict[str, int]:
    """Qwen3_5ForConditionalGeneration: Qwen3_5Attention (q_proj emits query and sigmoid gate,
    2 x heads x head_dim; q/k RMSNorm per head), Qwen3_5GatedDeltaNet (in_proj_qkv, in_proj_z,
    in_proj_b, in_proj_a, depthwise conv1d without bias, dt_bias, A_log, gated norm [dv],
    out_proj), Qwen3_5MLP (gate, up, down), two norms a layer, untied head. The vision tower
    (Qwen3_5VisionModel): Conv3d patch embedding with bias, position table, ViT blocks with
    biases, one patch merger. MTP (vLLM Qwen3_5MultiTokenPredictor): fc [2h, h], three norms
    and one full-attention decoder layer. KV: K and V of the full layers (bf16); state per
    GDN layer: nv x dk x dv fp32 plus the conv window (kernel - 1) x channels bf16."""
    t, v = c["text_config"], c["vision_config"]
    h, V, w = t["hidden_size"], t["vocab_size"], t["intermediate_size"]
    H, KV, d = t["num_attention_heads"], t["num_key_value_heads"], t["head_dim"]
    nk, dk = t["linear_num_key_heads"], t["linear_key_head_dim"]
    nv, dv, K = t["linear_num_value_heads"], t["linear_value_head_dim"], t["linear_conv_kernel_dim"]
    attn = h * H * d * 2 + 2 * h * KV * d + H * d * h + 2 * d
    conv = 2 * nk * dk + nv * dv
    gdn = h * conv + h * nv * dv + 2 * h * nv + conv * K + 2 * nv + dv + nv * dv * h
    layer = 3 * h * w + 2 * h
    types = t["layer_types"]
    n_full = types.count("full_attention")
    n_lin = types.count("linear_attention")
    total = n_full * (attn + layer) + n_lin * (gdn + layer) + h + 2 * V * h
    hv, Iv, p = v["hidden_size"], v["intermediate_size"], v["patch_size"]
    merged = hv * v["spatial_merge_size"] ** 2
    block = 4 * hv + 3 * hv * hv + 3 * hv + hv * hv + hv + 2 * hv * Iv + Iv + hv
    tower = (
        v["in_channels"] * v["temporal_patch_size"] * p * p * hv
        + hv
        + v["num_position_embeddings"] * hv
        + v["depth"] * block
        + 2 * hv
        + merged * merged
        + merged
        + merged * v["out_hidden_size"]
        + v["out_hidden_size"]
    )
    return dict(
        total=total,
        active=total - V * h,
        tower=tower,
        mtp=t["mtp_num_hidden_layers"] * (2 * h * h + 3 * h + attn + layer),
        kv=n_full * 2 * KV * d * 2,
        state=n_lin * (nv * dk * dv * 4 + conv * (K - 1) * 2),
    )


@pytest.mark.parametrize("name", [QWEN35, QWEN36])
def test_qwen35_dense_to_the_parameter(name):
    cfg = load(name)
    spec = spec_from_config(cfg, name)
    counts = count_params(spec)
    hand = qwen35_hand(cfg)
    assert (hand["total"], hand["tower"]) == TRANSFORMERS[name]
    assert (counts.total, counts.towers_total) == TRANSFORMERS[name]
    assert not spec.is_moe and not spec.reader_notes
    # a dense model runs every weight: active is the total less the input embedding (a lookup;
    # moeplan's convention), and with the embedding it is the total
    assert counts.active == hand["active"]
    assert counts.active_with_embedding == counts.total
    assert counts.breakdown["mtp"] == hand["mtp"] == 424_699_392
    # 16 full layers x 2 x 4 KV heads x 256 x 2 bytes = 65,536 bytes/token
    assert kv_bytes_per_token_all_layers(spec, "bf16") == hand["kv"] == 65_536
    # 48 x (48 x 128 x 128 x 4 + 10,240 x 3 x 2) = 153,944,064 bytes
    assert state_bytes_per_sequence(spec, "fp32") == hand["state"] == 153_944_064


@pytest.mark.parametrize("name", [QWEN35, QWEN36])
def test_qwen35_dense_publisher_figure(name):
    """Qwen/Qwen3.5-27B and Qwen3.6-27B model cards: "Language Model - Number of Parameters:
    27B" (26.90B; 27.36B with the vision tower, 27.78B with the MTP layer too)."""
    counts = count_params(spec_from_config(load(name), name))
    assert round(counts.total / 1e9) == 27
    assert round((counts.total + counts.towers_total) / 1e9) == 27


def test_output_gate_type_is_an_activation():
    """output_gate_type (Qwen3.6): the activation of the Gated DeltaNet output gate
    (Qwen4ExpTextConfig documents the field; hidden_act when unset): swish = silu, sigmoid: no
    weight changes. Any other value is refused, naming the field."""
    cfg = load(QWEN36)
    base = count_params(spec_from_config(cfg, "q")).total
    for gate in ("silu", "sigmoid"):
        cfg["text_config"]["output_gate_type"] = gate
        assert count_params(spec_from_config(cfg, "q")).total == base
    cfg["text_config"]["output_gate_type"] = "headwise"
    with pytest.raises(SpecError, match="output_gate_type"):
        spec_from_config(cfg, "q")


def test_attn_output_gate_false_drops_the_gate_half():
    """attn_output_gate false: q_proj without the gate half (16 layers x 5120 x 24 x 256)."""
    cfg = load(QWEN35)
    cfg["text_config"]["attn_output_gate"] = False
    counts = count_params(spec_from_config(cfg, "q"))
    assert counts.total == TRANSFORMERS[QWEN35][0] - 16 * 5120 * 24 * 256


# -- Nemotron 3 (transformers models/nemotron_h) ----------------------------------------------
def blocks_of(c: dict, pattern_key: str, list_key: str) -> list[str]:
    """Block kinds from a layers list or a pattern string (M, E, *, -)."""
    names = {"mamba": "M", "moe": "E", "attention": "*", "mlp": "-"}
    if c.get(list_key):
        return [names[t] for t in c[list_key]]
    return list(c[pattern_key])


def nemotron_hand(c: dict) -> dict[str, int]:
    """NemotronHForCausalLM: per block one norm and one mixer: NemotronHMamba2Mixer (in_proj
    [h, 2 x d_inner + 2 x groups x state + heads], conv1d with bias, dt_bias, A_log, D, gated
    norm [d_inner], out_proj), NemotronHAttention (q, k, v, o without bias) or NemotronHMoE
    (router [E, h] + e_score_correction_bias [E], relu2 experts up [I, lat] + down [lat, I],
    shared expert up + down, latent fc1 [h, lat] + fc2 [lat, h] when moe_latent_size is set);
    final norm, untied head. MTP per step (vLLM NemotronHMultiTokenPredictor): its blocks, plus
    enorm, hnorm, eh_proj [2h, h] and final_layernorm. KV: K and V of the attention blocks
    (bf16); state per Mamba2 block: heads x head_dim x state fp32 plus the conv window bf16."""
    h, V = c["hidden_size"], c["vocab_size"]
    H, KV, d = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    nh, hd, N, g, K = (
        c["mamba_num_heads"],
        c["mamba_head_dim"],
        c["ssm_state_size"],
        c["n_groups"],
        c["conv_kernel"],
    )
    di = nh * hd
    conv = di + 2 * g * N
    mamba = h * (2 * di + 2 * g * N + nh) + conv * K + conv + 3 * nh + di + di * h
    attn = h * H * d + 2 * h * KV * d + H * d * h
    E, top, w, S = (
        c["n_routed_experts"],
        c["num_experts_per_tok"],
        c["moe_intermediate_size"],
        c["moe_shared_expert_intermediate_size"],
    )
    lat = c.get("moe_latent_size") or h
    always = 2 * h * S + (2 * h * lat if c.get("moe_latent_size") else 0) + E * h + E
    expert = 2 * w * lat
    full = {"M": mamba, "*": attn, "E": E * expert + always}
    used = {"M": mamba, "*": attn, "E": top * expert + always}
    main = blocks_of(c, "hybrid_override_pattern", "layers_block_type")
    mtp = blocks_of(c, "mtp_hybrid_override_pattern", "mtp_layers_block_type")
    total = sum(full[b] + h for b in main) + h + 2 * V * h
    step = sum(full[b] + h for b in mtp) + 2 * h * h + 3 * h
    return dict(
        total=total,
        active=sum(used[b] + h for b in main) + h + V * h,
        mtp=c["num_nextn_predict_layers"] * step,
        kv=main.count("*") * 2 * KV * d * 2,
        state=main.count("M") * (nh * hd * N * 4 + conv * (K - 1) * 2),
    )


NEMOTRON = [SUPER, ULTRA, LIGHTNING]


@pytest.mark.parametrize("name", NEMOTRON)
def test_nemotron_to_the_parameter(name):
    cfg = load(name)
    spec = spec_from_config(cfg, name)
    counts = count_params(spec)
    hand = nemotron_hand(cfg)
    assert hand["total"] == counts.total == TRANSFORMERS[name][0]
    assert not spec.reader_notes
    assert counts.active == hand["active"]
    assert counts.breakdown["mtp"] == hand["mtp"]
    assert kv_bytes_per_token_all_layers(spec, "bf16") == hand["kv"]
    assert state_bytes_per_sequence(spec, "fp32") == hand["state"]


def test_nemotron_mtp_is_its_own_blocks():
    """transformers builds no MTP (NemotronHForCausalLM): the total leaves it out, as there.
    The checkpoint's MTP step is an attention block and a MoE block, a norm each
    (mtp.layers.0.norm, mtp.layers.1.norm), with enorm, hnorm, eh_proj and final_layernorm:
    Super: 35,651,584 (attention) + 2,873,098,752 (latent MoE) + 2 x 4,096 (block norms)
    + 33,554,432 (eh_proj 2 x 4,096^2) + 3 x 4,096 = 2,942,325,248."""
    counts = count_params(spec_from_config(load(SUPER), SUPER))
    attention = 2 * 4096 * 32 * 128 + 2 * 4096 * 2 * 128
    moe = 512 * 2 * 2688 * 1024 + 2 * 4096 * 5376 + 2 * 4096 * 1024 + 512 * 4096 + 512
    assert counts.breakdown["mtp"] == attention + moe + 2 * 4096 + 2 * 4096 * 4096 + 3 * 4096
    assert counts.breakdown["mtp"] == 2_942_325_248
    cfg = load(SUPER)
    cfg["mtp_hybrid_override_pattern"] = "*E*E"  # a step of two attention + MoE pairs
    assert count_params(spec_from_config(cfg, "s")).breakdown["mtp"] == (
        counts.breakdown["mtp"] + attention + moe + 2 * 4096
    )
    cfg["num_nextn_predict_layers"] = 0
    assert count_params(spec_from_config(cfg, "s")).breakdown["mtp"] == 0


def test_lightning_reads_its_own_block_list():
    """Nemotron-3.5-Lightning gives layers_block_type and mtp_layers_block_type lists, no
    pattern: each layer is the block its list names; a pattern beside the list (another
    model's) is ignored, as NemotronHConfig ignores it when layers_block_type is given."""
    cfg = load(LIGHTNING)
    spec = spec_from_config(cfg, LIGHTNING)
    kind = {MixerKind.MAMBA2: "mamba", MixerKind.ATTENTION: "attention"}
    read = [kind.get(x.mixer, x.ffn) for x in spec.layers]
    assert read == cfg["layers_block_type"]
    assert [kind.get(x.mixer, x.ffn) for x in spec.mtp_blocks] == cfg["mtp_layers_block_type"]
    stale = {**cfg, "hybrid_override_pattern": load(SUPER)["hybrid_override_pattern"]}
    assert count_params(spec_from_config(stale, "l")) == count_params(spec)


def test_nemotron_publisher_figures():
    """Publisher figures at their rounding (active: LM head in, input embedding out, unless
    said). Super: 120B total (12B active) (huggingface.co/nvidia/NVIDIA-Nemotron-3-Super-120B-
    A12B-NVFP4 model card), two significant figures; the tech report's table (arXiv:2604.12374,
    as summarised by emergentmind.com/topics/nemotron-3-super) gives 120.6B / 12.7B, which
    120.67B and 12.77B with the input embedding meet truncated, not rounded. Ultra: 550B total
    / 55B active (docs.nvidia.com Megatron Bridge "Nemotron 3 Ultra", build.nvidia.com);
    Hugging Face lists the BF16 checkpoint at 561B, the main model and the MTP step (560.52B).
    Lightning: 30B total (~3B active) (docs.nvidia.com NeMo customizer), Nemotron 3 Nano's
    layers: 31.6B / 3.2B, 3.6B with embeddings (arXiv:2512.20848 sec. 2.1)."""
    sup = count_params(spec_from_config(load(SUPER), SUPER))
    assert round(sup.total, -10) == 120e9 and round(sup.active / 1e9) == 12
    assert int(sup.total / 1e8) == 1206 and int(sup.active_with_embedding / 1e8) == 127
    ultra = count_params(spec_from_config(load(ULTRA), ULTRA))
    assert round(ultra.total, -10) == 550e9 and round(ultra.active / 1e9) == 55
    assert round(ultra.total_with_mtp / 1e9) == 561
    light = count_params(spec_from_config(load(LIGHTNING), LIGHTNING))
    assert round(light.total / 1e8) == 316 and round(light.active / 1e8) == 32
    assert round(light.active_with_embedding / 1e8) == 36
    assert round(light.total, -10) == 30e9 and round(light.active / 1e9) == 3
