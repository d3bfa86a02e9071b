"""`moeplan profile`: times real MoE kernels with PyTorch and writes a calibration file.

The only part of moeplan that touches torch, CUDA or NVML; every import of them is inside a
function so the planner commands never load them.
"""
