"""Train steps 1 and 16 with bf16 autocast (seeds 0-2, cpu profile) and print what the rule reads from them.

    python tools/bf16_check.py                       # every run not yet recorded, then the reading
    python tools/bf16_check.py --table --speed F     # only the reading; F: a cpu-speed JSON with bf16 timings

The rule, fixed before the runs, is in ``convnext_lesson/teach/readings/bf16.py``; it needs a CPU with native
bf16 (AVX-512 BF16 or AMX). Records go to ``convnext_lesson/reference/followups/bf16/step<NN>/``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import convnext_lesson as cl
from convnext_lesson.teach.readings import bf16
from convnext_lesson.training import results
from convnext_lesson.training.cpu_speed import cpu_has_native_bf16


def train(runs: Path, records: Path, profile: str = "cpu") -> None:
    for seed in bf16.SEEDS:
        for step in bf16.STEPS:
            folder = records / f"step{step:02d}"
            if any(r["seed"] == seed for r in results.find_records(folder)):
                continue
            print(f"== step {step}, bf16 autocast, seed {seed}", flush=True)
            run = cl.train(step, profile=profile, out_dir=runs, seed=seed, amp="bf16", resume=True, progress=False)
            results.publish_record(run.run_dir, folder)
            print(f"   top-1 {run.top1:.1f}%, {run.record['wall_time_s']:.0f} s", flush=True)


def speedups(path: Path | None) -> dict[int, float] | None:
    """bf16 img/s over fp32 img/s per step, from a cpu-speed JSON (quiet, native ISA, the first thread count)."""
    if path is None:
        return None
    report = json.loads(path.read_text(encoding="utf-8"))
    setting = next(s for s in report["settings"] if s["isa"] == "native")
    rate = {(r["step"], r["dtype"]): r["images_per_s"] for r in setting["rows"]
            if r["load"] == "quiet" and r.get("cpu_kernels", "library") == "library"}
    return {s: rate[(s, "bfloat16")] / rate[(s, "float32")] for s in bf16.STEPS if (s, "bfloat16") in rate}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true", help="only print the reading")
    parser.add_argument("--speed", type=Path, help="a cpu-speed JSON with bf16 timings (for the speed-up)")
    parser.add_argument("--runs", type=Path, default=Path(__file__).resolve().parents[1] / "runs" / "bf16")
    parser.add_argument("--records", type=Path, default=bf16.BF16_DIR)
    args = parser.parse_args(argv)
    if not args.table:
        if not cpu_has_native_bf16():
            parser.error("this CPU has no native bf16 (AVX-512 BF16 or AMX): the rule is about CPUs that do")
        train(args.runs, args.records)
    read = bf16.reading(speedups(args.speed), args.records)
    for step, row in read["rows"].items():
        print(f"step {step}: bf16 {', '.join(f'{t:.1f}' for t in row['bf16'])} against fp32 "
              f"{', '.join(f'{t:.1f}' for t in row['fp32'])}: {row['difference']:+.1f} (band ±{row['band']:.1f})")
    print(f"speed-up: {read.get('speedups')}\ndecision: {read['decision']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
