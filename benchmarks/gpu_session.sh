#!/usr/bin/env bash
# One short GPU session for issue 16 (H100 or H200, a few minutes): install moeplan against the
# machine's preinstalled torch without downloads, run the CUDA tests, `moeplan profile` (default,
# then --quick), `profile --compare` and `validate --calibration`, everything under $OUT (at most
# 8 files come back from the device tool: 6 logs, 2 calibrations).
#
#   here, once, if the GPU machine lacks moeplan's light dependencies (it reaches no index):
#     benchmarks/gpu_session.sh --wheelhouse        # pure-Python wheels into .gpu-wheelhouse/
#   on the GPU machine (device tool: carry [".gpu-wheelhouse"] if you built it):
#     OUT=$OUT benchmarks/gpu_session.sh
# Each step runs whatever the previous one did; the logs say what failed. Exit 0 always.
set -uo pipefail
cd "$(dirname "$0")/.."
DEPS=(typer rich tabulate pyyaml nvidia-ml-py pytest hypothesis click shellingham
      markdown-it-py mdurl pygments typing-extensions iniconfig pluggy packaging
      attrs sortedcontainers)
if [ "${1:-}" = "--wheelhouse" ]; then
  python3 -m pip download --only-binary=:all: --dest .gpu-wheelhouse "${DEPS[@]}"
  du -sh .gpu-wheelhouse
  exit 0
fi
OUT=${OUT:-/tmp/moeplan-gpu-session}
mkdir -p "$OUT"
PY=${PYTHON:-python3}

{
  echo "== $(date -u +%FT%TZ) $(hostname)"
  nvidia-smi --query-gpu=name,uuid,pci.bus_id,memory.total,driver_version,clocks.max.sm,power.limit \
    --format=csv 2>&1
  echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-unset}"
  $PY -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__,
"cuda", torch.version.cuda, "available", torch.cuda.is_available());
p = torch.cuda.get_device_properties(0); print(p.name, getattr(p, "uuid", None),
getattr(p, "pci_bus_id", None), p.total_memory)' 2>&1
  $PY -c 'import triton; print("triton", triton.__version__)' 2>&1
  $PY -c 'import flash_attn; print("flash_attn", flash_attn.__version__)' 2>&1 | tail -1
  echo "== install (no downloads)"
  if [ -d .gpu-wheelhouse ]; then
    $PY -m pip install --no-index --find-links .gpu-wheelhouse "${DEPS[@]}" 2>&1 | tail -3
  fi
  $PY -m pip install --no-deps --no-build-isolation -e . 2>&1 | tail -2
  $PY -c 'import moeplan.cli, pynvml; print("moeplan and pynvml import")' 2>&1 | tail -1
} >"$OUT/setup.log" 2>&1

# CUDA tests (marked `cuda`), then the profiler's CPU-path tests as a check of the install.
timeout 300 $PY -m pytest -m cuda -rs -v tests/ >"$OUT/tests.log" 2>&1
timeout 120 $PY -m pytest -q tests/test_profile.py tests/test_profile_review.py >>"$OUT/tests.log" 2>&1

MOEPLAN=("$PY" -c 'import sys; from moeplan.cli import main; sys.argv[0] = "moeplan"; main()')
gpu=$($PY - <<'PY' 2>/dev/null
from moeplan.profile.device import detect_device
info = detect_device("cuda")
print(info.catalog_id or "unknown-gpu")
PY
)
gpu=${gpu:-unknown-gpu}
{ time timeout 480 "${MOEPLAN[@]}" profile --output "$OUT/$gpu.yaml" --force; } \
  >"$OUT/profile.log" 2>&1
{ time timeout 240 "${MOEPLAN[@]}" profile --quick --output "$OUT/$gpu-quick.yaml" --force; } \
  >"$OUT/profile-quick.log" 2>&1
{
  echo "== schema 2 check of $gpu.yaml: what the estimator reads"
  $PY - "$OUT/$gpu.yaml" <<'PY' 2>&1
import sys
from moeplan.perf.calibration import load_calibration
cal = load_calibration(sys.argv[1])
print("schema version", cal.schema_version, "notes", list(cal.notes))
for c in cal.moe_curves:
    pts = ", ".join(f"{x:.3g}:{y:.2f}" for x, y in c.points)
    print(f"moe {c.dtype} {c.model} {(c.bytes_per_expert or 0) / 1e6:.3g} MB/expert  tpe:frac {pts}")
print("attention decode (KV bytes:frac)", [(f"{x:.3g}", round(y, 3)) for x, y in cal.attention_decode])
print("attention prefill (tokens:frac of peak)", [(x, round(y, 3)) for x, y in cal.attention_prefill])
print("collectives", {f"{k} x{w}": len(p) for (k, w), p in cal.collectives.items()})
PY
  echo "== profile --compare --calibration $gpu.yaml"
  "${MOEPLAN[@]}" profile --compare --calibration "$OUT/$gpu.yaml" 2>&1
  echo "== latency with and without the calibration"
  for cal in "" "--calibration $OUT/$gpu.yaml"; do
    # shellcheck disable=SC2086
    "${MOEPLAN[@]}" latency qwen3-235b-a22b --gpu "$gpu" --gpus 8 --quant fp8 $cal 2>&1 | tail -8
    # shellcheck disable=SC2086
    "${MOEPLAN[@]}" latency mixtral-8x7b --gpu "$gpu" --quant bf16 --batch 1,8,64 $cal 2>&1 | tail -9
  done
} >"$OUT/compare.log" 2>&1
{
  echo "== validate (defaults)"
  "${MOEPLAN[@]}" validate 2>&1
  if "${MOEPLAN[@]}" validate --help 2>&1 | grep -q -- --calibration; then
    echo "== validate --calibration $gpu.yaml"
    "${MOEPLAN[@]}" validate --calibration "$OUT/$gpu.yaml" 2>&1
  else
    echo "== this moeplan's validate has no --calibration (issue 17): not run"
  fi
} >"$OUT/validate.log" 2>&1
ls -la "$OUT"
exit 0
