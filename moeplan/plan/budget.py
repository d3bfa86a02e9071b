"""CI budgets: the budget-file schema, its validation, and evaluating each limit.

A budget names a model and deployment and the limits it must hold; `moeplan check` exits 0 when
every limit holds, 1 when one is exceeded, 2 when a file is invalid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moeplan.errors import MoeplanError
from moeplan.yamlio import load_document

LIMITS = {
    # name: (what it bounds, True if the value must stay at or below the limit)
    "max_memory_fraction": ("busiest GPU's memory / its capacity", True),
    "max_gpus": ("GPUs needed to fit at max_memory_fraction (default 0.9)", True),
    "min_decode_tokens_per_s": ("decode tokens/s per sequence at the batch", False),
    "min_total_tokens_per_s": ("decode tokens/s of the whole batch", False),
    "max_ttft_ms": ("time to first token of one batch's prefill, ms", True),
    "max_tpot_ms": ("time per output token, ms", True),
    "max_weights_gb": ("weight memory, decimal GB", True),
    # serving (perf/serving.py): `batch` requests in flight, closed loop, chunked prefill
    "min_output_tok_s_per_gpu": ("serving: output tokens/s / GPUs at the concurrency", False),
    "min_output_tok_s_per_user": ("serving: OSL / (TTFT + OSL x TPOT) at the concurrency", False),
    "max_usd_per_million_tokens": ("serving: $ per million output tokens at the concurrency", True),
}
SERVING_LIMITS = (
    "min_output_tok_s_per_gpu",
    "min_output_tok_s_per_user",
    "max_usd_per_million_tokens",
)
FIELDS = {
    "name": str,
    "model": str,
    "quant": str,
    "kv_quant": str,
    "state_dtype": str,  # linear-attention / Mamba recurrent state (memory.cache)
    "text_only": bool,  # leave vision/audio towers out of the weights
    "gpu": str,
    "gpus": int,
    "tp": int,
    "ep": int,
    "pp": int,
    "nodes": int,
    "engine": str,
    "context": int,
    "batch": int,
    "concurrency": int,
    "input": int,
    "output": int,
    "calibration": str,
    "limits": dict,
    # expert offload (one GPU + host RAM); engine defaults to llamacpp when a host is named
    "host": str,
    "offload": str,
    "n_cpu_moe": int,
    "host_mem_gbps": float,
    "host_ram_gb": float,
    "host_cores": int,
    "host_sockets": int,
    "gpu_reserved_gb": float,  # VRAM other processes hold (offload only), decimal GB
    "gpu_hour_usd": float,  # price per GPU-hour for max_usd_per_million_tokens
}
ZERO_ALLOWED = {"n_cpu_moe", "gpu_reserved_gb"}
"""Fields whose 0 means something (no layer's experts in RAM; nothing else on the GPU), as their
CLI options --n-cpu-moe 0 and --gpu-reserved-gb 0 do."""
DEFAULT_OUTPUT = 128
MAX_GPUS = 4096  # as the CLI's --gpus/--max-gpus (cli/common.py)
MAX_COUNT = 1 << 31  # tokens, batch, and any other count
GPU_COUNTS = {"gpus", "tp", "ep", "pp", "nodes"}


@dataclass(frozen=True)
class Budget:
    file: str
    name: str
    model: str  # catalog id or a path resolved against the budget file
    gpu: str  # catalog id or a GPU YAML/JSON resolved against the budget file
    limits: dict[str, float]
    quant: str = "native"
    kv_quant: str = "bf16"
    state_dtype: str = "fp32"
    text_only: bool = False
    gpus: int | None = None
    tp: int | None = None
    ep: int | None = None
    pp: int | None = None
    nodes: int = 1
    engine: str | None = None  # vllm for a GPU-only budget, llamacpp for an offload one
    context: int = 4096
    batch: int = 1
    input: int | None = None
    output: int = DEFAULT_OUTPUT
    calibration: str | None = None
    host: str | None = None  # catalog id or a host YAML resolved against the budget file
    offload: str | None = None  # not given: experts when the budget names a host's figures
    n_cpu_moe: int | None = None
    host_mem_gbps: float | None = None
    host_ram_gb: float | None = None
    host_cores: int | None = None
    host_sockets: int | None = None
    gpu_reserved_gb: float | None = None
    gpu_hour_usd: float | None = None

    @property
    def offloaded(self) -> bool:
        return (
            self.host is not None
            or self.offload not in (None, "none")
            or self.n_cpu_moe is not None
            or self.gpu_reserved_gb is not None
        )

    @property
    def input_len(self) -> int:
        return self.input if self.input is not None else max(1, self.context - self.output)


@dataclass(frozen=True)
class LimitResult:
    budget: str
    file: str
    limit: str
    threshold: float
    value: float | None  # None: could not be computed (e.g. does not fit)
    upper: bool
    detail: str = ""

    def __post_init__(self) -> None:
        # a NaN would compare as a failed limit (exit 1): a defect, never a verdict
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError(f"{self.budget}: {self.limit} computed as {self.value}")

    @property
    def passed(self) -> bool:
        if self.value is None:
            return False
        return self.value <= self.threshold if self.upper else self.value >= self.threshold

    @property
    def headroom(self) -> float | None:
        """Fraction of the limit left (negative when exceeded)."""
        if self.value is None or self.threshold == 0:
            return None
        gap = self.threshold - self.value if self.upper else self.value - self.threshold
        fraction = gap / self.threshold
        return fraction if math.isfinite(fraction) else None  # a limit near 0: no fraction


@dataclass
class CheckReport:
    results: list[LimitResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def _bad(file: str, budget: str, message: str) -> MoeplanError:
    return MoeplanError(f"{file}: budget '{budget}': {message}")


def parse_budget_file(path: Path) -> list[Budget]:
    """Read and validate a budget file; every problem names the file, budget and field."""
    where = str(path)
    doc = load_document(path, where, "budget file")
    if not isinstance(doc, dict) or not isinstance(doc.get("budgets"), list):
        raise MoeplanError(f"{where}: expected a top-level 'budgets:' list")
    if not doc["budgets"]:
        raise MoeplanError(f"{where}: 'budgets:' is empty: nothing to check")
    unknown_top = set(doc) - {"budgets"}
    if unknown_top:
        raise MoeplanError(f"{where}: unknown top-level field '{sorted(unknown_top)[0]}'")
    budgets = [_parse_one(path, i, raw) for i, raw in enumerate(doc["budgets"])]
    names = [b.name for b in budgets]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise MoeplanError(f"{where}: budget name '{dup}' is used twice")
    return budgets


def _file_beside(path: Path, where: str, name: str, field: str, value: Any) -> Any:
    """A budget's host or GPU: a YAML/JSON file named there is read beside the budget file (its
    absolute path returned), anything else (a catalog id) as it is."""
    if not isinstance(value, str) or not value.lower().endswith((".yaml", ".yml", ".json")):
        return value
    resolved = (path.parent / value).resolve()
    if not resolved.is_file():
        raise _bad(where, name, f"field '{field}': no such file {resolved}")
    return str(resolved)


def _parse_one(path: Path, index: int, raw: Any) -> Budget:
    where = str(path)
    if not isinstance(raw, dict):
        raise MoeplanError(f"{where}: budget #{index + 1} must be a mapping")
    name = str(raw.get("name", f"#{index + 1}"))
    if not name.strip():
        raise MoeplanError(f"{where}: budget #{index + 1}: field 'name' must not be empty")
    if "batch" in raw and "concurrency" in raw:
        raise _bad(where, name, "fields 'batch' and 'concurrency' are one quantity: give one")
    for key, value in raw.items():
        if key not in FIELDS:
            raise _bad(where, name, f"unknown field '{key}'")
        expected = FIELDS[key]
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise _bad(where, name, f"field '{key}' must be {expected.__name__}, got {value!r}")
        zero_ok = key in ZERO_ALLOWED
        if isinstance(value, float) and not (value >= 0 if zero_ok else value > 0):  # NaN too
            need = "0 or more" if zero_ok else "positive"
            raise _bad(where, name, f"field '{key}' must be {need}, got {value}")
        least = 0 if zero_ok else 1
        if isinstance(value, int) and not isinstance(value, bool) and value < least:
            raise _bad(where, name, f"field '{key}' must be at least {least}, got {value}")
        top = MAX_GPUS if key in GPU_COUNTS else MAX_COUNT
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > top:
            raise _bad(where, name, f"field '{key}' must be at most {top}, got {value}")
    for key in ("model", "gpu", "limits"):
        if key not in raw:
            raise _bad(where, name, f"missing field '{key}'")
    limits = {}
    for key, value in raw["limits"].items():
        if key not in LIMITS:
            raise _bad(where, name, f"unknown field 'limits.{key}' (limits: {', '.join(LIMITS)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise _bad(
                where, name, f"field 'limits.{key}' must be a positive number, got {value!r}"
            )
        if key == "max_gpus" and value != int(value):
            raise _bad(where, name, f"field 'limits.max_gpus' must be a whole number, got {value}")
        limits[key] = float(value)
    if not limits:
        raise _bad(where, name, "field 'limits' is empty")
    if "max_memory_fraction" in limits and limits["max_memory_fraction"] > 1:
        raise _bad(where, name, "field 'limits.max_memory_fraction' must be at most 1")
    model = raw["model"]
    try:  # a file or folder beside the budget wins over a catalog id of the same name
        beside = (path.parent / model).expanduser()
        found = bool(model.strip()) and beside.exists()
    except (OSError, RuntimeError, ValueError) as exc:
        raise _bad(where, name, f"field 'model': {getattr(exc, 'strerror', None) or exc}") from None
    if not model.startswith("hf:") and (  # hf:org/name is a Hugging Face repo id
        found or model.endswith((".json", ".yaml", ".yml", ".gguf", ".safetensors"))
    ):
        resolved = beside.resolve()
        if not found:
            raise _bad(where, name, f"field 'model': no such file {resolved}")
        model = str(resolved)
    calibration = raw.get("calibration")
    if calibration is not None:
        resolved = (path.parent / calibration).resolve()
        if not resolved.is_file():
            raise _bad(where, name, f"field 'calibration': no such file {resolved}")
        calibration = str(resolved)
    host = _file_beside(path, where, name, "host", raw.get("host"))
    gpu = _file_beside(path, where, name, "gpu", raw["gpu"])
    batch = int(
        raw.get("batch") or raw.get("concurrency") or 1
    )  # type-checked against FIELDS above
    known = {
        k: v
        for k, v in raw.items()
        if k not in ("limits", "model", "calibration", "concurrency", "batch", "host", "gpu")
    }
    for key in ("quant", "kv_quant", "state_dtype", "engine", "offload"):  # names: case-free
        if isinstance(known.get(key), str):
            known[key] = known[key].lower()
    return Budget(
        file=where,
        model=model,
        limits=limits,
        calibration=calibration,
        host=host,
        gpu=gpu,
        batch=batch,
        **{**known, "name": name},
    )
