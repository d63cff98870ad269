"""Train the arms that take step 16 apart, and print what the rules read from them.

    python tools/step16_parts.py [ARM ...] [--seeds 0 1 2]   # every arm run not yet recorded, seed by seed
    python tools/step16_parts.py --table                     # only the table and the readings

The arms, the hypothesis and the reading rules, fixed before the runs, are in
``convnext_lesson/teach/readings/step16_parts.py``. Each run is step 15 or 16 under the ``cpu`` profile with one or two
config fields changed; all arms' seed 0 train before any seed 1, so a partial series already reads every arm.
Records go to ``convnext_lesson/reference/followups/step16-parts/<arm>/`` with full provenance.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import convnext_lesson as cl
from convnext_lesson.teach.readings import step16_parts as parts
from convnext_lesson.training import results


def train(names: list[str], seeds: list[int], runs: Path, records: Path, profile: str = "cpu") -> None:
    for seed in seeds:
        for name in names:
            arm = parts.ARMS[name]
            if seed in parts.arm_records(arm, records, parts.VARIANTS_DIR, profile):
                continue
            print(f"== {name}: step {arm.step} {arm.overrides}, seed {seed}", flush=True)
            # the arm's five fields in full: a profile's own start (the short-run start) must not change them
            run = cl.train(arm.step, profile=profile, out_dir=runs / name, seed=seed, resume=True, progress=False,
                           **({"recipe": arm.recipe} if arm.recipe else {}), **arm.design)
            results.publish_record(run.run_dir, records / name)
            print(f"   top-1 {run.top1:.1f}%, {run.record['wall_time_s']:.0f} s", flush=True)


def table(records: Path, profile: str = "cpu") -> str:
    found = parts.arm_results(records, parts.VARIANTS_DIR, results.REFERENCE_DIR, profile)
    lines = ["| arm | base step | top-1 per seed | mean | base mean | effect | band |", "| --- | ---: | --- | ---: | ---: | ---: | ---: |"]
    for name, r in found.items():
        band = parts.band(len(r.top1), len(r.base), results.REFERENCE_DIR, profile)
        lines.append(f"| {r.arm.label} | {r.arm.step} | {', '.join(f'{t:.1f}' for t in r.top1)} | "
                     f"{sum(r.top1) / len(r.top1):.1f} | {sum(r.base) / len(r.base):.1f} | {r.effect:+.1f} | ±{band:.1f} |")
    read = parts.reading(records, parts.VARIANTS_DIR, results.REFERENCE_DIR, profile)
    return "\n".join(lines + ["", f"hypothesis: {read['hypothesis']}", f"which part of the start: {read['start']}"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"which arms (default: all of {', '.join(parts.ARMS)})")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(parts.SEEDS), help="seeds, in order")
    parser.add_argument("--table", action="store_true", help="only print the table and the readings")
    parser.add_argument("--runs", type=Path, default=Path(__file__).resolve().parents[1] / "runs" / "step16-parts",
                        help="run folders")
    parser.add_argument("--records", type=Path, default=parts.PARTS_DIR, help="where the records go")
    parser.add_argument("--profile", default="cpu", help=argparse.SUPPRESS)  # smoke, in the tests
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in parts.ARMS]
    if unknown:
        parser.error(f"unknown arm {', '.join(unknown)}; valid: {', '.join(parts.ARMS)}")
    if not args.table:
        train(args.names or list(parts.ARMS), args.seeds, args.runs, args.records, args.profile)
    print(table(args.records, args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
