#!/usr/bin/env bash
# Wheels the GPU machine lacks (it has torch, torchvision, numpy, pillow, matplotlib, tqdm, pytest, psutil, but
# no fvcore and its pure-Python needs, and no network), built here into .whl/ (git-ignored) for a device call:
#   bash tools/gpu_check_wheels.sh
#   then on the GPU machine, with .whl carried:
#   python3 -m pip install -q --no-index --no-deps --target "$HOME/gpu-site" .whl/*.whl && export PYTHONPATH="$HOME/gpu-site:$PWD"
#   python3 tools/gpu_check.py --out $OUT/gpu_check.json
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .whl && mkdir -p .whl
# fvcore ships as a source archive only: build its (pure-Python) wheel here; the rest are pure-Python wheels
.venv/bin/pip wheel -q --no-deps -w .whl fvcore==0.1.5.post20221221 iopath==0.1.10 yacs==0.1.8 termcolor==3.3.0 \
    tabulate==0.10.0 portalocker==4.4.2 filelock==4.2.11
ls -la .whl
