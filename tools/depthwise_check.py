"""Train step 16 with the folded depthwise weight gradient (seeds 0-2, cpu profile), natively and with the CPU
held to AVX2, and print what the rule reads from them.

    python tools/depthwise_check.py --isa native        # every run of that arm not yet recorded, then the reading
    python tools/depthwise_check.py --isa avx2
    python tools/depthwise_check.py --table             # only the reading

The rule, fixed before the runs, is in ``convnext_lesson/teach/readings/depthwise.py``; records go to
``convnext_lesson/reference/followups/depthwise-grad/<isa>/``. ``--isa avx2`` needs an AVX-512 CPU (on an AVX2
one, ``native`` is the real thing: name its folder by hand).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from convnext_lesson.training.cpu_speed import ISA_ENV


def train(isa: str, runs: Path, records: Path) -> None:
    import convnext_lesson as cl
    from convnext_lesson.teach.readings import depthwise
    from convnext_lesson.training import results

    folder = records / isa
    for seed in depthwise.SEEDS:
        if any(r["seed"] == seed for r in results.find_records(folder)):
            continue
        print(f"== step {depthwise.STEP}, folded depthwise weight gradient, {isa}, seed {seed}", flush=True)
        run = cl.train(depthwise.STEP, profile="cpu", out_dir=runs / isa, seed=seed, depthwise_grad="folded",
                       resume=True, progress=False)
        path = results.publish_record(run.run_dir, folder)
        record = results.read_record(path)
        record["note"] = ("trained natively" if isa == "native" else
                          "trained with oneDNN and ATen held to AVX2 (ONEDNN_MAX_CPU_ISA=AVX2, "
                          "ATEN_CPU_CAPABILITY=avx2) on this AVX-512 CPU: an emulation")
        results.write_record(record, path)
        print(f"   top-1 {run.top1:.1f}%, {run.record['wall_time_s']:.0f} s", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa", choices=sorted(ISA_ENV), help="train this arm's missing runs first")
    parser.add_argument("--table", action="store_true", help="only print the reading")
    parser.add_argument("--runs", type=Path, default=Path(__file__).resolve().parents[1] / "runs" / "depthwise-grad")
    args = parser.parse_args(argv)
    from convnext_lesson.teach.readings import depthwise

    if args.isa and not args.table:
        wanted = ISA_ENV[args.isa]
        if any(os.environ.get(k) != v for k, v in wanted.items()):  # the ISA is fixed as torch starts
            env = {k: v for k, v in os.environ.items() if k not in ISA_ENV["avx2"]} | wanted
            return subprocess.run([sys.executable, __file__, *(argv or sys.argv[1:])], env=env).returncode
        train(args.isa, args.runs, depthwise.DEPTHWISE_DIR)
    read = depthwise.reading()
    for arm, row in read["rows"].items():
        print(f"{arm}: folded {', '.join(f'{t:.1f}' for t in row['folded'])} against the library's "
              f"{', '.join(f'{t:.1f}' for t in row['library'])}: {row['difference']:+.1f} (band ±{row['band']:.1f})")
    print(f"decision: {read['decision']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
