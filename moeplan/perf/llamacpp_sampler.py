"""llama.cpp's CPU sampler time per generated token (llama-server / llama-cli), serial with the
forward pass.

After each llama_decode, common_sampler_sample copies the sequence's logits (all V of them) into a
candidate array and runs the sampler chain (penalties, dry, top-n-sigma, top-k, typical, top-p,
min-p, xtc, temperature, dist) on one CPU thread; the next decode needs the sampled token, so the
time adds to every step (llama-server samples its active slots one after another: batch x this).
llama-bench never samples (test_gen: decode, synchronize, `std::rand() % n_vocab`): no sampler.

Which step sorts the whole vocabulary depends on the settings and the build (ERAS):
  - pre-b5222 (before ggml-org/llama.cpp PR 13173, ~2025-04-29): top-k <= 0 means k = V and the
    top-k sampler bucket-sorts all V candidates (ikawrakow's 128-bucket sort, PR 5109).
  - b5222 (PR 13173 .. before PR 15665, ~2025-08-31; b6123/b6200 included): top-k <= 0 is a
    no-op; then top-p < 1 std::sorts all V in softmax_impl (ggml-org/llama.cpp@e54d41be
    src/llama-sampling.cpp L203-226, L708-715); top-p 1 with min-p > 0 filters unsorted in O(V)
    (L775-812); top-p 1 with min-p 0 leaves the std::sort to dist (L576-582).
  - pr15665 (PR 15665 + PR 15704 on, ~Sep 2025, in b6646 = llama.cpp@364a7a6d): top-p computes
    the softmax unsorted and bucket-sorts only the top 256 when V > 1024 (L776-792), growing to a
    full sort when the nucleus is wider than 256; dist samples in one pass without sorting
    (L604-638, "~3x faster on Mac with full gpt-oss vocab").
Top-k between 1 and V-1 (default 40) cuts V to k first in every era, so nothing after it sorts
much: up to k = 128 one O(V) partial_sort pass; above it the 128-bucket sort orders the top k
(llama_token_data_array_partial_sort_inplace), which grows like k log k and at k = V is the
whole-vocabulary bucket sort.

Constants: a micro-benchmark transcribing each era's chain (notes sampler_bench.cpp, median of 60
runs on an EPYC Zen4 KVM, g++ 12 -O3, one thread), fitted per path in ns per element (O(V) paths)
or per V*log2(V) (sorts). Two CPU factors scale them to a 2024-25 desktop (x86 or Apple M):
SORT_CPU_FACTOR 0.75 and LINEAR_CPU_FACTOR 1.0, set from the published per-token sampling points
listed in tests/test_llamacpp_sampler.py (ggml-org/llama.cpp issues 8988, 15223, 13171, PR 15704,
discussion 15396) - not from any offload record. The formula lands within 0.61x-1.32x of each
published point (f_wide = 0 below).

Not priced: the era-pr15665 top-p path when the nucleus needs more than 256 tokens (a full
bucket sort, ~3.6 ns x V log2 V on the reference host): its share of tokens f_wide is unknown
(model and text dependent), priced 0, so that era's top-k 0 / top-p < 1 figure is a lower bound;
top-n-sigma, typical-p, dynatemp, mirostat, xtc (off by default; each adds a full sort),
llama-server logprobs (n_probs > 0) and --backend-sampling (PR 17004, opt-in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from moeplan.errors import MoeplanError

if TYPE_CHECKING:
    from moeplan.perf.offload_engines import OffloadProfile

ERAS = {
    "pre-b5222": "before llama.cpp b5222 (PR 13173, ~2025-04-29): top-k <= 0 bucket-sorts all V",
    "b5222": "b5222 to before PR 15665 (~2025-08-31): top-k <= 0 is a no-op; top-p < 1 (or dist "
    "with min-p 0) std::sorts all V",
    "pr15665": "PR 15665 + 15704 on (~Sep 2025, b6646 has both): top-p bucket-sorts the top 256, "
    "dist does not sort",
}
CURRENT_ERA = "pr15665"
SAMPLER_FLAGS = "--top-k, --top-p, --min-p, --sampler-era and --no-sampler"

SORT_CPU_FACTOR = 0.75
"""Published / micro-benchmark time of the full-vocabulary sorts: 0.63-0.90 over issue 8988 (Mac,
b3570, gemma-2 V=256000: 13.26 ms vs 14.7 ms), 13171 (b5201, Qwen3 V=151936), discussion 15396
(Ryzen 5 9600X, gpt-oss V=201088), PR 22645 (M3 Max) and PR 24796."""

LINEAR_CPU_FACTOR = 1.0
"""Published / micro-benchmark time of the O(V) passes: 0.8 (issue 8988, default chain) to 1.6
(issue 15223, b6123, V=128256); 1.0 taken."""

LOGIT_COPY_S_PER_TOKEN = 0.55e-9
"""common/sampling.cpp set_logits (llama.cpp@e54d41be L115-130): all V logits copied into the
candidate array, every token (outside llama_perf's "sampling time" before PR 17382)."""

TOPK_CUT_S_PER_TOKEN = 0.39e-9
"""A top-k cut over V (k <= 128: std::partial_sort), then the rest of the chain on k candidates
(default chain, any era since 2024)."""

TOPK_PARTIAL_SORT_MAX = 128
"""llama_token_data_array_partial_sort_inplace: std::partial_sort up to this many; above it the
128-bucket sort of the top k (src/llama-sampling.cpp)."""

MINP_FILTER_S_PER_TOKEN = 1.1e-9
"""min-p's unsorted O(V) filter (top-k 0, top-p 1, min-p > 0), eras b5222 and pr15665."""

BUCKET_SORT_S = 3.2e-9
"""pre-b5222: top-k with k = V bucket-sorts the whole vocabulary, per V*log2(V)."""

BUCKET_SORT_PR15665_S = 3.6e-9
"""pr15665: llama_token_data_array_partial_sort over the whole vocabulary, per V*log2(V)."""

STD_SORT_TOP_P_S = 4.4e-9
"""b5222: softmax_impl's std::sort of all V in top-p, per V*log2(V) (4.39-4.46 over V = 32000
.. 262144)."""

STD_SORT_DIST_S = 4.7e-9
"""b5222: dist's std::sort of all V (top-p 1, min-p 0) plus discrete_distribution, per
V*log2(V)."""

TOP_P_PARTIAL_S = 9.2e-9
"""pr15665: top-p's unsorted softmax (expf over V) and 128-bucket top-256 pass, per element."""

FUSED_DIST_S = 4.7e-9
"""pr15665: dist's one-pass normalize and sample over all V (top-p 1, min-p 0), per element
(4.3-5.1 on the reference host; PR 15704's M2 Ultra figures imply ~3.6)."""


@dataclass(frozen=True)
class SamplerSettings:
    """llama.cpp's sampler flags (defaults: common/common.h top_k 40, top_p 0.95, min_p 0.05) and
    the build era (ERAS). top_k 0 disables top-k (llama.cpp treats any k <= 0 so)."""

    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    era: str = CURRENT_ERA

    def __post_init__(self) -> None:
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 0:
            raise MoeplanError(
                f"--top-k must be 0 (off) or a positive whole number, got {self.top_k!r}"
            )
        for name, value in (("--top-p", self.top_p), ("--min-p", self.min_p)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise MoeplanError(f"{name} must be a number from 0 to 1, got {value!r}")
            if not 0.0 <= value <= 1.0:
                raise MoeplanError(f"{name} must be between 0 and 1, got {value}")
        if self.era not in ERAS:
            raise MoeplanError(
                f"llama.cpp sampler era must be one of {', '.join(ERAS)}, got '{self.era}'"
            )

    def describe(self) -> str:
        return f"top-k {self.top_k}, top-p {self.top_p:g}, min-p {self.min_p:g}, build {self.era}"


def full_sort(settings: SamplerSettings, vocab: int) -> str | None:
    """Which step sorts (or, in pr15665 top-p, partially sorts) the whole vocabulary: None when
    a top-k cut or min-p's filter keeps every pass O(V) (a top-k of 129..V-1 sorts only k)."""
    k, p, m = settings.top_k, settings.top_p, settings.min_p
    if 1 <= k < vocab:
        return None
    if k >= vocab or settings.era == "pre-b5222":
        return "top-k"
    if p < 1.0:
        return "top-p"
    if m > 0.0:
        return None
    return "dist"


def _bucket_sort_s(era: str, n: float) -> float:
    """The 128-bucket sort of n candidates (per n log2 n, the era's kernel)."""
    per = BUCKET_SORT_PR15665_S if era == "pr15665" else BUCKET_SORT_S
    return SORT_CPU_FACTOR * per * n * math.log2(n) if n > 1 else 0.0


def chain_s(settings: SamplerSettings, vocab: int) -> float:
    """Seconds of the sampler chain per token (what llama_perf prints as "sampling time" before
    PR 17382), by the step full_sort names."""
    n = float(vocab)
    k, p, era = settings.top_k, settings.top_p, settings.era
    step = full_sort(settings, vocab)
    if step is None and 1 <= k < vocab:
        cut = LINEAR_CPU_FACTOR * TOPK_CUT_S_PER_TOKEN * n
        if k <= TOPK_PARTIAL_SORT_MAX:
            return cut
        # the bucket sort of the top k: at least the O(V) cut, the whole sort at k = V
        return max(cut, _bucket_sort_s(era, float(k)))
    if step is None:  # top-p 1, min-p > 0: min-p's unsorted filter
        return LINEAR_CPU_FACTOR * MINP_FILTER_S_PER_TOKEN * n
    if step == "top-k":
        return _bucket_sort_s(era, n)
    if era == "b5222":
        return (
            SORT_CPU_FACTOR * (STD_SORT_TOP_P_S if p < 1.0 else STD_SORT_DIST_S) * n * math.log2(n)
        )
    # pr15665; top-p's nucleus wider than 256 tokens (a full bucket sort) priced 0: lower bound
    return LINEAR_CPU_FACTOR * (TOP_P_PARTIAL_S if p < 1.0 else FUSED_DIST_S) * n


def sampler_s_per_token(settings: SamplerSettings | None, vocab: int) -> float:
    """Seconds of CPU sampling per generated token of one sequence: the logit copy plus the
    chain; 0 for None (llama-bench, no sampler)."""
    if settings is None:
        return 0.0
    if vocab < 2:
        raise MoeplanError(f"vocabulary size must be at least 2, got {vocab}")
    return LINEAR_CPU_FACTOR * LOGIT_COPY_S_PER_TOKEN * vocab + chain_s(settings, vocab)


def with_sampler(engine: OffloadProfile, settings: SamplerSettings | None) -> OffloadProfile:
    """The llama.cpp profile under a run's sampler (None: llama-bench, no sampler). Only llama.cpp
    samples on the CPU; ktransformers samples on the GPU (offload_engines.py)."""
    if engine.id != "llamacpp":
        raise MoeplanError(
            f"{SAMPLER_FLAGS} price llama.cpp's CPU sampler; {engine.id} samples on the GPU"
        )
    return replace(engine, sampler=settings)
