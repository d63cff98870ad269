#!/usr/bin/env bash
# Reference runs of the roadmap on a lent GPU machine (issue 6).
#
# Here, once:   bash tools/reference_runs.sh prepare
#   copies the offline Imagenette pack into .data-cache/ and builds wheels of the packages the GPU
#   image lacks into .whl/ (both git-ignored; together they stay under the 64 MiB a device call carries).
# There, in each device call (carry .data-cache and .whl), from the repository root:
#   bash tools/reference_runs.sh speed                 # measure first: a few hundred steps of steps 0 and 16
#   bash tools/reference_runs.sh ladder 0-5            # train some steps (resumes and skips finished ones)
#   bash tools/reference_runs.sh seeds 1,9,16          # the noise band: seeds 1 and 2 of those steps
#   bash tools/reference_runs.sh throughput            # the throughput study for notebook 09
# Everything goes to $OUT (the device tool's output folder), or build/reference elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build/reference}
PACK=imagenette2-160-sq-q60-full.tar.gz
PROFILE=${CONVNEXT_LESSON_PROFILE:-full}
SCRATCH=${TMPDIR:-/tmp}/convnext-lesson  # the device machine's scratch space (not carried back)

setup_device() {
  if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target "$SCRATCH/site" .whl/*.whl
    export PYTHONPATH="$SCRATCH/site"
  fi
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
  mkdir -p "$OUT"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1 || true
}

case "${1:-}" in
  prepare)
    mkdir -p .data-cache .whl
    cp "../shared/data/$PACK" .data-cache/
    (cd .data-cache && grep " $PACK\$" ../../shared/data/SHA256SUMS | sha256sum -c -)
    python3 -m pip wheel -q --no-deps -w .whl fvcore==0.1.5.post20221221 iopath==0.1.10 yacs termcolor
    du -sh .data-cache .whl ;;
  speed)
    setup_device
    python3 -m convnext_lesson train --step 0 --profile "$PROFILE" --data-dir .data-cache --epochs 1 \
      --out "$SCRATCH/speed" --no-progress 2>&1 | tee "$OUT/speed.log"
    python3 -m convnext_lesson train --step 16 --profile "$PROFILE" --data-dir .data-cache --epochs 1 \
      --out "$SCRATCH/speed" --no-progress 2>&1 | tee -a "$OUT/speed.log" ;;
  ladder)
    setup_device
    python3 -m convnext_lesson ladder --profile "$PROFILE" --data-dir .data-cache --out "$OUT/runs" \
      --no-progress ${2:+--steps "$2"} 2>&1 | tee -a "$OUT/ladder.log" ;;
  seeds)
    setup_device
    for seed in 1 2; do
      python3 -m convnext_lesson ladder --profile "$PROFILE" --data-dir .data-cache --out "$OUT/runs" \
        --no-progress --seed "$seed" --steps "${2:-1,9,16}" 2>&1 | tee -a "$OUT/seeds.log"
    done ;;
  throughput)
    setup_device
    python3 tools/throughput_study.py --out "$OUT/throughput.json" 2>&1 | tee "$OUT/throughput.log" ;;
  *)
    sed -n '2,16p' "$0"; exit 2 ;;
esac
