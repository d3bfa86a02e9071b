"""Regenerate model_specs/*.yaml and moeplan/data/gpus.yaml from ../shared/reference.

Provenance tool, run by hand when the reference data changes; the generated files are committed
and are what the package ships. Published config fields are copied as published; the ANNOTATIONS
below add catalog ids, aliases and what the official counts include, each with its reason.
Usage: python tools/build_catalog.py [REFERENCE_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from moeplan.model.quant_config import native_quant_of  # noqa: E402
from tools.catalog_2026 import build_models_2026  # noqa: E402

NATIVE_NOTES = {
    "bf16": "published checkpoint in BF16 (torch_dtype)",
    "fp8-block": "block FP8 (e4m3) linear weights with one fp32 scale per 128x128 block "
    "(quantization_config); embeddings, LM head, router and norms BF16",
    "bf16,experts=mxfp4": "MXFP4 experts (quantization_config quant_method mxfp4); attention, "
    "router, embeddings and LM head BF16 (modules_to_not_convert)",
    "int8": "int8 weights (QuantizedWeight8bit) in the released checkpoint",
}

# reference id -> catalog id, aliases, native precision, notes on official counts.
ANNOTATIONS: dict[str, dict] = {
    "Mixtral-8x7B-v0.1": dict(
        id="mixtral-8x7b",
        aliases=[
            "mixtral",
            "mixtral-8x7b-v0.1",
            "mixtral-8x7b-instruct",
            "mixtral-8x7b-instruct-v0.1",
        ],
        official=dict(active_convention="with_embedding"),
    ),
    "Mixtral-8x22B-v0.1": dict(
        id="mixtral-8x22b",
        aliases=["mixtral-8x22b-v0.1", "mixtral-8x22b-instruct", "mixtral-8x22b-instruct-v0.1"],
        official=dict(active_convention="with_embedding"),
    ),
    "DeepSeek-V3": dict(
        id="deepseek-v3",
        aliases=["dsv3", "deepseek-v3-0324", "deepseek-v3.1"],
        official=dict(
            active_convention="without_input_embedding",
            total_excludes=["mtp"],
            note="671B is the main model; the HF checkpoint adds the MTP "
            "module (685B on disk). README_WEIGHTS says 36.7B "
            "includes 0.9B embedding and 0.9B head; the architecture "
            "gives 36.63B with the head and without the input "
            "embedding, 37.55B with both: 36.7B matches the former.",
        ),
    ),
    "DeepSeek-R1": dict(
        id="deepseek-r1", aliases=["r1", "deepseek-r1-0528"], official_from="DeepSeek-V3"
    ),
    "DeepSeek-V2": dict(id="deepseek-v2", aliases=["deepseek-v2-chat", "deepseek-v2.5"]),
    "DeepSeek-V2-Lite": dict(id="deepseek-v2-lite", aliases=["deepseek-v2-lite-chat"]),
    "Grok-1": dict(
        id="grok-1",
        aliases=["grok"],
        native="int8",
        official=dict(active_convention="with_embedding"),
    ),
    "Llama-4-Scout-17B-16E": dict(
        id="llama-4-scout",
        aliases=["llama4-scout", "llama-4-scout-17b-16e", "llama-4-scout-17b-16e-instruct"],
        official=dict(
            active_convention="with_embedding",
            total_includes=["vision_encoder"],
            not_in_config=["vision_encoder"],
            note="The official total includes the vision encoder, which this "
            "(text_config) config does not describe.",
        ),
    ),
    "Llama-4-Maverick-17B-128E": dict(
        id="llama-4-maverick",
        aliases=[
            "llama4-maverick",
            "llama-4-maverick-17b-128e",
            "llama-4-maverick-17b-128e-instruct",
        ],
        official=dict(
            active_convention="with_embedding",
            total_includes=["vision_encoder"],
            not_in_config=["vision_encoder"],
            note="The official total includes the vision encoder, which this "
            "(text_config) config does not describe.",
        ),
    ),
    "Qwen3-235B-A22B": dict(id="qwen3-235b-a22b", aliases=["qwen3-235b"]),
    "Qwen3-30B-A3B": dict(id="qwen3-30b-a3b", aliases=["qwen3-30b"]),
    "Qwen2-57B-A14B": dict(
        id="qwen2-57b-a14b",
        aliases=["qwen2-57b", "qwen2-57b-a14b-instruct"],
        fill=dict(
            vocab_size=(
                151936,
                "vocab_size is null in the reference copy "
                "(cut off in the excerpt); 151936 is the Qwen2 tokenizer size "
                "used by every Qwen2/Qwen2-MoE config. Verify against "
                "Qwen/Qwen2-57B-A14B.",
            )
        ),
    ),
    "Qwen1.5-MoE-A2.7B": dict(id="qwen1.5-moe-a2.7b", aliases=["qwen1.5-moe", "qwen-moe-a2.7b"]),
    "gpt-oss-120b": dict(id="gpt-oss-120b", aliases=["gpt-oss-120"]),
    "gpt-oss-20b": dict(id="gpt-oss-20b", aliases=["gpt-oss-20"]),
    "DBRX": dict(id="dbrx", aliases=["dbrx-base", "dbrx-instruct"]),
    "Kimi-K2-Instruct": dict(id="kimi-k2", aliases=["kimi-k2-instruct", "kimi-k2-base"]),
    "GLM-4.5": dict(id="glm-4.5", aliases=["glm4.5", "glm-4-5"]),
    "GLM-4.5-Air": dict(id="glm-4.5-air", aliases=["glm4.5-air", "glm-4-5-air"]),
    "OLMoE-1B-7B-0924": dict(id="olmoe-1b-7b", aliases=["olmoe", "olmoe-1b-7b-0924"]),
    "Phi-3.5-MoE-instruct": dict(id="phi-3.5-moe", aliases=["phi-3.5-moe-instruct", "phimoe"]),
}

_CARD = "medium: the publisher's figure as quoted by moeplan; not in shared/reference"


def _card(total: float, active: float, source: str, convention: str, **kw) -> dict:
    return dict(
        total=total,
        active=active,
        source=source,
        confidence=_CARD,
        active_convention=convention,
        **kw,
    )


OFFICIAL_OUTSIDE_REFERENCE: dict[str, dict] = {
    "DeepSeek-V2": _card(
        236e9,
        21e9,
        "arXiv:2405.04434 (DeepSeek-V2 report): 236B total, 21B activated",
        "without_input_embedding",
    ),
    "DeepSeek-V2-Lite": _card(
        15.7e9,
        2.4e9,
        "arXiv:2405.04434 appendix B: DeepSeek-V2-Lite 15.7B total, 2.4B activated",
        "without_input_embedding",
    ),
    "Qwen3-235B-A22B": _card(
        235e9,
        22e9,
        "huggingface.co/Qwen/Qwen3-235B-A22B model card: 235B "
        "in total and 22B activated; 234B non-embedding",
        "with_embedding",
    ),
    "Qwen3-30B-A3B": _card(
        30.5e9,
        3.3e9,
        "huggingface.co/Qwen/Qwen3-30B-A3B model card: 30.5B in "
        "total and 3.3B activated; 29.9B non-embedding",
        "with_embedding",
    ),
    "Qwen2-57B-A14B": _card(
        57e9, 14e9, "arXiv:2407.10671 (Qwen2 report): 57B total, 14B activated", "with_embedding"
    ),
    "Qwen1.5-MoE-A2.7B": _card(
        14.3e9,
        2.7e9,
        "Qwen blog 'Qwen1.5-MoE: Matching 7B Model "
        "Performance with 1/3 Activated Parameters': 14.3B total, 2.7B "
        "activated (2.0B non-embedding)",
        "with_embedding",
    ),
    "gpt-oss-120b": _card(
        116.83e9,
        5.13e9,
        "arXiv:2508.10925 (gpt-oss-120b & gpt-oss-20b model "
        "card) table 1: 116.83B total, 5.13B active",
        "without_input_embedding",
    ),
    "gpt-oss-20b": _card(
        20.91e9,
        3.61e9,
        "arXiv:2508.10925 (gpt-oss model card) table 1: 20.91B total, 3.61B active",
        "without_input_embedding",
    ),
    "DBRX": _card(
        132e9,
        36e9,
        "Databricks blog 'Introducing DBRX' (2024-03-27): 132B total, 36B active",
        "without_input_embedding",
    ),
    "Kimi-K2-Instruct": _card(
        1e12,
        32e9,
        "github:MoonshotAI/Kimi-K2 README: 1T total, 32B activated",
        "without_input_embedding",
        note="DeepSeek-V3 architecture; counted like DeepSeek-V3 (LM head "
        "in, input embedding out).",
    ),
    "GLM-4.5": _card(
        355e9,
        32e9,
        "github:zai-org/GLM-4.5 README: 355B total, 32B active",
        "without_embeddings",
        note="Counts exclude the MTP layer; active excludes embedding and head.",
    ),
    "GLM-4.5-Air": _card(
        106e9,
        12e9,
        "github:zai-org/GLM-4.5 README: 106B total, 12B active",
        "without_embeddings",
        note="Counts exclude the MTP layer; active excludes embedding and head.",
    ),
    "OLMoE-1B-7B-0924": _card(
        6.9e9, 1.3e9, "arXiv:2409.02060 (OLMoE): 6.9B total, 1.3B active", "with_embedding"
    ),
    "Phi-3.5-MoE-instruct": _card(
        42e9,
        6.6e9,
        "huggingface.co/microsoft/Phi-3.5-MoE-instruct model card: 6.6B active, 42B total",
        "with_embedding",
    ),
}

# Grok-1's released checkpoint stores weights as int8 (QuantizedWeight8bit); the rest ship as
# their torch_dtype or quantization_config says
# (read by moeplan.model.quant_config.native_quant_of).


def build_models(reference: Path) -> None:
    data = yaml.safe_load((reference / "models.yaml").read_text())
    records = {m["id"]: m for m in data["models"]}
    out_dir = ROOT / "model_specs"
    for ref_id, ann in ANNOTATIONS.items():
        rec = records[ref_id]
        config = dict(rec["config"])
        if ref_id == "Grok-1":
            config["model_type"] = "grok-1"
        notes = [rec["config_notes"]] if rec.get("config_notes") else []
        for key, (value, why) in ann.get("fill", {}).items():
            config[key] = value
            notes.append(f"{key} = {value} filled in by moeplan: {why}")
        doc: dict = {
            "id": ann["id"],
            "name": ref_id,
            "aliases": ann["aliases"],
            "hf_repo": rec.get("hf_repo"),
            "config_source": rec.get("config_source", []),
            "config_confidence": rec.get("config_confidence"),
            "notes": notes,
        }
        doc["native_precision"] = ann.get("native") or native_quant_of(config)
        doc["native_precision_note"] = NATIVE_NOTES.get(doc["native_precision"], "")
        official = (
            rec.get("official_params")
            or OFFICIAL_OUTSIDE_REFERENCE.get(ref_id)
            or records.get(ann.get("official_from", ""), {}).get("official_params")
        )
        if official:
            doc["official_params"] = {"total_includes": [], **official, **ann.get("official", {})}
            if "official_from" in ann:
                doc["official_params"] = {
                    **doc["official_params"],
                    **ANNOTATIONS[ann["official_from"]].get("official", {}),
                    "note": "same architecture as DeepSeek-V3; counts of V3",
                }
        doc["config"] = config
        header = (
            f"# {ref_id}: generated by tools/build_catalog.py from shared/reference/models.yaml\n"
        )
        (out_dir / f"{ann['id']}.yaml").write_text(
            header + yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True)
        )


# reference id -> catalog id, aliases, runtime-visible memory and interconnect facts.
# memory_bytes: what the runtime reports where a source in gpus.yaml says so, else the label
# in decimal GB (the conservative reading). Interconnect bandwidth is per direction per GPU.
GIB = 1024**3
MIB = 1024**2
A100_HOST_LINK_SOURCE = (
    "https://digit.in/news/general/nvidia-ampere-gpus-to-have-pcie-40-support-54223.html/amp "
    '(the host link, "the NVIDIA HGX A100 4 GPU board with four direct-attached NVIDIA A100 T'
    'ensor Core GPUs using PCI-E 4.0"; x16 as the CUDA samples bandwidthTest pinned 25.7 GB/s'
    " on a DGX A100, perf/offload_link.py)"
)

GPU_ANNOTATIONS: dict[str, dict] = {
    "H100-SXM5-80GB": dict(
        id="h100-sxm",
        aliases=["h100", "h100-sxm5", "h100-80gb", "h100-80gb-hbm3", "h100-sxm5-80gb"],
        memory_bytes=(int(79.6 * GIB), "notes: usable HBM ~79.6 GiB"),
        link=("nvlink", 450),
    ),
    "H100-PCIe-80GB": dict(id="h100-pcie", aliases=["h100-pcie-80gb"], link=("pcie", 64)),
    "H200-SXM-141GB": dict(
        id="h200",
        aliases=["h200-sxm", "h200-141gb", "h200-sxm-141gb"],
        memory_bytes=(141 * GIB, "aiconfigurator h200_sxm.yaml: 141 GiB"),
        link=("nvlink", 450),
    ),
    "B200-SXM-180GB": dict(
        id="b200",
        aliases=["b200-sxm", "b200-180gb"],
        memory_bytes=(180 * GIB, "aiconfigurator b200_sxm.yaml: 180GiB"),
        link=("nvlink", 900),
    ),
    "A100-SXM4-80GB": dict(
        id="a100-80gb",
        aliases=["a100", "a100-sxm4-80gb", "a100-sxm"],
        link=("nvlink", 300),
        pcie=(4, 16),
        sources=[A100_HOST_LINK_SOURCE],
    ),
    "A100-SXM4-40GB": dict(
        id="a100-40gb",
        aliases=["a100-sxm4-40gb", "a100-pcie-40gb"],  # the latter: an nvidia-smi name
        link=("nvlink", 300),
        pcie=(4, 16),
        sources=[A100_HOST_LINK_SOURCE],
    ),
    "L40S": dict(
        id="l40s",
        aliases=["l40s-48gb"],
        memory_bytes=(46068 * MIB, "aiconfigurator l40s.yaml: 46068 MiB usable"),
        link=("pcie", 32),
    ),
    "L4": dict(id="l4", aliases=["l4-24gb"], link=("pcie", 32)),
    "RTX-4090": dict(
        id="rtx-4090",
        aliases=["4090", "geforce-rtx-4090"],
        memory_bytes=(
            24563 << 20,
            "llama.cpp device log 'NVIDIA GeForce RTX 4090 ... VRAM: 24563 MiB' "
            "(ggml-org/llama.cpp issue 22319)",
        ),
        link=("pcie", 32),
        sm_count=128,  # 512 tensor cores (llm.c mfu.h, in the sources) / 4 per Ada SM
    ),
    "RTX-3090": dict(
        id="rtx-3090",
        aliases=["3090", "geforce-rtx-3090"],
        memory_bytes=(
            24575 << 20,
            "llama.cpp device logs 'NVIDIA GeForce RTX 3090 ... VRAM: 24575 MiB' (Linux runs in "
            "the code index)",
        ),
        link=("pcie", 32),
        sm_count=82,  # 328 tensor cores (llm.c scaling, in the sources) / 4 per Ampere SM
        # GA102 whitepaper v2, Appendix A (GeForce RTX 3090): Peak INT8 Tensor TOPS 284 dense /
        # 568 with sparsity. Check: 82 SMs x 1024 dense INT8 MACs per SM per clock (2x the 512
        # dense FP16 FMAs per GA10x SM of the whitepaper's tensor-core table) x 2 x 1.695 GHz
        # boost = 284.7. INT8 accumulates in INT32 at full rate on GeForce (FP16 with FP32
        # accumulate is the half-rate one, hence bf16 71).
        peaks=dict(
            int8=284.0,
            source="NVIDIA Ampere GA102 GPU architecture whitepaper v2, Appendix A, GeForce RTX "
            "3090: Peak INT8 Tensor TOPS 284/568 (dense/sparse; the PDF was not in the stored "
            "corpus, so checked by arithmetic: 82 SMs x 1024 dense INT8 MAC/clk, twice the "
            "whitepaper's 512 dense FP16 FMA per GA10x SM as quoted in NVIDIA developer forum "
            "thread 314261, x 2 x 1.695 GHz boost = 284.7)",
            note="That 285 stays unused: int8_tops 284 is the GA102 whitepaper's dense INT8 "
            "tensor figure (tools/build_catalog.py).",
        ),
    ),
    "MI300X": dict(
        id="mi300x",
        aliases=["amd-mi300x", "instinct-mi300x"],
        memory_bytes=(192 * GIB, "ROCm gpu-arch-specs: VRAM 192 GiB"),
        link=("infinity-fabric", 448),
        # AMD's own end note, same figures as the catalog's bf16 1307.4 / fp8 2614.9 (dense;
        # sparsity doubles them separately): 4096 INT8 ops per CU per clock x 304 CUs x 2.1 GHz.
        peaks=dict(
            int8=2614.9,
            source="AMD, Introducing AMD CDNA 3 Architecture white paper, end notes "
            "(AMD Performance Labs, Nov 11 2023, MI300X 750 W at 2,100 MHz peak boost): "
            "1307.4 TFLOPS FP16/BF16, 2614.9 TFLOPS FP8, 2614.9 TOPs INT8 (dense)",
        ),
    ),
    "MI325X": dict(
        id="mi325x",
        aliases=["amd-mi325x", "instinct-mi325x"],
        memory_bytes=(256 * GIB, "ROCm gpu-arch-specs: VRAM 256 GiB"),
        link=("infinity-fabric", 448),
    ),
    "Apple-M2-Ultra": dict(id="m2-ultra", aliases=["apple-m2-ultra"], link=("none", 0)),
    "Apple-M3-Max": dict(id="m3-max", aliases=["apple-m3-max"], link=("none", 0)),
    "Apple-M2-Max": dict(id="m2-max", aliases=["apple-m2-max"], link=("none", 0)),
    "H20-96GB": dict(id="h20", aliases=["h20-96gb"], link=("nvlink", 450)),
    "H800-SXM-80GB": dict(id="h800", aliases=["h800-sxm", "h800-80gb"], link=("nvlink", 200)),
    "DGX-Spark-GB10": dict(id="gb10", aliases=["dgx-spark", "spark"], link=("none", 0)),
    "RTX-PRO-6000-Blackwell-Server": dict(
        id="rtx-pro-6000",
        aliases=["rtx-pro-6000-blackwell", "rtx-pro-6000-server"],
        memory_bytes=(97887 * MIB, "aiconfigurator rtx_pro_6000_server.yaml: 97887 MiB"),
        link=("pcie", 64),
        # NVIDIA quotes "up to 4 PFLOPS of FP4, 2 PFLOPS of FP8 and 1 PFLOP of BF16/FP16" (as
        # cited by jarvislabs.ai/blog/nvfp4-rtxpro-6000): its RTX "AI TOPS" figures are with
        # 2:4 sparsity (4,000 AI TOPS = FP4 sparse), so the dense peaks are half of each.
        peaks=dict(
            bf16=500.0,
            fp8=1000.0,
            fp4=2000.0,
            source="NVIDIA RTX PRO 6000 Blackwell: 4 PFLOPS FP4 / 2 PFLOPS FP8 / 1 PFLOP BF16 "
            "with sparsity (quoted at https://jarvislabs.ai/blog/nvfp4-rtxpro-6000; 4,000 AI "
            "TOPS is NVIDIA's FP4-sparse figure): dense = half",
        ),
    ),
}
# Infinity Fabric: 7 links x 64 GB/s per direction (third-party figure noted in gpus.yaml).
# PCIe Gen4 x16 = 32 GB/s, Gen5 x16 = 64 GB/s per direction (PCIe specification).


HAND_WRITTEN = "# --- hand-written entries below (kept by tools/build_catalog.py) ---"


def build_gpus(reference: Path) -> None:
    data = yaml.safe_load((reference / "gpus.yaml").read_text())
    out = []
    for rec in data["gpus"]:
        ann = GPU_ANNOTATIONS[rec["id"]]
        label = rec["memory_GB"]
        mem, mem_src = ann.get("memory_bytes", (int(label * 1e9), "label, decimal GB"))
        kind, link = ann["link"]
        peaks = ann.get("peaks", {})
        out.append(
            {
                "id": ann["id"],
                "name": rec["id"].replace("-", " "),
                "aliases": ann["aliases"],
                "vendor": rec["vendor"],
                "memory_label_gb": label,
                "memory_bytes": mem,
                "memory_bytes_source": mem_src,
                "mem_bw_gbps": rec["mem_bw_GBps"],
                "bf16_tflops": rec.get("bf16_dense_TFLOPS") or peaks.get("bf16"),
                "fp8_tflops": rec.get("fp8_dense_TFLOPS") or peaks.get("fp8"),
                "int8_tops": rec.get("int8_dense_TOPS") or peaks.get("int8"),
                "fp4_tflops": rec.get("fp4_dense_TFLOPS") or peaks.get("fp4"),
                "interconnect": {
                    "kind": kind,
                    "per_direction_gbps": link,
                    "published": (rec.get("interconnect") or {}).get("type"),
                },
                **(
                    {"pcie": {"gen": ann["pcie"][0], "lanes": ann["pcie"][1]}}
                    if "pcie" in ann
                    else {}
                ),
                **({"sm_count": ann["sm_count"]} if "sm_count" in ann else {}),
                "tdp_w": rec.get("tdp_W"),
                "sources": rec.get("sources", [])
                + ([peaks["source"]] if peaks else [])
                + ann.get("sources", []),
                "notes": " ".join(n for n in (rec.get("notes", ""), peaks.get("note", "")) if n),
            }
        )
    header = (
        "# generated by tools/build_catalog.py from shared/reference/gpus.yaml; dense figures\n"
    )
    target = ROOT / "moeplan" / "data" / "gpus.yaml"
    # entries written by hand after HAND_WRITTEN (cards not in the reference) are kept
    old = target.read_text() if target.exists() else ""
    tail = old[old.index(HAND_WRITTEN) :] if HAND_WRITTEN in old else ""
    target.write_text(
        header
        + yaml.safe_dump({"gpus": out}, sort_keys=False, width=100, allow_unicode=True)
        + tail
    )


# How moeplan reads each published measurement: model, precision, GPU, layout, engine profile,
# batch, lengths and the metric's definition. `skip` gives the reason a record is not predicted;
# `far_from_roofline` marks records reported but left out of the median (the reason quoted).
def _m(
    model, quant, gpu, engine, metric, batch=1, input_len=1, output_len=1, tp=1, pp=1, **kw
) -> dict:
    return dict(
        model=model,
        quant=quant,
        gpu=gpu,
        engine=engine,
        metric=metric,
        batch=batch,
        input_len=input_len,
        output_len=output_len,
        tp=tp,
        pp=pp,
        **kw,
    )


_QWEN_SPEED = (
    "Qwen speed = (prompt + generated tokens) / wall time: predicted as "
    "(input + output) / (TTFT + (output - 1) x TPOT)"
)
MEASUREMENT_READINGS: dict[str, dict] = {
    "qwen3-30b-a3b_h20_sglang_bf16_in1": _m(
        "qwen3-30b-a3b",
        "bf16",
        "h20",
        "sglang",
        "speed",
        input_len=1,
        output_len=2048,
        reading=_QWEN_SPEED,
    ),
    "qwen3-30b-a3b_h20_sglang_gptqint4_in1": _m(
        "qwen3-30b-a3b",
        "int4",
        "h20",
        "sglang",
        "speed",
        input_len=1,
        output_len=2048,
        reading=_QWEN_SPEED,
        far_from_roofline="the Qwen doc warns GPTQ-INT4 in SGLang "
        "'needs improvement': slower than BF16, kernel-bound",
    ),
    "qwen3-30b-a3b_h20_sglang_bf16_in6144": _m(
        "qwen3-30b-a3b",
        "bf16",
        "h20",
        "sglang",
        "speed",
        input_len=6144,
        output_len=2048,
        reading=_QWEN_SPEED,
    ),
    "qwen3-30b-a3b_h20_hf_bf16_in1": _m(
        "qwen3-30b-a3b",
        "bf16",
        "h20",
        "vllm",
        "speed",
        input_len=1,
        output_len=2048,
        reading=_QWEN_SPEED,
        far_from_roofline="HF Transformers' per-expert Python loop; the "
        "record is useful for its memory figure only (predicted with the vllm profile)",
    ),
    "gpt-oss-20b_gb10_llamacpp_tg32": _m(
        "gpt-oss-20b",
        "q8_0,experts=mxfp4",
        "gb10",
        "llamacpp",
        "decode_tokens_per_s",
        input_len=1,
        output_len=32,
        reading="llama-bench tg32: 32 tokens decoded at batch 1 from "
        "an empty context; 1 / TPOT. GGUF: MXFP4 experts, Q8_0 rest (11.27 GiB file)",
    ),
    "gpt-oss-20b_gb10_llamacpp_pp2048": _m(
        "gpt-oss-20b",
        "q8_0,experts=mxfp4",
        "gb10",
        "llamacpp",
        "prefill_tokens_per_s",
        input_len=2048,
        skip="GB10 has no published tensor TFLOPS in gpus.yaml: a compute-bound "
        "prefill cannot be predicted without a calibration",
    ),
    "mixtral-8x7b_m2max_llamacpp_q4km_tg128": _m(
        "mixtral-8x7b",
        "q4_k_m",
        "m2-max",
        "llamacpp",
        "decode_tokens_per_s",
        input_len=1,
        output_len=128,
        reading="llama-bench tg128 at batch 1; 1 / TPOT. moeplan's q4_k_m is "
        "today's llama.cpp mix (26.4 GiB); this Dec-2023 file was 24.62 GiB",
    ),
    "qwen3-235b-a22b_8xh20_sglang_bf16_in1": _m(
        "qwen3-235b-a22b",
        "bf16",
        "h20",
        "sglang",
        "speed",
        input_len=1,
        output_len=2048,
        tp=8,
        reading=_QWEN_SPEED,
    ),
    "mixtral-8x7b_8xh100_vllm_tp8_bs1_latency": _m(
        "mixtral-8x7b",
        "bf16",
        "h100-sxm",
        "vllm-v0",
        "end_to_end_s",
        input_len=1000,
        output_len=50,
        tp=8,
        reading="benchmark_latency.py: one whole batch, prefill of 1000 "
        "tokens then 49 more decode steps; H100 SXM assumed (not stated)",
    ),
    "mixtral-8x7b_2xh100_vllm_tp2_itl_qps1": _m(
        "mixtral-8x7b",
        "bf16",
        "h100-sxm",
        "vllm-v0",
        "tpot_ms",
        input_len=1000,
        output_len=50,
        tp=2,
        reading="ITL at 1 request/s with 0.85 s per request: about one request in flight, "
        "read as batch 1 TPOT",
    ),
    "deepseek-v3_8xmi300x_llamacpp_q4km_tg128": _m(
        "deepseek-v3",
        "q4_k_m",
        "mi300x",
        "llamacpp",
        "decode_tokens_per_s",
        input_len=1,
        output_len=128,
        pp=8,
        reading="llama.cpp's default layer split = 8 pipeline stages that "
        "run one after another at batch 1; 1 / TPOT",
    ),
    "deepseek-v3r1_h800_production_decode": dict(
        skip="production averages over a day on 144 GPUs "
        "(batch, lengths and cache hits are not one setting)"
    ),
    "gpt-oss-120b_8xb200_vllm_sharegpt": dict(
        skip="serving ShareGPT at infinite request rate: the "
        "running batch is set by the scheduler, not stated"
    ),
    "qwen2-57b-a14b_2xa100_vllm_throughput": dict(
        skip="offline throughput of 1000 prompts: the "
        "running batch is set by vLLM's scheduler, not stated"
    ),
    "qwen3-235b-a22b_8xh100_trtllm_fp8_1k1k": dict(skip="max-throughput run: batch not stated"),
    "llama4-scout_4xh100_trtllm_fp8_1k1k": dict(skip="max-throughput run: batch not stated"),
}


def build_measurements(reference: Path) -> None:
    data = yaml.safe_load((reference / "measurements.yaml").read_text())
    for rec in data["measurements"]:
        rec["moeplan"] = MEASUREMENT_READINGS[rec["id"]]
    header = (
        "# generated by tools/build_catalog.py from shared/reference/measurements.yaml; each\n"
        "# record as published plus `moeplan:`, how moeplan reads it\n"
    )
    (ROOT / "moeplan" / "data" / "measurements.yaml").write_text(
        header + yaml.safe_dump(data, sort_keys=False, width=100, allow_unicode=True)
    )


if __name__ == "__main__":
    ref = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "reference"
    build_models(ref)
    build_models_2026(ref, ROOT / "model_specs", native_quant_of)
    build_gpus(ref)
    build_measurements(ref)
