#!/usr/bin/env bash
# One prepared call that proves the CUDA path on a lent GPU machine, in stages, each under
# `timeout -k` (a hang costs its limit, not the lease) and streamed as it goes:
#   0  (≤ 90 s) interpreter, seconds to `import torch`, to CUDA init, to one bf16 product,
#      and the imports of this project's dependencies (scripts/device_stage0.py);
#   1  `bench training` on CUDA at paper size: pretraining tokens/s in float32, bf16
#      autocast and bf16 autocast + torch.compile (warm-up / compile time apart);
#   2  one `paper` panel on CUDA: `reproduce --preset paper --experiment vanilla --k 30
#      --seeds 1` (oracle + transformer, page included); wall time and TV summarised.
# The GPU image lacks some dependencies and reaches no registry: when .whl/ holds wheels
# (scripts/fetch-device-wheels.sh), they are installed first into a private folder.
# Outputs (6 files; the device runner brings back at most 8) land in $OUT, else in
# reports/device-check: summary.txt, device-check.log (everything, nvidia-smi included),
# stage0.txt, bench-training.txt, paper-panel.txt, paper-panel.tar.gz (page, rows, figures;
# no checkpoints).
#
# --cpu-dry-run: every stage on CPU at toy size (stage 0 without CUDA, bench at smoke size,
# a smoke panel), in ≤ 2 minutes; tests/test_device_check.py runs it in CI.
# Exit status: 0 every stage passed, 1 a stage failed or timed out (the rest still ran
# unless stage 0 failed: without a working device nothing after it can).
set -uo pipefail
cd "$(dirname "$0")/.."
DRY=0
case "${1:-}" in
    --cpu-dry-run) DRY=1 ;;
    "") ;;
    *) echo "usage: $0 [--cpu-dry-run]" >&2; exit 2 ;;
esac
OUT="${OUT:-reports/device-check}"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ $DRY = 1 ]; then
    # one torch thread, as CI's reproduce: idle threads spin-wait on a busy 2-core machine
    export OMP_NUM_THREADS=1
    DEV=cpu; LIMITS=(60 60 100); SIZE=smoke; PRESET=smoke; K=8; S0=(--cpu); TH=(--threads 1)
else
    # DEVICE_CHECK_LIMITS="S0 S1 S2" overrides the stage limits (s), to fit a lease
    read -r -a LIMITS <<< "${DEVICE_CHECK_LIMITS:-90 150 300}"
    DEV=cuda; SIZE=paper; PRESET=paper; K=30; S0=(); TH=()
fi
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
note() { echo "$*" | tee -a "$SUMMARY"; }
failed=0
# seconds since $1 (an $EPOCHREALTIME), to 0.1 s, with bash arithmetic alone (no bc there)
since() {
    local us=$(( ${EPOCHREALTIME/./} - ${1/./} ))
    echo "$((us / 1000000)).$(( (us / 100000) % 10 ))"
}

# stage NAME LIMIT_S CMD...: run under timeout -k, output to stdout and $OUT/NAME.txt
stage() {
    local name=$1 limit=$2 t rc
    shift 2
    echo "== stage $name (limit ${limit} s): $*"
    t=$EPOCHREALTIME
    timeout -k 10 "$limit" "$@" 2>&1 | tee "$OUT/$name.txt"
    rc=${PIPESTATUS[0]}
    t=$(since "$t")
    case $rc in
        0) note "stage $name: ok in ${t} s" ;;
        124|137) note "stage $name: TIMED OUT after ${t} s (limit ${limit} s)"; failed=1 ;;
        *) note "stage $name: FAILED (exit $rc) in ${t} s"; failed=1 ;;
    esac
    return $rc
}

main() {
    note "device-check $(date -u +%FT%TZ) on $(hostname): $([ $DRY = 1 ] && echo 'CPU dry run' || echo 'CUDA')"
    if [ $DRY = 0 ]; then
        timeout -k 5 20 nvidia-smi 2>&1 || echo "(nvidia-smi failed)"
        if compgen -G ".whl/*.whl" > /dev/null; then
            t=$EPOCHREALTIME
            SITE=/tmp/ptverify-site
            "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
                --upgrade --target "$SITE" .whl/*.whl || { note "wheel install FAILED"; return 1; }
            export PYTHONPATH="$PYTHONPATH:$SITE"
            note "wheels: $(ls .whl/*.whl | wc -l) installed into $SITE in $(since "$t") s"
        fi
    fi
    stage stage0 "${LIMITS[0]}" "$PY" scripts/device_stage0.py "${S0[@]}" || return 1
    stage bench-training "${LIMITS[1]}" "$PY" -m verify bench training --quick \
        --device "$DEV" --size "$SIZE"
    grep -E 'tokens/s' "$OUT/bench-training.txt" | sed 's/^ */  /' >> "$SUMMARY"
    local panel="$OUT/paper-panel"
    stage paper-panel "${LIMITS[2]}" "$PY" -m verify reproduce --preset "$PRESET" \
        --device "$DEV" --experiment vanilla --k "$K" --seeds 1 "${TH[@]}" --out "$panel"
    if [ -f "$panel/results.csv" ]; then
        "$PY" - "$panel/results.csv" <<'PYEOF' | tee -a "$SUMMARY"
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    tv = f", TV {float(r['tv']):.4f}" if r["tv"] else ""
    print(f"  panel {r['experiment']} k={r['k']} seed={r['seed']} {r['backbone']:11s} "
          f"{r['method']:6s}: accuracy {float(r['accuracy']):.3f}{tv}, "
          f"{float(r['wall_time_s']):.1f} s, {r['epochs']} epochs")
PYEOF
    fi
    grep -hE '\[mlm\] step' "$OUT/paper-panel.txt" | tail -1 | sed 's/^/  /' >> "$SUMMARY"
    grep -hiE 'missed|target' "$OUT/paper-panel.txt" | head -3 | sed 's/^/  /' >> "$SUMMARY"
    rm -rf "$panel/checkpoints"
    [ -d "$panel" ] && tar -czf "$OUT/paper-panel.tar.gz" -C "$OUT" paper-panel && rm -rf "$panel"
    return $failed
}

main 2>&1 | tee "$OUT/device-check.log"
rc=${PIPESTATUS[0]}
echo "device-check: exit $rc; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
exit $rc
