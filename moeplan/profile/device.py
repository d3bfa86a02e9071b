"""Which device is this: NVML (nvidia-ml-py, imported as pynvml) for name, memory, driver,
clocks and power limit, else torch; matched to the GPU catalog by exact name.

NVML is asked for the device torch runs on by its UUID, else its PCI bus id: never by torch's
index, which follows CUDA_VISIBLE_DEVICES while NVML's does not."""

from __future__ import annotations

import contextlib
import platform
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from moeplan.errors import ProfileUnavailable
from moeplan.hardware.gpus import GPU, gpu_catalog

# Device names as NVML/torch report them (the "NVIDIA " prefix dropped, case and spacing
# ignored) -> catalog id, or None for a known variant with different specs than any catalog
# entry: a calibration from it must not pass for a catalog GPU's.
KNOWN_DEVICE_NAMES: dict[str, str | None] = {
    "H100 80GB HBM3": "h100-sxm",
    "H100 SXM5 80GB": "h100-sxm",
    "H100 PCIe": "h100-pcie",
    "H100 NVL": None,  # 94 GB, 3.9 TB/s: neither h100-sxm (3.35 TB/s) nor h100-pcie
    "H200": "h200",
    "H200 NVL": None,  # 600 W PCIe card, lower clocks than the SXM h200
    "GH200 480GB": None,  # Grace Hopper: 96 GB HBM3, 4 TB/s
    "GH200 144G HBM3e": None,
    "H800": "h800",
    "H800 PCIe": None,
    "H20": "h20",
    "B200": "b200",
    "A100-SXM4-80GB": "a100-80gb",
    "A100-SXM4-40GB": "a100-40gb",
    "A100 80GB PCIe": None,  # 1.94 TB/s vs the SXM4's 2.04 TB/s
    "A100-PCIE-40GB": None,
    "L40S": "l40s",
    "L4": "l4",
    "GeForce RTX 4090": "rtx-4090",
    "GeForce RTX 4090 D": "rtx-4090d",
    "GeForce RTX 4080": "rtx-4080",
    "GeForce RTX 3090": "rtx-3090",
    "GeForce RTX 3090 Ti": "rtx-3090-ti",
    "GeForce RTX 5090": "rtx-5090",
    "RTX A6000": "rtx-a6000",
    "RTX PRO 6000 Blackwell Server Edition": "rtx-pro-6000",
    "RTX PRO 6000 Blackwell Workstation Edition": None,
    "GB10": "gb10",
    "AMD Instinct MI300X": "mi300x",
    "AMD Instinct MI325X": "mi325x",
}


def _norm(name: str) -> str:
    name = re.sub(r"\s+", " ", name.strip()).lower()
    return name.removeprefix("nvidia ")


_BY_NORM = {_norm(k): v for k, v in KNOWN_DEVICE_NAMES.items()}


def match_catalog(name: str) -> GPU | None:
    """The catalog GPU of exactly this device name; None for a known variant outside the
    catalog and for an unknown name (no guessing from substrings)."""
    gid = _BY_NORM.get(_norm(name))
    return None if gid is None else gpu_catalog()[gid]


def catalog_note(name: str) -> str | None:
    """Why `name` has no catalog entry, or None when it has one."""
    key = _norm(name)
    if key in _BY_NORM and _BY_NORM[key] is not None:
        return None
    if key in _BY_NORM:
        return (
            f"'{name}' is a known variant with no catalog entry (its specs differ from every "
            "catalog GPU): profiling anyway; the calibration matches no catalog GPU"
        )
    return (
        f"'{name}' is not in the GPU catalog: profiling anyway; the calibration matches no "
        "catalog GPU"
    )


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


def torch_device_ids(props: Any) -> tuple[str | None, str | None]:
    """(NVML UUID "GPU-...", PCI bus id "dddddddd:bb:dd.0") of a torch device's properties,
    each None where this torch does not report it."""
    uuid = getattr(props, "uuid", None)
    uuid_s = None
    if uuid is not None and str(uuid):
        uuid_s = str(uuid)
        if not uuid_s.startswith(("GPU-", "MIG-")):
            uuid_s = "GPU-" + uuid_s
    bus = getattr(props, "pci_bus_id", None)
    dev = getattr(props, "pci_device_id", None)
    dom = getattr(props, "pci_domain_id", 0) or 0
    pci = None if bus is None or dev is None else f"{int(dom):08x}:{int(bus):02x}:{int(dev):02x}.0"
    return uuid_s, pci


def _nvml_handle(pynvml: Any, props: Any) -> tuple[Any, str]:
    """The NVML handle of the device torch uses, found by UUID then by PCI bus id; (None,
    why) when neither finds it."""
    uuid, pci = torch_device_ids(props)
    if uuid is not None:
        with contextlib.suppress(Exception):
            return pynvml.nvmlDeviceGetHandleByUUID(uuid), f"uuid {uuid}"
    if pci is not None:
        with contextlib.suppress(Exception):
            return pynvml.nvmlDeviceGetHandleByPciBusId(pci), f"pci {pci}"
    return None, f"NVML has no device with torch's uuid {uuid} or PCI bus id {pci}"


def _nvml(props: Any) -> dict[str, Any] | None:
    """Read identity from NVML for the device torch reports as `props`; None when
    nvidia-ml-py or the driver library is missing. {"error": why} when NVML cannot find it."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:
        return None
    try:
        handle, matched = _nvml_handle(pynvml, props)
        if handle is None:
            return {"error": matched}
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
            "matched_by": matched,
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
    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    cc = f"{props.major}.{props.minor}"
    nvml = _nvml(props)
    warnings = []
    if nvml is not None and "error" not in nvml:
        info = DeviceInfo(
            "cuda",
            nvml["name"],
            None,
            nvml["memory_bytes"],
            f"nvml ({nvml['matched_by']})",
            nvml["driver"],
            nvml["clocks_mhz"],
            nvml["power_limit_w"],
            cc,
        )
    else:
        why = (
            "NVML unavailable (nvidia-ml-py or driver library missing)"
            if nvml is None
            else nvml["error"]
        )
        warnings.append(f"{why}: identity came from torch")
        info = DeviceInfo(
            "cuda", props.name, None, int(props.total_memory), "torch", compute_capability=cc
        )
    info.warnings.extend(warnings)
    gpu = match_catalog(info.name)
    if gpu is None:
        info.warnings.append(catalog_note(info.name) or "")
    else:
        info.catalog_id = gpu.id
    return info
