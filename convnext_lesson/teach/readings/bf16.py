"""bf16 on the CPUs that have it: does autocast keep the results, and is it worth making the default?

The rule was fixed before the runs (``tools/bf16_check.py`` trains them): steps 1 (a ResNet, BatchNorm) and 16
(ConvNeXt, LayerNorm) under the ``cpu`` profile with bf16 autocast, seeds 0-2, against the fp32 ladder records
of the same steps and seeds. Records live in ``reference/followups/bf16/step<NN>/``.
"""
from __future__ import annotations

import math
from pathlib import Path

from ...training import paths, results
from .step_effects import pooled_std

BF16_DIR = paths.FOLLOWUPS / "bf16"
STEPS, SEEDS = (1, 16), (0, 1, 2)
MIN_SPEEDUP = 1.2

RULE = (
    "On a CPU with native bf16 (AVX-512 BF16 or AMX), steps 1 and 16 train under the cpu profile with bf16 "
    "autocast, seeds 0-2, and each step's mean top-1 is compared with the mean of its fp32 ladder records. The "
    "results hold if, on both steps, the difference lies inside the noise band: twice the standard deviation of "
    "a difference of two means, from the ladder's pooled seed-to-seed spread. bf16 becomes the cpu profile's "
    f"default on CPUs with native bf16 if the results hold and its training step is at least {MIN_SPEEDUP}x as "
    "fast as fp32's on both steps (python -m convnext_lesson cpu-speed, quiet); if the results hold and the gain "
    "is smaller, it stays an option (amp='bf16'); if they do not hold, it stays an option with that warning. "
    "On CPUs without native bf16 nothing changes either way.")


def bf16_tops(records: Path = BF16_DIR, profile: str = "cpu") -> dict[int, list[float]]:
    """{step: [top-1 per seed, in seed order]} of the committed bf16 runs."""
    found = [r for r in results.find_records(records) if r["profile"] == profile and r["amp"] == "bf16"]
    return {s: [r["top1"] for r in sorted((r for r in found if r["step"] == s), key=lambda r: r["seed"])]
            for s in STEPS}


def fp32_tops(ladder: Path = results.REFERENCE_DIR, profile: str = "cpu") -> dict[int, list[float]]:
    by_step = results.by_step(results.find_records(ladder), "resnet50", profile)
    return {s: [r["top1"] for r in sorted(by_step.get(s, []), key=lambda r: r["seed"]) if r["amp"] == "none"]
            for s in by_step}


def reading(speedups: dict[int, float] | None, records: Path = BF16_DIR, ladder: Path = results.REFERENCE_DIR,
            profile: str = "cpu") -> dict:
    """Each step's bf16 and fp32 means, their difference and band; whether the results hold; the decision.
    ``speedups``: bf16 img/s over fp32 img/s per step, measured quiet (None: not measured)."""
    bf16, fp32 = bf16_tops(records, profile), fp32_tops(ladder, profile)
    spread = pooled_std(fp32) or 0.0
    rows, missing = {}, [s for s in STEPS if len(bf16.get(s, [])) < len(SEEDS)]
    for s in STEPS:
        if bf16.get(s) and fp32.get(s):
            band = 2 * spread * math.sqrt(1 / len(bf16[s]) + 1 / len(fp32[s]))
            diff = sum(bf16[s]) / len(bf16[s]) - sum(fp32[s]) / len(fp32[s])
            rows[s] = {"bf16": bf16[s], "fp32": fp32[s], "difference": diff, "band": band, "inside": abs(diff) <= band}
    if missing:
        return {"rows": rows, "holds": None, "decision": f"not run yet: step(s) {', '.join(map(str, missing))}"}
    holds = all(r["inside"] for r in rows.values())
    fast = speedups is not None and all(speedups.get(s, 0) >= MIN_SPEEDUP for s in STEPS)
    if holds and fast:
        decision = "bf16 is the cpu profile's default on CPUs with native bf16"
    elif holds:
        decision = ("bf16 stays an option (amp='bf16'): the results hold, but the speed-up is "
                    + ("not measured" if speedups is None else "under " + f"{MIN_SPEEDUP}x on a step"))
    else:
        decision = "bf16 stays an option, with a warning: its top-1 differs from fp32's beyond the noise"
    return {"rows": rows, "holds": holds, "speedups": speedups, "decision": decision}
