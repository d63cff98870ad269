"""Train step 16 on the course's CPU kernels (seeds 0-2, cpu profile), natively and with the CPU held to AVX2,
and print what the rules read from them.

    python tools/cpu_kernels_check.py --isa native            # that arm's runs not yet recorded, then the readings
    python tools/cpu_kernels_check.py --isa avx2
    python tools/cpu_kernels_check.py --table                 # only the readings
    python tools/cpu_kernels_check.py --isa native --check folded   # the first check (the folded gradient alone)

The rules, fixed before the runs, are in ``convnext_lesson/teach/readings/cpu_kernels.py``; records go to
``convnext_lesson/reference/followups/<check's folder>/<isa>/``. ``--isa avx2`` needs an AVX-512 CPU (on an
AVX2 one, ``native`` is the real thing: name its folder by hand).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from convnext_lesson.training.cpu_speed import ISA_ENV, emulation_text


def train(check: str, isa: str, runs: Path) -> None:
    import convnext_lesson as cl
    from convnext_lesson.teach.readings import cpu_kernels
    from convnext_lesson.training import results

    folder = cpu_kernels.CHECK_DIRS[check] / isa
    for seed in cpu_kernels.SEEDS:
        if any(r["seed"] == seed for r in results.find_records(folder)):
            continue
        print(f"== step {cpu_kernels.STEP}, cpu_kernels={check}, {isa}, seed {seed}", flush=True)
        run = cl.train(cpu_kernels.STEP, profile="cpu", out_dir=runs / check / isa, seed=seed, cpu_kernels=check,
                       resume=True, progress=False)
        path = results.publish_record(run.run_dir, folder)
        record = results.read_record(path)
        record["note"] = ("trained natively" if isa == "native" else
                          f"trained with oneDNN, ATen and MKL held to AVX2 ({emulation_text(isa)}) on this "
                          "AVX-512 CPU: an emulation")
        results.write_record(record, path)
        print(f"   top-1 {run.top1:.1f}%, {run.record['wall_time_s']:.0f} s", flush=True)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa", choices=sorted(ISA_ENV), help="train this arm's missing runs first")
    parser.add_argument("--check", choices=("course", "folded"), default="course")
    parser.add_argument("--table", action="store_true", help="only print the readings")
    parser.add_argument("--runs", type=Path, default=Path(__file__).resolve().parents[1] / "runs" / "cpu-kernels")
    args = parser.parse_args(argv)
    from convnext_lesson.teach.readings import cpu_kernels

    if args.isa and not args.table:
        wanted = ISA_ENV[args.isa]
        if any(os.environ.get(k) != v for k, v in wanted.items()):  # the ISA is fixed as torch starts
            env = {k: v for k, v in os.environ.items() if k not in ISA_ENV["avx2"]} | wanted
            return subprocess.run([sys.executable, __file__, *argv], env=env).returncode
        train(args.check, args.isa, args.runs)
    for check in cpu_kernels.RULES:
        read = cpu_kernels.reading(check)
        for arm, row in read["rows"].items():
            print(f"{check}, {arm}: {', '.join(f'{t:.1f}' for t in row['tops'])} against the library's "
                  f"{', '.join(f'{t:.1f}' for t in row['library'])}: {row['difference']:+.1f} "
                  f"(band ±{row['band']:.1f})")
        print(f"{check}: {read['decision']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
