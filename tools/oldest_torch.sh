#!/usr/bin/env bash
# The oldest supported PyTorch, installed the way Colab installs the course: an environment that already
# has its own torch, then a plain (non-editable) `pip install` of this repository, which keeps that torch.
# Then the portable subset runs against the installed copy (never the checkout): counting and weights,
# the FLOP cross-check, the checked-output rules, a smoke training run and every notebook under nbval,
# on PyTorch's portable CPU kernels (ATEN_CPU_CAPABILITY=default) rather than the machine's own: a second
# kernel set beside the main suite's, so checked outputs that depend on vector instructions fail in CI.
#
#   bash tools/oldest_torch.sh            # creates .venv-oldest (about 5 GB, 2-3 minutes) and tests
#
# The versions below are the lower bounds of pyproject.toml (tests/test_packaging.py keeps them equal).
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH=2.3.1
TORCHVISION=0.18.1
NUMPY=1.26.4
venv=.venv-oldest

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch; assert torch.__version__.startswith('$TORCH')"; then
  rm -rf "$venv" && python3 -m venv "$venv"
  "$venv/bin/pip" install -q "torch==$TORCH" "torchvision==$TORCHVISION" "numpy==$NUMPY"
fi
"$venv/bin/pip" install -q ".[test]"   # not editable: a copy in site-packages, as on Colab
# -P: no current directory on sys.path, so this checks the installed copy and the torch the venv had
ATEN_CPU_CAPABILITY=default "$venv/bin/python" -P - <<PY
import numpy, torch, torchvision, convnext_lesson
assert "site-packages" in convnext_lesson.__file__, convnext_lesson.__file__
assert (torch.__version__.split("+")[0], torchvision.__version__.split("+")[0], numpy.__version__) == \
    ("$TORCH", "$TORCHVISION", "$NUMPY"), "pip replaced the environment's own torch, torchvision or numpy"
assert torch.backends.cpu.get_cpu_capability() in ("DEFAULT", "NO AVX"), torch.backends.cpu.get_cpu_capability()  # 2.3 says NO AVX
print(f"oldest supported: torch {torch.__version__}, torchvision {torchvision.__version__}, numpy {numpy.__version__}, "
      "portable CPU kernels")
PY
# the pytest script (not python -m pytest) keeps the checkout off sys.path: the tests import the installed copy
ATEN_CPU_CAPABILITY=default "$venv/bin/pytest" -p no:cacheprovider -q -n 2 --dist loadfile tests/test_roadmap.py tests/test_weights.py tests/test_flop_crosscheck.py \
  tests/test_notebook_outputs.py tests/test_installed.py
ATEN_CPU_CAPABILITY=default "$venv/bin/pytest" -p no:cacheprovider -q -n 2 --dist loadfile notebooks  # two at a time, as in the main suite
