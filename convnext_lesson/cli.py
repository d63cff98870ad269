"""Command line: ``python -m convnext_lesson <command>``."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from .model.counting import count_roadmap
from .model.cpu_kernels import KERNEL_CHOICES
from .model.roadmap import REGIMES, get_step


def format_roadmap_table(rows, image_size: int = 224, regime: str = "resnet50") -> str:
    """The roadmap as a Markdown table: our counts beside the paper's."""
    lines = [f"| step | change | params | GFLOPs (paper conv.) | GFLOPs (fvcore) | paper GFLOPs (Table 10 as printed) | ours - corrected |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    notes = []
    for r in rows:
        label = r.label + ("" if r.adopted else " (branch)")
        if r.note:
            notes.append(f"[{len(notes) + 1}] step {r.index}: {r.note}")
            label += f" [{len(notes)}]"
        printed = get_step(r.index, regime).paper_table_gflops
        paper = (f"{printed:.2f}" + (f" (corrected: {r.paper_gflops:.2f})" if printed != r.paper_gflops else "")
                 if image_size == 224 else "-")
        diff = f"{r.difference:+.3f}" if image_size == 224 else "-"
        lines.append(f"| {r.index} | {label} | {r.params / 1e6:.2f}M | {r.gflops_paper_convention:.3f} | "
                     f"{r.gflops_fvcore:.3f} | {paper} | {diff} |")
    return "\n".join(lines + ([""] + notes if notes else []))


def cmd_flops(args) -> int:
    rows = count_roadmap(args.regime, args.image_size)
    if args.json:
        print(json.dumps({"regime": args.regime, "image_size": args.image_size,
                          "steps": [asdict(r) | {"difference": r.difference} for r in rows]}, indent=2))
    else:
        print(f"Roadmap, {args.regime} regime, {args.image_size}x{args.image_size} input. GFLOPs are "
              "multiply-accumulates / 1e9 counted by fvcore; the paper's convention counts conv and linear "
              "layers only.\n")
        print(format_roadmap_table(rows, args.image_size, args.regime))
    return 0


def cmd_train(args) -> int:
    from .training import train

    options = run_options(args, "step", "set")
    run = train(args.step, progress=not args.no_progress, **options, **dict(args.set or []))
    if run.record is not None:
        print(run)
    return 0


def cmd_doctor(args) -> int:
    from .teach.doctor import main as doctor

    return doctor()


def cmd_cpu_speed(args) -> int:
    from pathlib import Path

    from .training.cpu_speed import format_report, run

    report = run(args.steps, args.threads, args.isa, args.wait_policy, args.busy, args.bf16, args.kernels,
                 args.cpu_kernels)
    print(format_report(report))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"written: {args.out}")
    return 0


def cmd_ladder(args) -> int:
    from .training.ladder import ladder

    ladder(progress=not args.no_progress, **run_options(args))
    return 0


def run_options(args, *own: str) -> dict:
    """The run options given on the command line, as keyword arguments (``--recipe`` settings as a dict)."""
    options = {k: v for k, v in vars(args).items() if k not in ("command", "func", "no_progress", *own)}
    if "recipe" in options:
        options["recipe"] = dict(options["recipe"])
    return options


def add_run_arguments(p: argparse.ArgumentParser, names) -> None:
    """One flag for each run option in ``names``, described as ``plan.RunOptions`` describes it (the list is
    written there once). A flag not given is left out, so the option keeps its default."""
    from dataclasses import fields

    from .training.plan import RunOptions

    for option in fields(RunOptions):
        if option.name not in names:
            continue
        kind, meta = option.type, option.metadata
        flag = meta["flag"] or "--" + option.name.replace("_", "-")
        common = dict(dest=option.name, help=meta["help"], default=argparse.SUPPRESS)
        if kind.startswith("bool"):
            p.add_argument(flag, action="store_true", **common)
        elif kind.startswith("dict"):
            p.add_argument(flag, action="append", type=setting, metavar="KEY=VALUE", **common)
        else:
            number = positive_int if option.name != "seed" else int
            p.add_argument(flag, type=number if kind.startswith("int") else str, choices=meta["choices"], **common)
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")


def setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` as (key, value): the value read as a Python literal (0.5, True, (7, 7), None), else as text."""
    import ast

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r} (e.g. kernel_size=9 or mix_prob=0.0)")
    try:
        return key.strip(), ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        return key.strip(), value.strip()


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0  # "1.5", "big": the same message as for 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m convnext_lesson",
                                     description="ResNet-50 to ConvNeXt, one step at a time.")
    sub = parser.add_subparsers(dest="command", required=True)
    flops = sub.add_parser("flops", help="print the roadmap table: params and GFLOPs of every step")
    flops.add_argument("--regime", choices=REGIMES, default="resnet50")
    flops.add_argument("--image-size", type=positive_int, default=224)
    flops.add_argument("--json", action="store_true", help="machine-readable output")
    flops.set_defaults(func=cmd_flops)

    tr = sub.add_parser("train", help="train one roadmap step and write its results record",
                        description="Train one roadmap step. Under torchrun (torchrun --nproc_per_node N -m "
                        "convnext_lesson train ...) it trains with DistributedDataParallel.")
    tr.add_argument("--step", required=True, help="step index (0-16) or name, e.g. 9 or kernel_7")
    from .training.plan import RunOptions

    add_run_arguments(tr, RunOptions.__dataclass_fields__)
    tr.add_argument("--set", action="append", type=setting, metavar="KEY=VALUE",
                    help="change a field of the step's network config, e.g. kernel_size=9 (repeatable)")
    tr.set_defaults(func=cmd_train)

    la = sub.add_parser("ladder", help="train roadmap steps in order (skipping finished ones), then write a summary "
                        "table and the roadmap plot")
    la.add_argument("--steps", help='e.g. "0-3,9,16" or "0 1 16" (default: all steps)')
    add_run_arguments(la, set(RunOptions.__dataclass_fields__) - {"resume"})  # a ladder always resumes
    la.set_defaults(func=cmd_ladder)
    sp = sub.add_parser("cpu-speed", help="how fast this CPU trains the cpu profile's steps, against its matrix-product "
                        "rate; quiet or beside a busy process; per thread count, OpenMP wait policy and ISA")
    sp.add_argument("--steps", type=int, nargs="+", default=[1, 15, 16], help="roadmap steps (default: 1 15 16)")
    sp.add_argument("--threads", type=positive_int, nargs="+", default=[None], help="torch threads (default: torch's)")
    sp.add_argument("--busy", action="store_true", help="also time each beside one spinning process")
    sp.add_argument("--wait-policy", nargs="+", choices=("default", "passive"), default=["default"],
                    help="OpenMP's wait policy for idle threads")
    sp.add_argument("--isa", nargs="+", choices=("native", "avx2"), default=["native"],
                    help="avx2: take the AVX2 paths on an AVX-512 CPU (an emulation, said so)")
    sp.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                    help="also time bf16 autocast (default: where the CPU has native bf16)")
    sp.add_argument("--kernels", action="store_true", help="oneDNN's timing of each convolution kernel")
    sp.add_argument("--cpu-kernels", nargs="+", choices=KERNEL_CHOICES, default=["library"],
                    help="how depthwise and pointwise convolutions are computed (model/cpu_kernels.py): each one "
                    "timed (folded only on steps with depthwise convolutions)")
    sp.add_argument("--out", help="also write the result as JSON here")
    sp.set_defaults(func=cmd_cpu_speed)
    doc = sub.add_parser("doctor", help="check this machine for the course: Python, packages, device, profile, "
                         "data, memory, disk, and what to do about anything missing")
    doc.set_defaults(func=cmd_doctor)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .training.download import DownloadError
    from .training.engine import TrainingError

    try:
        return args.func(args)
    except ValueError as error:  # bad input: one clear line, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (DownloadError, TrainingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # e.g. the disk filled up mid-run: the file and the reason, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():  # under torchrun: leave the process group cleanly
            dist.destroy_process_group()
