"""Train the follow-up runs where our small-scale roadmap disagrees with the paper, and print their readings.

    python tools/followups.py [NAME ...]       # every follow-up run not yet recorded, then the readings
    python tools/followups.py --table          # only the readings, from the committed records

The hypotheses and their reading rules, fixed before the runs, are in ``convnext_lesson/teach/readings/followups.py``
(the README and notebook 08 read them from there). Each run is a roadmap step under the ``cpu`` profile,
seed 0, with one setting changed; its record goes to ``convnext_lesson/reference/followups/<name>/<value><unit>/``,
with full provenance.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import convnext_lesson as cl
from convnext_lesson.model.roadmap import get_step
from convnext_lesson.teach.readings.followups import (FOLLOWUPS, FOLLOWUPS_DIR, UNITS, Followup, followups_text, recorded,
                                              setting_of)
from convnext_lesson.training import results
from convnext_lesson.training.profiles import get_profile

__all__ = ["FOLLOWUPS", "UNITS", "Followup", "get_step", "train", "train_arguments", "main"]


def train_arguments(followup: Followup, step: int, value: int, profile: str) -> dict:
    """``cl.train`` keywords that give ``step``'s run the setting's value: the profile's epochs are what a
    modern-recipe step trains, and the original recipe trains a fixed share of them (step 0's 4 of 12)."""
    if followup.setting == "image_size":
        return {"image_size": value}
    if followup.setting == "lr":  # the learning rate the run uses (the recipe's, after its scaling)
        return {"recipe": {"lr": value}}
    prof = get_profile(profile)
    recipe = get_step(step).recipe
    epochs = next(e for e in range(value, math.ceil(value / prof.original_epoch_ratio) + 2)
                  if prof.replace(epochs=e).epochs_for(recipe) == value)
    return {"epochs": epochs}


def train(followup: Followup, runs: Path, records: Path, profile: str = "cpu") -> None:
    for value in followup.values:
        for step in followup.steps():
            if step in recorded(followup, value, records):
                continue
            print(f"== {followup.name}: step {step} at {value} {UNITS[followup.setting]}", flush=True)
            run = cl.train(step, profile=profile, out_dir=runs / followup.name, seed=0, resume=True,
                           progress=False, **train_arguments(followup, step, value, profile))
            assert setting_of(run.record, followup.setting) == value, (run.record, value)
            results.publish_record(run.run_dir, records / followup.name / followup.folder(value))
            print(f"   top-1 {run.top1:.1f}%, {run.record['wall_time_s']:.0f} s", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"which follow-ups (default: all of {', '.join(FOLLOWUPS)})")
    parser.add_argument("--table", action="store_true", help="only print the readings")
    parser.add_argument("--runs", type=Path, default=Path(__file__).resolve().parents[1] / "runs" / "followups",
                        help="run folders")
    parser.add_argument("--records", type=Path, default=FOLLOWUPS_DIR, help="where the records go")
    parser.add_argument("--profile", default="cpu", help=argparse.SUPPRESS)  # smoke, in the tests
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in FOLLOWUPS]
    if unknown:
        parser.error(f"unknown follow-up {', '.join(unknown)}; valid: {', '.join(FOLLOWUPS)}")
    if not args.table:
        for name in args.names or FOLLOWUPS:
            train(FOLLOWUPS[name], args.runs, args.records, args.profile)
    print(followups_text(args.records, results.REFERENCE_DIR, args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
