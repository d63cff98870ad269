"""Small printing helpers the step notebooks share: what a step changes, and its counts next to the paper's.

Everything here prints plain, deterministic text, so nbval can compare these outputs on any machine.
"""
from __future__ import annotations

from .counting import count_step
from .roadmap import get_step


def show_change(step, regime: str = "resnet50") -> None:
    """A step's change as the difference of its configuration from the step it changes."""
    s = get_step(step, regime)
    print(f"step {s.index} · {s.label}: {s.change}")
    if s.parent is None:
        print("  (the starting point of the roadmap)")
        return
    parent = get_step(s.parent, regime)
    diff = parent.config.diff(s.config)
    if not diff:
        print(f"  same network as step {parent.index}; only the training recipe changes "
              f"({parent.recipe} -> {s.recipe})")
        return
    for field, (old, new) in diff.items():
        print(f"  - {field}={old!r}")
        print(f"  + {field}={new!r}")
    print(f"  i.e. cl.build_model({s.index}) is cl.build_model({parent.index}, "
          + ", ".join(f"{k}={v!r}" for k, (_, v) in diff.items()) + ")")


def step_table(steps, regime: str = "resnet50", image_size: int = 224) -> None:
    """Params and GFLOPs (both conventions) of some steps, beside the paper's GFLOPs and top-1."""
    print(f"{'step':>4}  {'change':<24} {'params':>8} {'GFLOPs':>7} {'fvcore':>7} │ {'paper GFLOPs':>12} "
          f"{'paper top-1':>11}")
    for index in steps:
        row = count_step(get_step(index, regime).index, regime, image_size)
        label = row.label + ("" if row.adopted else " (branch)")
        paper_gflops = f"{row.paper_gflops:.2f}" + ("*" if row.note else " ")
        print(f"{row.index:>4}  {label:<24} {row.params / 1e6:7.2f}M {row.gflops_paper_convention:7.3f} "
              f"{row.gflops_fvcore:7.3f} │ {paper_gflops:>12} {row.paper_top1:>11.2f}")
    print(f"ours: counted by fvcore at {image_size}x{image_size}; GFLOPs = conv + linear multiply-accumulates "
          "(the paper's convention), fvcore = fvcore's default (+ norms, pooling).")
    source = ("Table 10 (top-1: mean of 3 runs" if regime == "resnet50" else "Table 11 (top-1: single runs")
    print(f"paper: ImageNet-1K, {source}, 300 epochs).")
    for index in steps:
        row = count_step(get_step(index, regime).index, regime, image_size)
        if row.note:
            print(f"* step {row.index}: {row.note}")
