#!/usr/bin/env bash
# One call that proves the CUDA path on a lent GPU machine: training throughput (CPU and
# CUDA: float32, bf16 autocast, autocast + torch.compile) and a one-seed `paper` panel on
# CUDA (vanilla, k = 20 > n), figures and page included. Everything lands under $OUT
# (the device runner collects it); without $OUT, under reports/device-check.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-reports/device-check}"
mkdir -p "$OUT"
{ nvidia-smi || true; python -c 'import torch; print(torch.__version__, torch.cuda.is_available())'; } \
    > "$OUT/device.txt" 2>&1
python -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "no CUDA device")'
python -m verify bench training --quick 2>&1 | tee "$OUT/bench-training.txt"
python -m verify reproduce --preset paper --device cuda --experiment vanilla --k 20 --seeds 1 \
    --out "$OUT/paper-vanilla-k20" 2>&1 | tee "$OUT/reproduce-paper.log"
# the checkpoints are large and rebuilt on demand; keep the figures, rows and page
rm -rf "$OUT/paper-vanilla-k20/checkpoints"
