"""Command line: ``python -m convnext_lesson <command>``."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from .model.counting import count_roadmap
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

    run = train(args.step, profile=args.profile, dataset=args.dataset, regime=args.regime, data_dir=args.data_dir,
                out_dir=args.out, seed=args.seed, resume=args.resume, download=args.download, ema=args.ema,
                epochs=args.epochs, image_size=args.image_size, batch_size=args.batch_size,
                micro_batch=args.micro_batch, compile=args.compile or None, device=args.device, amp=args.amp,
                progress=not args.no_progress)
    if run.record is not None:
        print(run)
    return 0


def cmd_doctor(args) -> int:
    from .teach.doctor import main as doctor

    return doctor()


def cmd_ladder(args) -> int:
    from .training.ladder import ladder

    ladder(profile=args.profile, steps=args.steps, dataset=args.dataset, regime=args.regime, data_dir=args.data_dir,
           out_dir=args.out, seed=args.seed, download=args.download, progress=not args.no_progress,
           epochs=args.epochs, image_size=args.image_size, batch_size=args.batch_size)
    return 0


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments shared by ``train`` and ``ladder``."""
    from .training.datasets import DATASETS
    from .training.profiles import ENV_VAR, PROFILES

    p.add_argument("--profile", choices=list(PROFILES),
                   help=f"run size (default: ${ENV_VAR}, else cpu without a GPU, colab or full with one)")
    p.add_argument("--dataset", choices=list(DATASETS), help="default: the profile's")
    p.add_argument("--regime", choices=REGIMES, default="resnet50")
    p.add_argument("--data-dir", help="folder with an offline copy (unpacked, or the .tar.gz packs); "
                   "default: $CONVNEXT_LESSON_DATA and data/")
    p.add_argument("--download", action="store_true", help="download the official archive if no copy is found")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="folder for run folders (default: $CONVNEXT_LESSON_RUNS or ./runs)")
    p.add_argument("--epochs", type=positive_int, help="override the profile's epochs")
    p.add_argument("--image-size", type=positive_int, help="override the profile's resolution")
    p.add_argument("--batch-size", type=positive_int, help="override the profile's effective batch")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")


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
    add_run_arguments(tr)
    tr.add_argument("--resume", action="store_true", help="continue the run from its checkpoint")
    tr.add_argument("--ema", action="store_true", help="also keep and evaluate an EMA of the weights")
    tr.add_argument("--micro-batch", type=positive_int, help="images per process at once (gradient accumulation)")
    tr.add_argument("--compile", action="store_true", help="torch.compile the model")
    tr.add_argument("--amp", choices=("auto", "bf16", "fp16", "none"), default="auto",
                    help="mixed precision: auto (bf16 on Ampere and later, fp16 on older GPUs, none on a CPU), "
                         "or a choice; none trains in full precision")
    tr.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    tr.set_defaults(func=cmd_train)

    la = sub.add_parser("ladder", help="train roadmap steps in order (skipping finished ones), then write a summary "
                        "table and the roadmap plot")
    la.add_argument("--steps", help='e.g. "0-3,9,16" or "0 1 16" (default: all steps)')
    add_run_arguments(la)
    la.set_defaults(func=cmd_ladder)
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
