"""The `native` scheme from quantization_config wherever it sits, with the modules each
method leaves unquantized (bits per weight: 4 + 16/32 = 4.5 for int4 group 32, etc.)."""

from __future__ import annotations

import json

import pytest

from moeplan.memory.quant import attention_out_share, component_bits, resolve_scheme, weight_format
from moeplan.model.catalog import load_model
from moeplan.model.params import count_params
from moeplan.model.quant_config import native_quant_of


def ct(bits, kind="int", strategy="group", group=32, ignore=(), fmt="pack-quantized"):
    weights = {"num_bits": bits, "type": kind, "strategy": strategy, "group_size": group}
    return {
        "quant_method": "compressed-tensors",
        "format": fmt,
        "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights}},
        "ignore": list(ignore),
    }


@pytest.mark.parametrize(
    "qcfg, native",
    [
        # Kimi-K2.5: int4 group 32 everywhere but attention, shared experts, dense MLP, head
        (
            ct(
                4,
                ignore=[
                    "lm_head",
                    "re:.*self_attn.*",
                    "re:.*shared_experts.*",
                    "re:.*mlp\\.(gate|up|down)_proj.*",
                ],
            ),
            "bf16,routed_experts=int4-g32",
        ),
        (
            ct(8, strategy="channel", group=None),
            "bf16,attention=int8-ch,dense_ffn=int8-ch,"
            "shared_experts=int8-ch,routed_experts=int8-ch,mtp=int8-ch",
        ),
        (ct(4, group=128), "int4"),
        (ct(8, kind="float", strategy="block", group=None), "fp8-block"),
        (ct(4, kind="float", group=16, fmt="nvfp4-pack-quantized"), "nvfp4"),
        ({"quant_method": "modelopt", "quant_algo": "FP8"}, "fp8"),
        (
            {
                "quant_method": "modelopt",
                "quant_algo": "NVFP4",
                "exclude_modules": ["lm_head", "model.layers.*.self_attn*"],
            },
            "bf16,dense_ffn=nvfp4,shared_experts=nvfp4,routed_experts=nvfp4",
        ),
        ({"quant_method": "awq", "bits": 4, "group_size": 128}, "int4"),
        (
            {
                "quant_method": "gptq",
                "bits": 4,
                "group_size": 32,
                "modules_to_not_convert": ["self_attn"],
            },
            "bf16,dense_ffn=int4-g32,shared_experts=int4-g32,routed_experts=int4-g32",
        ),
        ({"quant_method": "fp8", "weight_block_size": [128, 128]}, "fp8-block"),
        ({"quant_method": "mxfp4"}, "bf16,experts=mxfp4"),
        ({"quant_method": "bitsandbytes"}, "unmodelled:bitsandbytes"),
    ],
)
def test_native_scheme_of_each_method(qcfg, native):
    assert native_quant_of({"quantization_config": qcfg}) == native
    if not native.startswith("unmodelled"):
        resolve_scheme(native)  # every id it writes resolves


def test_fp8_without_block_size_is_per_tensor_and_gptq_minus_one_is_per_channel():
    assert native_quant_of({"quantization_config": {"quant_method": "fp8"}}) == "fp8"
    per_tensor = {"quant_method": "fp8", "weight_block_size": None}
    assert native_quant_of({"quantization_config": per_tensor}) == "fp8"
    # GPTQ's group_size -1: one scale per output channel (read as int4, as before)
    gptq = {"quant_method": "gptq", "bits": 4, "group_size": -1}
    assert native_quant_of({"quantization_config": gptq}) == "int4"
    assert native_quant_of({"quantization_config": ct(8, strategy="channel", group=-1)})


