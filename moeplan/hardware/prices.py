"""GPU-hour prices: the shipped, dated list (``moeplan/data/prices.yaml``), a user's own price
file in the same format, or one figure given on the command line. Every price carries its
provider, date and source, and the cost formulas live here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moeplan.data import data_path
from moeplan.errors import MoeplanError
from moeplan.yamlio import load_document, load_packaged_yaml

SECONDS_PER_HOUR = 3600
TOKENS_PER_MILLION = 1_000_000


@dataclass(frozen=True)
class Price:
    gpu: str
    usd_per_gpu_hour: float
    provider: str
    as_of: str | None  # the date the source gives for the price
    read: str | None  # when it was read
    source: str
    default: bool = False

    def describe(self) -> str:
        return (
            f"${self.usd_per_gpu_hour:.2f} per GPU-hour, {self.provider}, as of "
            f"{self.as_of or '-'} (read {self.read or '-'}), source: {self.source}"
        )


def usd_per_hour(price: Price, gpus: int) -> float:
    """A deployment of `gpus` GPUs for one hour."""
    return price.usd_per_gpu_hour * gpus


def usd_per_million_tokens(usd_hour: float, tokens_per_s: float) -> float | None:
    """$ per hour / tokens per hour x 1e6; None when nothing is produced."""
    if tokens_per_s <= 0:
        return None
    return usd_hour / (tokens_per_s * SECONDS_PER_HOUR) * TOKENS_PER_MILLION


def _parse(doc: Any, where: str) -> list[Price]:
    if not isinstance(doc, dict) or not isinstance(doc.get("prices"), list):
        raise MoeplanError(f"{where}: expected a mapping with a 'prices' list")
    out = []
    for i, rec in enumerate(doc["prices"]):
        if not isinstance(rec, dict):
            raise MoeplanError(f"{where}: prices[{i}] must be a mapping")
        for key in ("gpu", "usd_per_gpu_hour", "provider", "source"):
            if rec.get(key) in (None, ""):
                raise MoeplanError(f"{where}: prices[{i}] needs '{key}'")
        if not isinstance(rec["gpu"], str):
            raise MoeplanError(f"{where}: prices[{i}].gpu must be a GPU id, got {rec['gpu']!r:.40}")
        usd = rec["usd_per_gpu_hour"]
        if isinstance(usd, bool) or not isinstance(usd, int | float) or not usd > 0:
            raise MoeplanError(f"{where}: prices[{i}].usd_per_gpu_hour must be a positive number")
        out.append(
            Price(
                gpu=str(rec["gpu"]).lower(),
                usd_per_gpu_hour=float(usd),
                provider=str(rec["provider"]),
                as_of=None if rec.get("as_of") is None else str(rec["as_of"]),
                read=None if rec.get("read") is None else str(rec["read"]),
                source=str(rec["source"]),
                default=bool(rec.get("default", False)),
            )
        )
    return out


def shipped_prices() -> list[Price]:
    path = data_path("prices.yaml")
    return _parse(load_packaged_yaml(path, "moeplan/data/prices.yaml"), "moeplan/data/prices.yaml")


def load_price_file(path: str) -> list[Price]:
    """A user's price list; each entry's gpu is a catalog GPU id or alias (read as its id): a
    price for a GPU moeplan does not know would never be used, so it is refused."""
    from dataclasses import replace

    from moeplan.errors import UnknownNameError
    from moeplan.hardware.gpus import catalog_gpu

    prices = _parse(load_document(path, f"--price-file {path}"), path)
    out = []
    for i, price in enumerate(prices):
        try:
            out.append(replace(price, gpu=catalog_gpu(price.gpu).id))
        except UnknownNameError as exc:
            raise MoeplanError(f"{path}: prices[{i}].gpu: {exc}") from None
    return out


def price_for(
    gpu_id: str, prices: list[Price] | None = None, gpu_hour_usd: float | None = None
) -> Price | None:
    """The price used for `gpu_id`: --gpu-hour-usd wins, then the file's default entry for the
    GPU (else its first entry); None when no price is known."""
    if gpu_hour_usd is not None:
        if not gpu_hour_usd > 0:
            raise MoeplanError(f"--gpu-hour-usd must be positive, got {gpu_hour_usd}")
        return Price(gpu_id, gpu_hour_usd, "given with --gpu-hour-usd", None, None, "command line")
    entries = [p for p in (prices if prices is not None else shipped_prices()) if p.gpu == gpu_id]
    if not entries:
        return None
    return next((p for p in entries if p.default), entries[0])


def price_json(price: Price | None) -> dict[str, Any] | None:
    if price is None:
        return None
    return {
        "usd_per_gpu_hour": price.usd_per_gpu_hour,
        "provider": price.provider,
        "as_of": price.as_of,
        "read": price.read,
        "source": price.source,
    }
