"""Command line: ``python -m convnext_lesson <command>``."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from .counting import count_roadmap
from .roadmap import REGIMES


def format_roadmap_table(rows, image_size: int = 224) -> str:
    """The roadmap as a Markdown table: our counts beside the paper's."""
    lines = [f"| step | change | params | GFLOPs (paper conv.) | GFLOPs (fvcore) | paper GFLOPs | difference |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    notes = []
    for r in rows:
        label = r.label + ("" if r.adopted else " (branch)")
        if r.note:
            notes.append(f"[{len(notes) + 1}] step {r.index}: {r.note}")
            label += f" [{len(notes)}]"
        paper = f"{r.paper_gflops:.2f}" if image_size == 224 else "-"
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
        print(format_roadmap_table(rows, args.image_size))
    return 0


def positive_int(text: str) -> int:
    value = int(text)
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
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as error:  # bad input: one clear line, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
