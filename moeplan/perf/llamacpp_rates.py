"""llama.cpp's measured per-kernel costs and prompt GEMM rate, used by its engine profile
(engines.py)."""

from __future__ import annotations

LLAMACPP_CUDA_KERNEL_S = 1.3e-6
"""llama.cpp's fixed GPU time per kernel on the CUDA backend. Batch-1 decode runs as one CUDA
graph (ggml-org/llama.cpp PR 6766, Alan Gray of NVIDIA, 2024-04: llama-2-7b Q4_K_M on H100-PCIe
143.35 -> 163.83 tok/s, 0.87 ms of launch overhead removed per token; issue 6763), so what a
kernel costs beyond its bytes is the launch gap between graph kernels, about 1.3 us on an H100
(Hazy Research, 2025-05-27, read through the mlops.substack summary, as CUDA_GRAPH_KERNEL_S).
llama.cpp's decode kernels are matrix-vector kernels with one block per few rows and fused
element-wise ops (LLAMACPP_KERNELS), not the SGLang/vLLM Triton fused-MoE kernels whose ramp-up
and tail the fitted CUDA_GRAPH_KERNEL_S also holds; no ramp-up/tail is added, so this is a lower
bound. Sourced, not fitted; the held-out llama.cpp references were not used to set it."""

LLAMACPP_METAL_KERNEL_S = 5.16e-6
"""Fixed GPU time per dispatch on Apple's Metal: measured as a slope by the ferrox project
(github.com/antonellof/ferrox issue 149, 2026-09-07): 832 extra inert rms_norm dispatches per
token on Gemma-2-2B added 4.30 ms of GPU time (5.16 us each) and 0.50 ms of host encoding
(0.61 us each, overlapped with the GPU by llama.cpp's parallel command-buffer encoding, ggml PR
9698). A Metal runtime other than llama.cpp, with a barrier between dependent dispatches as in
llama.cpp's Metal backend; chip not named in the issue."""

LLAMA3_8B_MATMUL_PARAMS = 32 * (4096 * 4096 * 2 + 2 * 4096 * 1024 + 3 * 4096 * 14336)
"""Llama-3-8B's matmul weights (32 layers: Q and O 4096 x 4096, K and V 4096 x 1024, gate/up/down
4096 x 14336): 6.98 G. llama-bench's pp test asks logits of the last token only, so the LM head
is left out; causal attention at 512 tokens adds ~1% and is left out too."""

LLAMACPP_MMQ_INT8_EFFICIENCY = 10358.75 * 2 * LLAMA3_8B_MATMUL_PARAMS / 660.6e12
"""Fraction of the dense INT8 tensor peak llama.cpp's quantized matmul (MMQ, int8 MMA) reaches
in a prompt: ggml-org/llama.cpp PR 7676 (JohannesGaessler, 2024-06, 'CUDA: use tensor cores for
MMQ'), RTX 4090, llama 8B Q4_0, microbatch 512: pp512 10358.75 tok/s = 145 int8 TOPS of the RTX
4090's 660.6 dense: 0.219. One GPU, one model, a 2024 build: later MMQ work may be faster, and
its mma.sync path does not use Hopper's wgmma, so on an H100 it is an assumption. Applied only
where the catalog gives the GPU's own INT8 peak (compute_efficiency_for)."""
