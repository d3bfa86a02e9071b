"""What a host CPU can actually read from its DRAM, against the theoretical channels x MT/s x 8
bytes: published read (or STREAM) bandwidth over the theoretical rate per platform, and the
per-CCD fabric link that caps a desktop Ryzen. `Host.read_bw_bytes_per_s` (hosts.py) combines
them; offload engines' host_bw_efficiency applies to the result (perf/offload.py).

Prompted by held-out llama.cpp offload records (Ryzen 9 7900, i9-10900X) predicted +42..+70%
against a constant fitted on an i9-14900K run; every figure here comes from the sources named
with it, none from those records.
"""

from __future__ import annotations

GMI_READ_BYTES_PER_FCLK = 32
"""Bytes a cycle one Ryzen CCD reads from the I/O die over its Infinity Fabric (GMI) link: "data
bus between CCD and cIOD, 32 bytes/cycle in one direction, set by FCLK" (Zen 2/3 notes,
https://scrapbox-reader.vercel.app/motoso/ZEN%203). For Zen 5 the one-CCD measurement under
RYZEN_FCLK_HZ (62.9 GB/s against 32 B x 2.0 GHz = 64 GB/s) agrees with the same width; on Zen 2
EPYC a CCD's pair of core complexes shares one ~37 GB/s ceiling (kvcache-ai/ktransformers PR
2175, 05yuki's per-L3-domain sweep). A desktop Ryzen with one CCD therefore reads at most
32 B x FCLK, under dual-channel DDR5's rate; two CCDs (128 GB/s) do not bind."""

RYZEN_FCLK_HZ = 2.0e9
"""Infinity Fabric clock of AM5 Ryzen (Zen 4/5) as run with DDR5: 2000 MHz, the fabric speed the
AIDA64 sweep on Ryzen 7000 found best with DDR5-6000 (https://silverflick.com/2000mhz-fclk-ddr5-
6000-seems-optimal-for-ryzen-7000-cpus/, chart by @harukaze5719, Chiphell). One CCD: 32 x 2.0 GHz =
64 GB/s; a Ryzen 7 9700X (one CCD) with DDR5-5600 (89.6 GB/s) measured 62.9 GB/s of memory
bandwidth (memtest86plus/memtest86plus issue 557, memtest86+ 7.20), 0.70 of theoretical."""

MESS = "github:bsc-mem/Mess-Results@"
"""Mess benchmark results (Esmaili-Dokht et al., MICRO 2024): bandwidth-latency curves of one
socket reading its local memory; the figures below are the largest bandwidth_mean of the
100%-read rows of each processed/memory_curves.csv."""

MESS_OLD = MESS + "16ab1d600a5145d5547d85a9b4f891e100fece04 Systems/"
MESS_NEW = MESS + "635f30b952f809983b025df56b47209ac38b1627 Systems/"

