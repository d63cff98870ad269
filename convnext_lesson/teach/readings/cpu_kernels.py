"""The course's CPU kernels (model/cpu_kernels.py): do they keep the results?

Two checks, each rule fixed before its runs (``tools/cpu_kernels_check.py`` trains them):

- ``folded``: the depthwise weight gradient alone (written when it was the only change, as ``depthwise_grad``);
  records in ``reference/followups/depthwise-grad/<arm>/``.
- ``course``: that and the pointwise convolutions as matrix products, what ``auto`` takes where it is faster;
  records in ``reference/followups/cpu-kernels/<arm>/``.

An arm is the instruction set the CPU was held to: ``native`` (AVX-512 here) or ``avx2`` (emulated).
"""
from __future__ import annotations

import math
from pathlib import Path

from ...training import paths, results
from .bf16 import fp32_tops
from .step_effects import pooled_std

STEP, SEEDS, ARMS = 16, (0, 1, 2), ("native", "avx2")
CHECK_DIRS = {"folded": paths.FOLLOWUPS / "depthwise-grad", "course": paths.FOLLOWUPS / "cpu-kernels"}

RULES = {
    "folded": (
        "Step 16 trains under the cpu profile with the folded weight gradient (depthwise_grad='folded'), seeds "
        "0-2, twice on an AVX-512 CPU: natively, and with oneDNN and ATen held to their AVX2 kernels "
        "(ONEDNN_MAX_CPU_ISA=AVX2, ATEN_CPU_CAPABILITY=avx2: an emulated laptop CPU). Each arm's mean top-1 is "
        "compared with the mean of the committed ladder records of step 16 (the library's path, same seeds). The "
        "results hold if both differences lie inside the noise band: twice the standard deviation of a "
        "difference of two means, from the ladder's pooled seed-to-seed spread. If they hold, the cpu profile's "
        "depthwise_grad stays auto (the faster path, measured as each run starts); if either does not, the "
        "profile takes the library's path and folded stays an option with that warning."),
    "course": (
        "Step 16 trains under the cpu profile on the course's kernels (cpu_kernels='course': the folded depthwise "
        "weight gradient and pointwise convolutions as matrix products), seeds 0-2, twice on an AVX-512 CPU: "
        "natively, and with oneDNN, ATen and MKL held to their AVX2 kernels (ONEDNN_MAX_CPU_ISA=AVX2, "
        "ATEN_CPU_CAPABILITY=avx2, MKL_ENABLE_INSTRUCTIONS=AVX2: an emulated laptop CPU). Each arm's mean top-1 "
        "is compared with the mean of "
        "the committed ladder records of step 16 (PyTorch's convolutions, same seeds). The results hold if both "
        "differences lie inside the noise band: twice the standard deviation of a difference of two means, from "
        "the ladder's pooled seed-to-seed spread. If they hold, the cpu profile's cpu_kernels stays auto (the "
        "course's kernels where they are measured faster as a run starts, in networks with depthwise "
        "convolutions); if either does not, the profile takes the library's and course stays an option with "
        "that warning."),
}


# Arms a check will not run, and why (said in its reading)
NOT_RUN = {"folded": {"avx2": "not run: the course check, which includes the folded gradient, replaced it "
                              "before this arm started"}}


def _path_of(record: dict) -> str:
    """The kernels a record trained on (records of the first check name it ``depthwise_grad``)."""
    return record.get("cpu_kernels") or record.get("depthwise_grad") or "library"


def arm_tops(check: str, records: Path | None = None) -> dict[str, list[float]]:
    """{arm: [top-1 per seed, in seed order]} of a check's committed runs."""
    folder = records or CHECK_DIRS[check]
    out = {}
    for arm in ARMS:
        found = [r for r in results.find_records(folder / arm) if r["step"] == STEP and _path_of(r) == check]
        out[arm] = [r["top1"] for r in sorted(found, key=lambda r: r["seed"])]
    return out


def reading(check: str = "course", records: Path | None = None, ladder: Path = results.REFERENCE_DIR) -> dict:
    """Each arm's tops against the ladder's (library) tops of step 16: difference, band, verdict; the decision."""
    ladder_tops = fp32_tops(ladder)
    library, spread = ladder_tops.get(STEP, []), pooled_std(ladder_tops) or 0.0
    rows, tops = {}, arm_tops(check, records)
    for arm, got in tops.items():
        if got and library:
            band = 2 * spread * math.sqrt(1 / len(got) + 1 / len(library))
            diff = sum(got) / len(got) - sum(library) / len(library)
            rows[arm] = {"tops": got, "library": library, "difference": diff, "band": band,
                         "inside": abs(diff) <= band}
    skipped = NOT_RUN.get(check, {})
    missing = [a for a in ARMS if len(tops.get(a, [])) < len(SEEDS) and a not in skipped]
    if missing:
        return {"rows": rows, "holds": None, "decision": f"not run yet: {', '.join(missing)}"}
    holds = all(r["inside"] for r in rows.values())
    if skipped:  # a partial check decides nothing; it says what its arms show
        said = "inside the noise" if holds else "outside the noise"
        return {"rows": rows, "holds": holds, "decision": f"{', '.join(rows)} {said}; " + "; ".join(
            f"{arm} {why}" for arm, why in skipped.items())}
    option = "cpu_kernels" if check == "course" else "depthwise_grad"
    decision = (f"the cpu profile keeps {option}='auto'" if holds else
                f"the cpu profile takes {option}='library'; {check} stays an option, with a warning")
    return {"rows": rows, "holds": holds, "decision": decision}