@pytest.mark.parametrize(
    ("qcfg", "match"),
    [
        # were priced as fp8-block (any non-empty value was taken for a block size)
        ({"quant_method": "fp8", "weight_block_size": [0, 0]}, "'weight_block_size' must be"),
        ({"quant_method": "fp8", "weight_block_size": [-128, 128]}, "weight_block_size"),
        ({"quant_method": "fp8", "weight_block_size": "128"}, "weight_block_size"),
        ({"quant_method": "fp8", "weight_block_size": [128]}, "weight_block_size"),
        ({"quant_method": "fp8", "weight_block_size": [128, 1.5]}, "weight_block_size"),
        ({"quant_method": "fp8", "weight_block_size": [True, 128]}, "weight_block_size"),
        # was priced as int4 g128 (0 or 128)
        ({"quant_method": "gptq", "bits": 4, "group_size": 0}, "'group_size' must be"),
        ({"quant_method": "gptq", "bits": 4, "group_size": -2}, "'group_size' must be"),
        ({"quant_method": "awq", "bits": 4, "group_size": "128"}, "'group_size' must be"),
        # compressed-tensors: a group strategy with no positive group (was priced per channel)
        (ct(4, group=0), "'group_size' must be"),
        (ct(4, group=None), "strategy 'group' needs a positive integer group_size"),
        (ct(4, group=-1), "strategy 'group' needs"),
    ],
)
def test_invalid_block_and_group_sizes_are_refused(qcfg, match):
    from moeplan.errors import SpecError

    with pytest.raises(SpecError, match=match):
        native_quant_of({"quantization_config": qcfg})


