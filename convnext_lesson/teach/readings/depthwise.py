"""The folded depthwise weight gradient (model/depthwise.py): does it keep the results?

The rule was fixed before the runs (``tools/depthwise_check.py`` trains them). Records live in
``reference/followups/depthwise-grad/<arm>/``, one arm per instruction set the CPU was held to.
"""
from __future__ import annotations

import math
from pathlib import Path

from ...training import paths, results
from .bf16 import fp32_tops
from .step_effects import pooled_std

DEPTHWISE_DIR = paths.FOLLOWUPS / "depthwise-grad"
STEP, SEEDS, ARMS = 16, (0, 1, 2), ("native", "avx2")

RULE = (
    "Step 16 trains under the cpu profile with the folded weight gradient (depthwise_grad='folded'), seeds 0-2, "
    "twice on an AVX-512 CPU: natively, and with oneDNN and ATen held to their AVX2 kernels "
    "(ONEDNN_MAX_CPU_ISA=AVX2, ATEN_CPU_CAPABILITY=avx2: an emulated laptop CPU). Each arm's mean top-1 is "
    "compared with the mean of the committed ladder records of step 16 (the library's path, same seeds). The "
    "results hold if both differences lie inside the noise band: twice the standard deviation of a difference "
    "of two means, from the ladder's pooled seed-to-seed spread. If they hold, the cpu profile's depthwise_grad "
    "stays auto (the faster path, measured as each run starts); if either does not, the profile takes the "
    "library's path and folded stays an option with that warning.")


def arm_tops(records: Path = DEPTHWISE_DIR) -> dict[str, list[float]]:
    """{arm: [top-1 per seed, in seed order]} of the committed folded-path runs."""
    out = {}
    for arm in ARMS:
        found = [r for r in results.find_records(records / arm) if r["step"] == STEP
                 and r.get("depthwise_grad") == "folded"]
        out[arm] = [r["top1"] for r in sorted(found, key=lambda r: r["seed"])]
    return out


def reading(records: Path = DEPTHWISE_DIR, ladder: Path = results.REFERENCE_DIR) -> dict:
    """Each arm's folded-path tops against the ladder's (library) tops of step 16: difference, band, verdict."""
    ladder_tops = fp32_tops(ladder)
    library, spread = ladder_tops.get(STEP, []), pooled_std(ladder_tops) or 0.0
    rows, tops = {}, arm_tops(records)
    for arm, got in tops.items():
        if got and library:
            band = 2 * spread * math.sqrt(1 / len(got) + 1 / len(library))
            diff = sum(got) / len(got) - sum(library) / len(library)
            rows[arm] = {"folded": got, "library": library, "difference": diff, "band": band,
                         "inside": abs(diff) <= band}
    missing = [a for a in ARMS if len(tops.get(a, [])) < len(SEEDS)]
    if missing:
        return {"rows": rows, "holds": None, "decision": f"not run yet: {', '.join(missing)}"}
    holds = all(r["inside"] for r in rows.values())
    decision = ("the cpu profile keeps depthwise_grad='auto'" if holds else
                "the cpu profile takes depthwise_grad='library'; folded stays an option, with a warning")
    return {"rows": rows, "holds": holds, "decision": decision}
