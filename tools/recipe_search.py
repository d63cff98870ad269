"""Choose the short-run recipe by measurement: steps 1 (ResNet-shaped) and 16 (ConvNeXt-shaped), cpu profile.

    python tools/recipe_search.py              # every run not yet recorded, then the table and the choice
    python tools/recipe_search.py --table      # only the table and the choice, from the committed records

The rule was fixed before any run: one recipe for both shapes (and every step, as in
the paper); the variant with the highest mean top-1 of steps 1 and 16 (seed 0) wins.
Stage 1 picks the peak learning rate with today's regularisation; stage 2, at that
learning rate, compares the regularisation: today's (scaled by run length), none,
the paper's Mixup/CutMix and Random Erasing at full probability, and RandAugment at
the paper's magnitude 9 of 10 (torchvision's: both ops on every image at that fixed
magnitude; the paper's timm policy ``rand-m9-mstd0.5-inc1`` applies each op with
probability 0.5 and jitters the magnitude, so this is the stronger of the two). A variant within 0.5 points of the best counts as a tie, and
a tie goes to the variant closer to the paper's recipe (the order of ``VARIANTS``
within a stage, most paper-like first).

Records go to ``convnext_lesson/reference/recipe_search/<variant>/`` with full provenance.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import convnext_lesson as cl
from convnext_lesson.teach.show.recipe_demo import RECIPE_SEARCH_TIE
from convnext_lesson.training import results

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "convnext_lesson" / "reference" / "recipe_search"
STEPS = (1, 16)
TIE = RECIPE_SEARCH_TIE  # points of mean top-1

# stage -> {variant: changes to the cpu profile's scaled modern recipe}; most paper-like first within a stage
STAGE1 = {"base": {}, "lr4e-3": {"lr": 4e-3}}
STAGE2 = {  # applied on top of stage 1's winner
    "randaugment-m9": {"randaugment": (2, 9)},  # torchvision's: both ops always, magnitude fixed
    "mix-erase-full": {"mix_prob": 1.0, "random_erasing": 0.25},
    "scaled": {},
    "no-regularisation": {"mix_prob": 0.0, "random_erasing": 0.0, "drop_path": 0.0},
}


def record_path(variant: str, step: int) -> Path:
    return RECORDS / variant / f"resnet50-cpu-imagenette-step{step:02d}-seed0.json"


def top1(variant: str) -> dict[int, float] | None:
    paths = [record_path(variant, s) for s in STEPS]
    if not all(p.exists() for p in paths):
        return None
    return {s: results.read_record(p)["top1"] for s, p in zip(STEPS, paths)}


def run(variant: str, changes: dict, runs_dir: Path) -> None:
    for step in STEPS:
        if record_path(variant, step).exists():
            continue
        print(f"== {variant}: step {step}, recipe changes {changes or 'none'}", flush=True)
        result = cl.train(step, profile="cpu", recipe=changes or None, out_dir=runs_dir / variant, seed=0,
                          resume=True, progress=False)
        results.publish_record(result.run_dir, RECORDS / variant)
        print(f"   top-1 {result.top1:.1f}%, {result.record['wall_time_s']:.0f} s", flush=True)


def choose(stage: dict[str, dict], name_of=lambda v: v) -> str | None:
    """The stage's winner by the rule, or None while a run is missing."""
    scores = {v: top1(name_of(v)) for v in stage}
    if any(s is None for s in scores.values()):
        return None
    means = {v: sum(s.values()) / len(s) for v, s in scores.items()}
    best = max(means.values())
    return next(v for v in stage if means[v] >= best - TIE)


def stage2_name(lr_variant: str, variant: str) -> str:
    """Stage 2's records: the regularisation variant at the chosen learning rate ("scaled" is stage 1's run)."""
    return lr_variant if variant == "scaled" else f"{lr_variant}+{variant}"


def table() -> str:
    lines = ["| variant | recipe changes | step 1 top-1 | step 16 top-1 | mean |", "| --- | --- | ---: | ---: | ---: |"]
    for folder in sorted(p.name for p in RECORDS.iterdir() if p.is_dir()) if RECORDS.is_dir() else []:
        scores = top1(folder)
        if scores:
            changes = results.read_record(record_path(folder, STEPS[0]))["overrides"].get("recipe", {})
            lines.append(f"| {folder} | {changes or 'none'} | {scores[1]:.1f}% | {scores[16]:.1f}% | "
                         f"{sum(scores.values()) / len(scores):.1f}% |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true", help="only print the table and the choice")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "recipe-search", help="run folders")
    args = parser.parse_args(argv)
    if not args.table:
        for variant, changes in STAGE1.items():
            run(variant, changes, args.runs)
    lr_variant = choose(STAGE1)
    if lr_variant and not args.table:
        for variant, changes in STAGE2.items():
            if variant != "scaled":
                run(stage2_name(lr_variant, variant), {**STAGE1[lr_variant], **changes}, args.runs)
    print(table())
    winner = lr_variant and choose(STAGE2, lambda v: stage2_name(lr_variant, v))
    print(f"stage 1 (learning rate): {lr_variant or 'runs missing'}; stage 2 (regularisation): "
          f"{stage2_name(lr_variant, winner) if winner else 'runs missing'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
