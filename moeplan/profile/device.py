"""Which device is this: NVML (nvidia-ml-py, imported as pynvml) for name, memory, driver,
clocks and power limit, else torch; matched to the GPU catalog by name."""

from __future__ import annotations

import contextlib
import platform
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from moeplan.errors import ProfileUnavailable
from moeplan.hardware.gpus import GPU, gpu_catalog

# NVML/torch device names -> catalog ids, most specific first.
_NAME_PATTERNS = (
    (r"H100.*PCIe", "h100-pcie"),
    (r"H100", "h100-sxm"),
    (r"H200", "h200"),
    (r"H800", "h800"),
    (r"H20\b", "h20"),
    (r"B200", "b200"),
    (r"A100.*40GB", "a100-40gb"),
    (r"A100", "a100-80gb"),
    (r"L40S", "l40s"),
    (r"\bL4\b", "l4"),
    (r"RTX 4090", "rtx-4090"),
    (r"RTX 3090", "rtx-3090"),
    (r"RTX PRO 6000", "rtx-pro-6000"),
    (r"MI300X", "mi300x"),
    (r"MI325X", "mi325x"),
    (r"GB10", "gb10"),
)


def match_catalog(name: str) -> GPU | None:
    for pattern, gid in _NAME_PATTERNS:
        if re.search(pattern, name, re.IGNORECASE):
            return gpu_catalog()[gid]
    return None


@dataclass
class DeviceInfo:
    kind: str  # "cuda" or "cpu"
    name: str
    catalog_id: str | None
    memory_bytes: int | None
    identity_source: str  # "nvml", "torch" or "cpu"
    driver: str | None = None
    clocks_mhz: dict[str, int] = field(default_factory=dict)
    power_limit_w: float | None = None
    compute_capability: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)


def _nvml(index: int) -> dict[str, Any] | None:
    """Read identity from NVML; None when nvidia-ml-py or the driver library is missing."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:
        return None
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        name = pynvml.nvmlDeviceGetName(handle)
        name = name.decode() if isinstance(name, bytes) else name
        driver = pynvml.nvmlSystemGetDriverVersion()
        clocks = {}
        for label, clock in (("sm_max", pynvml.NVML_CLOCK_SM), ("mem_max", pynvml.NVML_CLOCK_MEM)):
            with contextlib.suppress(Exception):
                clocks[label] = int(pynvml.nvmlDeviceGetMaxClockInfo(handle, clock))
        try:
            power = pynvml.nvmlDeviceGetPowerManagementLimit(handle) / 1000.0
        except Exception:
            power = None
        return {
            "name": name,
            "memory_bytes": int(pynvml.nvmlDeviceGetMemoryInfo(handle).total),
            "driver": driver.decode() if isinstance(driver, bytes) else driver,
            "clocks_mhz": clocks,
            "power_limit_w": power,
        }
    finally:
        pynvml.nvmlShutdown()


def detect_device(requested: str) -> DeviceInfo:
    """`requested` is "cuda" or "cpu". Without CUDA, "cuda" raises ProfileUnavailable."""
    try:
        import torch
    except ImportError:
        raise ProfileUnavailable("profile needs PyTorch: pip install 'moeplan[profile]'") from None
    if requested == "cpu":
        return DeviceInfo("cpu", platform.processor() or platform.machine(), None, None, "cpu")
    if not torch.cuda.is_available():
        raise ProfileUnavailable(
            "no CUDA GPU is visible to PyTorch; use --device cpu for the CPU "
            "path (tiny shapes, no calibration value for a GPU)"
        )
    index = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    cc = f"{props.major}.{props.minor}"
    nvml = _nvml(index)
    if nvml is not None:
        info = DeviceInfo(
            "cuda",
            nvml["name"],
            None,
            nvml["memory_bytes"],
            "nvml",
            nvml["driver"],
            nvml["clocks_mhz"],
            nvml["power_limit_w"],
            cc,
        )
    else:
        info = DeviceInfo(
            "cuda",
            props.name,
            None,
            int(props.total_memory),
            "torch",
            compute_capability=cc,
            warnings=[
                "NVML unavailable (nvidia-ml-py or driver library missing): "
                "identity came from torch"
            ],
        )
    gpu = match_catalog(info.name)
    if gpu is None:
        info.warnings.append(
            f"'{info.name}' is not in the GPU catalog: profiling anyway; the "
            "calibration cannot be matched to a catalog GPU"
        )
    else:
        info.catalog_id = gpu.id
    return info
