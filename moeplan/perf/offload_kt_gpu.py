"""What ktransformers V0.2.x keeps on the GPU besides its routed experts, read from its source
(kvcache-ai/ktransformers, `git show <commit>:<path>`; nothing here was measured): the formats it
re-quantizes the GPU weights to on load, and how it sizes its KV cache. Used by the
ktransformers-v02 offload profile (perf/offload_engines.py) through offload_placement.py's
gpu_side_scheme and engine_kv_cache_bytes."""

from __future__ import annotations

KT_V02_SOURCE = "kvcache-ai/ktransformers@94ab2de"
"""The build of ubergarm/r1-ktransformers-guide@4001d07's benchmarks (2025-02-22: after 7e1fe256
'optimize GPU' and 5ec33d04 'use marlin for lm_head', before 036ae25a 'fix bf16 load')."""

KT_MARLIN_FORMAT = "int4-g64-s32"
KT_MARLIN_SOURCE = (
    f"{KT_V02_SOURCE} ktransformers/optimize/optimize_rules/DeepSeek-V3-Chat.yaml:20-29: every "
    "nn.Linear under model.layers except kv_b_proj (attention q_a/q_b/kv_a/o, the dense layers' "
    "MLP, the shared experts) becomes KTransformersLinear with generate_op KLinearMarlin, and "
    "lm_head too (yaml:9-18, from 7e1fe256/5ec33d04; V0.2.0 7527619f has no lm_head rule and "
    "keeps it BF16, 1.85 GB for DeepSeek-V3); operators/linear.py:186-187 KLinearMarlin "
    "num_bits 4, group_size 64, whatever the GGUF type; in GENERATE mode only the Marlin copy "
    "is loaded (linear.py:457-461; yaml:68 per_layer_prefill_intput_threshold 0). GPU expert "
    "layers: operators/experts.py:301-305,319-326 KExpertsMarlin re-quantizes each expert the "
    "same way. Scales are FP32, so 4 + 32/64 = 4.5 bits a weight (Marlin(k, n) = k n / 2 + "
    "(k / 64) n 4 bytes): quantize_weights takes the scale dtype from the weight "
    "(custom_marlin/quantize/utils/quant_utils.py:61-62,80), which the GGUF dequant returns "
    "in FP32 (util/custom_gguf.py:289,353 target_dtype = torch.get_default_dtype() evaluated "
    "at import, before local_chat.py:78 / server/backend/interfaces/ktransformers.py:31 set "
    "BF16; the large-tensor buffer is dtype=torch.float, custom_gguf.py:337-339; V0.2.0's CUDA "
    "dequant outputs kFloat32, 8d5ebe49 ktransformers_ext/cuda/custom_gguf/dequant.cu:283,303). "
    "036ae25a made the ordinary linears' scales BF16 (4.25 bits); load_expert_tensor keeps FP32 "
    "through v0.2.4 (custom_gguf.py:310), so a DeepSeek GPU expert layer is 256 x (2 Marlin(7168, "
    "2048) + Marlin(2048, 7168)) = 6.342 GB ('Each layer of malin experts takes about 6GB', "
    "DeepSeek-V3-Chat-multi-gpu-4.yaml:187; the FAQ's 'at least 5.6GB' is the packed 4-bit q "
    "alone). kv_a_proj (576 outputs, padded) gets BF16 scales (linear.py:201-206,236-239), "
    "under 0.01 GB: not modelled"
)
KT_V02_EXCEPTIONS_SOURCE = (
    f"{KT_V02_SOURCE}: kv_b_proj is outside the Marlin rule (DeepSeek-V3-Chat.yaml:21) and "
    "loads to the GPU as BF16 (util/utils.py:61-76 load_cur_state_dict .to(bf16); 61 x 128 x "
    "256 x 512 x 2 B = 2.05 GB for DeepSeek-V3), absorbed MLA using views of it "
    "(operators/attention.py:58-64; still BF16 at v0.2.4); the router (ffn_gate_inp, F32 in "
    "the GGUF) is FP32 on the GPU (operators/gate.py:70-76,115-120: 58 x 256 x 7168 x 4 B = "
    "0.426 GB), BF16 after 036ae25a; the token embedding stays on the CPU (yaml:69-75 "
    "generate_device cpu); norms BF16 (~2 MB, counted at the GGUF's F32) and the Marlin "
    "workspaces (~3 MB) are not modelled"
)
KT_SERVER_CACHE_SOURCE = (
    f"{KT_V02_SOURCE} models/custom_cache.py:54-56,94: a static MLA latent cache in BF16 "
    "(DeepSeek-V3: 61 x 576 x 2 B = 70,272 B a token, pages of 64); local_chat sizes it to "
    "prompt + max_new_tokens (util/utils.py:137-139, the same through v0.2.4), the server to "
    "--cache_lens (server/backend/interfaces/ktransformers.py:54-60): record field cache_lens, "
    "CLI --cache-lens"
)

KT_V02_GPU_FORMATS: tuple[tuple[str, str], ...] = (
    ("attention", KT_MARLIN_FORMAT),
    ("attention_kv_b", "bf16"),
    ("dense_ffn", KT_MARLIN_FORMAT),
    ("shared_experts", KT_MARLIN_FORMAT),
    ("routed_experts", KT_MARLIN_FORMAT),
    ("lm_head", KT_MARLIN_FORMAT),
    ("router", "fp32"),
)
"""What ktransformers V0.2.x (at KT_V02_SOURCE) keeps on the GPU, by mix group (memory/quant.py
GROUPS; the GGUF's own types do not matter): KT_MARLIN_SOURCE, KT_V02_EXCEPTIONS_SOURCE."""