MEASURED_READ_FRACTIONS: dict[str, tuple[float, str]] = {
    "raptor-lake": (
        82.3 / 86.4,
        "GitHub-hosted blog post '华硕天选4 (FX507VV) 软硬件全栈调优定案' (2026-09-20): i9-13900H "
        "(Raptor Lake), 2 x DDR5-5400 (86.4 GB/s), 'AIDA64 Memory Read = 82.3 GB/s'; an AIDA64 "
        "read, unlike the all-core memcpy (63 GB/s of 76.8, read and write counted, JustVugg/"
        "colibri issue 537) this entry gave before",
    ),
    "alder-lake": (
        73 / 76.8,
        "gdm.or.jp/review/2022/0331/432345/4 (Elmith, 2022-03-31): Alder Lake, AIDA64 Memory Read "
        "about 73,000 MB/s on DDR5-4800 (76.8 GB/s)",
    ),
    "arrow-lake": (
        95 / 102.4,
        "memtest86plus/memtest86plus issue 612 (gpz1100, 2026-05-12): Core Ultra 7 270K Plus, "
        "2 x DDR5-6400 (102.4 GB/s), AIDA64 memory read ~95 GB/s",
    ),
    "cascade-lake": (
        111.1 / 140.8,
        MESS_NEW + "HPC/Intel-CLX/processed/memory_curves.csv: Xeon Gold 5218, 6 x DDR4-2933 "
        "(140.8 GB/s), 111.1 GB/s (the Cascade Lake mesh and memory controller of Core X "
        "10th gen; flag: a server part, six channels)",
    ),
    "sapphire-rapids": (
        240.6 / 307.2,
        MESS_OLD + "MN5/MN5-GPP/regular/AVX512/local/processed/memory_curves.csv: Xeon Platinum "
        "8480+, 8 x DDR5-4800 (307.2 GB/s), 240.6 GB/s",
    ),
    "emerald-rapids": (
        248.45 / 307.2,
        MESS_NEW + "HPC/Intel-EMR/DDR/prefetch-on/processed/memory_curves.csv: Xeon Platinum "
        "8568CXL, 8 x DDR5-4800 (307.2 GB/s), 248.45 GB/s",
    ),
    "granite-rapids": (
        561.3 / 614.4,
        MESS_NEW + "HPC/Intel-GNR/RDIMMS/AVX512/processed/memory_curves.csv: Xeon 6980P, "
        "12 x DDR5-6400 RDIMM (614.4 GB/s), 561.3 GB/s",
    ),
    "granite-rapids-mrdimm": (
        750.04 / 844.8,
        MESS_NEW + "HPC/Intel-GNR/MRDRIMMS/AVX2/processed/memory_curves.csv: Xeon 6980P, "
        "12 x MRDIMM-8800 (844.8 GB/s), 750.04 GB/s (the MRDIMM ceiling is reached at a lower "
        "fraction than RDIMM's 0.914)",
    ),
    "genoa": (
        765 / 921.6,
        "github:MicrosoftDocs/azure-docs articles/virtual-machines/hbv4-performance.md: STREAM "
        "Triad 750-780 GB/s (765 taken) on HBv4, 2 x EPYC 9V33X (Genoa-X), 12 DDR5 channels a "
        "socket (hbv4-series-overview.md; 4800 MT/s, Genoa's rate: 921.6 GB/s)",
    ),
    "grace": (
        442.1 / 500,
        MESS_OLD + "Grace/local/processed/memory_curves.csv: NVIDIA Grace 72C, 442.1 GB/s of "
        "the 500 GB/s this catalog gives a Grace (NVIDIA's Grace benchmarking guide: STREAM "
        "Triad 80-95% of peak)",
    ),
    "zen3-desktop": (
        43.9 / 51.2,
        MESS_NEW + "Consumer/AMD/Ryzen-7-5700X3D/processed/memory_curves.csv: Ryzen 7 5700X3D "
        "(one CCD), 2 x DDR4-3200 (51.2 GB/s), 43.9 GB/s (not a catalog host)",
    ),
    "zen2-epyc": (
        113.4 / 170.6,
        "kvcache-ai/ktransformers PR 2175 (05yuki, 2026-09-10): EPYC 7452, 8 x DDR4-2666 a socket "
        "(170.6 GB/s), AVX2 read-only streaming, one NUMA node 113.4 GB/s (not a catalog host)",
    ),
}
"""Published CPU read bandwidth over the theoretical DRAM rate, per platform, with where each was
measured (a read or copy benchmark over all cores). Catalog hosts name their family in
`read_family`; a family here supplies its measured fraction. The one-CCD Ryzen 7 9700X (DDR5) is
not listed: its limit is the CCD link (ccd_read_limit_bytes_per_s), not the DRAM."""


MEMORY_VARIANTS = frozenset({"granite-rapids-mrdimm"})
"""Families that are another memory on a platform already listed (Granite Rapids with MRDIMMs):
looked up like any family, left out of the unmeasured median so that it counts each platform
once."""


def unmeasured_read_fraction() -> float:
    """Fraction of theoretical bandwidth assumed for a platform with no published read figure:
    the median of MEASURED_READ_FRACTIONS over platforms (MEMORY_VARIANTS left out; a typical
    CPU, not any one record's host)."""
    values = sorted(
        f for name, (f, _) in MEASURED_READ_FRACTIONS.items() if name not in MEMORY_VARIANTS
    )
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def ccd_read_limit_bytes_per_s(ccds: int, fclk_hz: float = RYZEN_FCLK_HZ) -> float:
    """Ryzen CCD links: ccds x GMI_READ_BYTES_PER_FCLK x FCLK."""
    return ccds * GMI_READ_BYTES_PER_FCLK * fclk_hz
