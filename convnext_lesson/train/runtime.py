"""Where a run runs: the default device, the CPU threads, the mixed-precision policy, and whether this is Colab."""
from __future__ import annotations

import sys


def in_colab() -> bool:
    return "google.colab" in sys.modules