def test_invalid_quantization_config_is_one_line_naming_the_config(tmp_path):
    from typer.testing import CliRunner

    from moeplan.cli import app

    cfg = tmp_path / "config.json"
    doc = {"model_type": "mixtral", "hidden_size": 64, "intermediate_size": 128,
           "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2,
           "num_local_experts": 4, "num_experts_per_tok": 2, "vocab_size": 100,
           "quantization_config": {"quant_method": "fp8", "weight_block_size": [0, 0]}}  # fmt: skip
    cfg.write_text(json.dumps(doc))
    r = CliRunner().invoke(app, ["size", str(cfg), "--quant", "native"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1, r.output
    assert str(cfg) in r.stderr and "weight_block_size" in r.stderr


def test_deepseek_v4_fp4_experts_beside_block_fp8():
    """DeepSeek-V4's config.json: block FP8 quantization_config plus expert_dtype 'fp4' (routed
    experts MXFP4, shared experts FP8 like the rest); 'fp8' experts are block FP8 as well."""
    qcfg = {"quant_method": "fp8", "weight_block_size": [128, 128], "scale_fmt": "ue8m0"}
    fp4 = native_quant_of({"quantization_config": qcfg, "expert_dtype": "fp4"})
    assert fp4 == "fp8-block,routed_experts=mxfp4"
    resolve_scheme(fp4)
    assert native_quant_of({"quantization_config": qcfg, "expert_dtype": "fp8"}) == "fp8-block"


def test_quantization_config_inside_text_config_at_any_depth():
    nested = {"thinker_config": {"text_config": {"quantization_config": ct(4)}}}
    assert (
        native_quant_of(nested) == "bf16,attention=int4-g32,dense_ffn=int4-g32,"
        "shared_experts=int4-g32,routed_experts=int4-g32,mtp=int4-g32"
    )
    assert native_quant_of({"text_config": {"dtype": "float16"}}) == "fp16"


def test_groupwise_formats():
    assert weight_format("int4-g32").bits_per_weight == 4 + 16 / 32
    assert weight_format("int8-g64").bits_per_weight == 8 + 16 / 64
    assert weight_format("int4-ch").bits_per_weight == 4
    from moeplan.errors import UnknownNameError

    with pytest.raises(UnknownNameError):
        weight_format("int3-g32")


def test_audio_and_vision_towers_at_any_depth():
    """An Omni-style wrapper: thinker_config holds text, vision and audio configs."""
    from moeplan.model.hf_config import spec_from_config
    from tests.test_architectures import load

    vl = load("qwen3-vl-30b-a3b")
    cfg = {
        "model_type": "omni_like",
        "thinker_config": {
            "text_config": {**vl["text_config"], "model_type": "qwen3_moe"},
            "vision_config": vl["vision_config"],
            "audio_config": {"model_type": "whisper_like", "d_model": 1280},
        },
    }
    spec = spec_from_config(cfg, "omni")
    assert [t.name for t in spec.towers] == ["vision", "audio"]
    assert spec.towers[1].params is None  # named, not counted
    from moeplan.memory.quant import resolve_scheme as rs
    from moeplan.memory.sizing import size_model

    notes = size_model(spec, rs("bf16")).notes
    assert any("audio tower (whisper_like) present" in n for n in notes)


def test_attention_out_blends_the_output_projection():
    """nvidia/DeepSeek-R1-0528-FP4-v2 (model card: wo NVFP4 on top of the v1 exclusion of every
    self_attn*): q_a/q_b/kv_a/kv_b BF16 and wo NVFP4. Per MLA layer wo is 128 x 128 x 7168 =
    117.4M of 187.1M attention weights (q_a 11.0M, q_b 37.7M, kv_a 4.1M, kv_b 16.8M)."""
    spec = load_model("deepseek-r1")
    counts = count_params(spec)
    mix = resolve_scheme("bf16,experts=nvfp4,dense_ffn=nvfp4,attention_out=nvfp4")
    bits = component_bits(mix, spec, counts)
    share = 128 * 128 * 7168 / (7168 * 1536 + 1536 * 128 * 192 + 7168 * 576 + 512 * 128 * 256
                                + 128 * 128 * 7168)  # fmt: skip
    assert "attention_out" not in bits
    assert bits["attention"] == pytest.approx((1 - share) * 16 + share * 4.5, rel=1e-3)
    assert bits["routed_experts"] == bits["dense_ffn"] == bits["shared_experts"] == 4.5
    kept = {"attention", "embedding", "lm_head", "router", "norms", "mtp"}
    assert set(mix.kept_in_16bit()) == kept
    # group "attention" sets the output projection too; a plain scheme blends nothing
    assert component_bits(resolve_scheme("bf16,attention=nvfp4"), spec, counts)["attention"] == 4.5
    assert component_bits(resolve_scheme("nvfp4"), spec, counts)["attention"] == 4.5


def test_modelopt_exclusion_of_q_and_kv_keeps_wo_quantized():
    """A ModelOpt list naming the MLA q/kv projections but not o_proj (GLM-4.7-Flash-NVFP4's
    hf_quant_config.json style) leaves the output projection NVFP4."""
    mla = ["q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj"]
    cfg = {
        "quant_method": "modelopt",
        "quant_algo": "NVFP4",
        "exclude_modules": ["lm_head"] + [f"model.layers.1.self_attn.{m}" for m in mla],
    }
    assert native_quant_of({"quantization_config": cfg}) == (
        "bf16,attention_out=nvfp4,dense_ffn=nvfp4,shared_experts=nvfp4,routed_experts=nvfp4"
    )


def test_deepseek_r1_fp4_v2_element_count():
    """nvidia/DeepSeek-R1-0528-NVFP4-v2 stores 393.6B elements (the count llmrun.dev shows for
    it): NVFP4 linears as two values a byte plus one FP8 scale per 16 (0.5625 elements a weight),
    BF16 ones as one; the MTP layer BF16 (SGLang's SGLANG_NVFP4_CKPT_FP8_NEXTN_MOE doc: its MoE is
    BF16 in the checkpoint) with its own embedding and head. The checkpoint's mix (wo FP4, q/kv
    BF16) gives it within 0.1%; uniform NVFP4 (391.8B) and the v1 split (396.8B) do not."""
    spec = load_model("deepseek-r1")
    b = count_params(spec).breakdown
    share = attention_out_share(spec, count_params(spec))
    bf16 = 2 * (b["embedding"] + b["lm_head"]) + b["router"] + b["norms"] + b["mtp"]
    linear = b["routed_experts"] + b["shared_experts"] + b["dense_ffn"]

    def elements(fp4_share_of_attention: float) -> float:
        attn = b["attention"]
        fp4 = linear + attn * fp4_share_of_attention
        return bf16 + attn * (1 - fp4_share_of_attention) + fp4 * (0.5 + 1 / 16)

    assert elements(share) == pytest.approx(393.6e9, rel=0.001)
    assert elements(1.0) < 393.6e9 * 0.996 and elements(0.0) > 393.6e9 * 1.004
