"""Follow-up runs where our small-scale roadmap disagrees with the paper: each tests a hypothesis stated,
with the reading rule, before its runs.

    python tools/followups.py                  # every follow-up run not yet recorded, then the readings
    python tools/followups.py --table          # only the readings, from the committed records

A follow-up trains roadmap steps under the ``cpu`` profile with one sizing change (``image_size``), seed 0,
and compares the step's effect (its top-1 minus its parent's) across sizes; the ladder's own runs
(``reference/runs``) are the profile's size. Records go to
``convnext_lesson/reference/followups/<name>/<px>px/``, with full provenance.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import convnext_lesson as cl
from convnext_lesson.model.roadmap import get_step
from convnext_lesson.training import results

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "convnext_lesson" / "reference"


@dataclass(frozen=True)
class Followup:
    name: str
    step: int  # the step whose effect disagrees; its parent is trained beside it
    hypothesis: str
    sizes: tuple[int, ...]  # image sizes trained besides the profile's own
    rule: str  # how the result is read, fixed before the runs


FOLLOWUPS = {f.name: f for f in (
    Followup(
        name="patchify-resolution", step=3,
        hypothesis=("The patchify stem costs points at 64 px (the paper gains 0.15 at 224 px) because of the "
                    "resolution: at 64 px a 4x4 patch is a large piece of the object, and cutting the image into "
                    "non-overlapping patches loses what ResNet's overlapping 7x7 stride-2 conv and max-pool keep. "
                    "If so, the stem's effect grows with the image size."),
        sizes=(32, 96),
        rule=("The hypothesis holds if step 3's effect (step 3 minus step 2, seed 0) rises with the image size: "
              "lower at 32 px than at 64 px, and higher at 96 px than at 64 px. It fails if either is reversed by "
              "more than the ladder's noise band; otherwise the runs cannot tell.")),
)}


def recorded(records: Path, followup: Followup, size: int) -> dict[int, dict]:
    """{step: record} of a follow-up's runs at one image size."""
    return {r["step"]: r for r in results.find_records(records / followup.name / f"{size}px")}


def train(followup: Followup, runs: Path, records: Path, profile: str = "cpu") -> None:
    for size in followup.sizes:
        for step in (get_step(followup.step).parent, followup.step):
            if step in recorded(records, followup, size):
                continue
            print(f"== {followup.name}: step {step} at {size} px", flush=True)
            run = cl.train(step, profile=profile, image_size=size, out_dir=runs / followup.name, seed=0,
                           resume=True, progress=False)
            results.publish_record(run.run_dir, records / followup.name / f"{size}px")
            print(f"   top-1 {run.top1:.1f}%, {run.record['wall_time_s']:.0f} s", flush=True)


def effects(followup: Followup, records: Path, ladder: Path, profile: str = "cpu") -> dict[int, float]:
    """{image size: step's top-1 minus its parent's, seed 0}, for every size with both runs recorded; the
    profile's own size from the ladder's runs."""
    parent = get_step(followup.step).parent
    found = {}
    plain = {r["step"]: r for r in results.find_records(ladder) if r["seed"] == 0 and r["profile"] == profile}
    by_size = [(plain, None)] + [(recorded(records, followup, size), size) for size in followup.sizes]
    for runs, size in by_size:
        if followup.step in runs and parent in runs:
            found[size or runs[parent]["image_size"]] = runs[followup.step]["top1"] - runs[parent]["top1"]
    return dict(sorted(found.items()))


def table(records: Path, ladder: Path, profile: str = "cpu") -> str:
    lines = []
    for f in FOLLOWUPS.values():
        measured = effects(f, records, ladder, profile)
        sizes = ", ".join(f"{px} px: {e:+.1f}" for px, e in measured.items()) or "no runs yet"
        lines += [f"{f.name} (step {f.step}): {f.hypothesis}", f"  rule: {f.rule}",
                  f"  step {f.step}'s effect, ours: {sizes}"]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"which follow-ups (default: all of {', '.join(FOLLOWUPS)})")
    parser.add_argument("--table", action="store_true", help="only print the readings")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "followups", help="run folders")
    parser.add_argument("--records", type=Path, default=REFERENCE / "followups", help="where the records go")
    parser.add_argument("--profile", default="cpu", help=argparse.SUPPRESS)  # smoke, in the tests
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in FOLLOWUPS]
    if unknown:
        parser.error(f"unknown follow-up {', '.join(unknown)}; valid: {', '.join(FOLLOWUPS)}")
    if not args.table:
        for name in args.names or FOLLOWUPS:
            train(FOLLOWUPS[name], args.runs, args.records, args.profile)
    print(table(args.records, REFERENCE / "runs", args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
