"""Where a network's compute goes, by kind of layer (notebooks 04-06: the block's changes).

A step of the roadmap changes one kind of layer (the 3x3 conv becomes depthwise, the
1x1 convs widen, the shortcuts shrink, the kernel grows), so the notebooks split a
network's GFLOPs by the kind of layer rather than by stage:

- ``layer_cost(layer, input_shape)``: parameters and multiply-accumulates of one layer
  or block, counted by fvcore (one conv on its own: "what does this layer cost?").
- ``flops_by_kind(step_or_model)``: GFLOPs of the stem, the blocks' 1x1 convs, the
  blocks' spatial (kxk) convs, the shortcut convs, separate downsampling convs and the
  head, in the paper's convention (conv + linear multiply-accumulates). The kinds add
  up to ``count_flops``.
- ``print_flops_by_kind(steps)``: those numbers for a few steps side by side.
- ``stage_flops(step)``: GFLOPs of the stem, each stage and the head (as
  ``count_step(step).by_part``), from the same count as ``flops_by_kind``.
- ``print_block_costs(block, input_shape)``: a block of the builder, conv by conv.
- ``draw_blocks(steps)``: the block diagrams of a few steps side by side.

Counting runs on one thread: measured on a busy 2-core machine, fvcore counted a
full-size step in about 0.8 s on one thread and 4 s on two.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from ...model.counting import PAPER_OPS, FlopCountAnalysis
from ...model.threads import one_thread
from ...model.roadmap import build_model, get_step

KINDS = ("stem", "1x1 convs", "spatial convs", "shortcut convs", "downsampling convs", "head")


@dataclass(frozen=True)
class LayerCost:
    """What one layer costs for one input: parameters, multiply-accumulates, output shape."""

    params: int
    macs: int
    output_shape: tuple[int, ...]


def layer_cost(layer: nn.Module, input_shape) -> LayerCost:
    """Parameters and multiply-accumulates of ``layer`` (a conv, or a block of layers) on one
    input of ``input_shape`` (without the batch dimension, e.g. ``(64, 56, 56)``).

    MACs are counted by fvcore in the paper's convention: conv and linear layers only.
    """
    try:
        shape = tuple(int(v) for v in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if not shape or any(v < 1 for v in shape):
        raise ValueError(f"input_shape must be positive sizes without the batch, e.g. (64, 56, 56); got {input_shape!r}")
    x = torch.zeros(1, *shape)
    was_training = layer.training
    try:
        with one_thread(), warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            analysis = FlopCountAnalysis(layer.eval(), x)
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            macs = sum(v for op, v in analysis.by_operator().items() if op in PAPER_OPS)
            out = layer(x)
    finally:
        layer.train(was_training)
    return LayerCost(sum(p.numel() for p in layer.parameters()), int(macs), tuple(out.shape[1:]))


def _kind(name: str, module: nn.Module) -> str:
    if name.startswith("stem"):
        return "stem"
    if name.startswith("head"):
        return "head"
    if ".shortcut." in name:
        return "shortcut convs"
    if ".downsample." in name:
        return "downsampling convs"
    if ".blocks." in name and isinstance(module, nn.Conv2d):
        return "1x1 convs" if module.kernel_size == (1, 1) else "spatial convs"
    raise ValueError(f"cannot tell what kind of layer {name!r} ({type(module).__name__}) is")


def _paper_gflops(ops: dict) -> float:
    return sum(v for op, v in ops.items() if op in PAPER_OPS) / 1e9


def _analyse(model: nn.Module, image_size: int) -> tuple[dict[str, float], dict[str, float]]:
    """(GFLOPs by kind of layer, GFLOPs by part) of one forward pass, paper convention."""
    x = torch.zeros(1, model.config.in_chans, image_size, image_size)
    with one_thread(), warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        analysis = FlopCountAnalysis(model.eval(), x)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        per_module = analysis.by_module_and_operator()
    totals = dict.fromkeys(KINDS, 0.0)
    for name, module in model.named_modules():
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        totals[_kind(name, module)] += _paper_gflops(per_module.get(name, {}))
    parts = ["stem"] + [f"stages.{i}" for i in range(len(model.stages))] + ["head"]
    return totals, {part: _paper_gflops(per_module.get(part, {})) for part in parts}


@lru_cache(maxsize=None)
def _analyse_step(index: int, regime: str, image_size: int) -> tuple:
    by_kind, by_part = _analyse(build_model(index, regime=regime), image_size)
    return tuple(by_kind.items()), tuple(by_part.items())


def _check_image_size(image_size, config) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < config.min_input_size:
        raise ValueError(f"image_size={image_size!r} must be an int of at least {config.min_input_size} (the "
                         "network's smallest input)")


def flops_by_kind(step_or_model, regime: str = "resnet50", image_size: int = 224) -> dict[str, float]:
    """GFLOPs (paper convention) of each kind of layer (``KINDS``) of a roadmap step (index,
    name or ``Step``; cached) or of a network built by the course's builder."""
    if isinstance(step_or_model, nn.Module):
        if not (hasattr(step_or_model, "config") and hasattr(step_or_model, "stages")):
            raise ValueError("flops_by_kind needs a network of the course's builder (cl.build_model, cl.Network); "
                             f"got {type(step_or_model).__name__}")
        _check_image_size(image_size, step_or_model.config)
        return _analyse(step_or_model, image_size)[0]
    step = get_step(step_or_model, regime)
    _check_image_size(image_size, step.config)
    return dict(_analyse_step(step.index, regime, image_size)[0])


def stage_flops(step, regime: str = "resnet50", image_size: int = 224) -> dict[str, float]:
    """GFLOPs (paper convention) of the stem, each stage and the head of a roadmap step (cached):
    the same numbers as ``count_step(step).by_part``, from ``flops_by_kind``'s count."""
    step = get_step(step, regime)
    _check_image_size(image_size, step.config)
    return dict(_analyse_step(step.index, regime, image_size)[1])


def print_flops_by_kind(steps, regime: str = "resnet50", image_size: int = 224) -> None:
    """A table: rows are kinds of layer, columns the given steps (GFLOPs, paper convention)."""
    steps = [get_step(s, regime) for s in steps]
    columns = [flops_by_kind(s, regime, image_size) for s in steps]
    kinds = [k for k in KINDS if any(c[k] for c in columns)]
    print(f"GFLOPs by kind of layer, {image_size}x{image_size}, paper convention (conv + linear MACs)")
    print(f"{'kind of layer':20s}" + "".join(f"{'step ' + str(s.index):>10s}" for s in steps))
    for kind in kinds:
        print(f"{kind:20s}" + "".join(f"{c[kind]:10.3f}" for c in columns))
    print(f"{'total':20s}" + "".join(f"{sum(c.values()):10.3f}" for c in columns))


def print_block_costs(block: nn.Module, input_shape, title: str = "") -> None:
    """Each conv of a block of the course's builder (``Block``): its shape, the resolution it
    works at, its multiply-accumulates and parameters; then the whole block."""
    if not all(hasattr(block, f"conv{i}") for i in (1, 2, 3)):
        raise ValueError(f"expected a block of the course's builder (conv1, conv2, conv3), got {type(block).__name__}")
    shape = tuple(int(v) for v in input_shape)
    if title:
        print(title)
    convs = [(f"conv{i}", getattr(block, f"conv{i}")) for i in (1, 2, 3)]
    if isinstance(getattr(block, "shortcut", None), nn.Sequential):
        convs.append(("shortcut", block.shortcut.conv))
    print(f"  {'layer':9s} {'kind':24s} {'channels':>12s} {'input':>8s} {'MMACs':>8s} {'params':>9s}")
    block_input = shape
    for name, conv in convs:
        if name == "shortcut":
            shape = block_input
        cost = layer_cost(conv, shape)
        k, stride = conv.kernel_size[0], conv.stride[0]
        kind = f"{k}x{k}" + (" depthwise" if conv.groups > 1 else "") + (f", stride {stride}" if stride > 1 else "")
        print(f"  {name:9s} {kind:24s} {conv.in_channels:5d} -> {conv.out_channels:4d} "
              f"{f'{shape[-2]}x{shape[-1]}':>8s} {cost.macs / 1e6:8.1f} {cost.params:9,}")
        shape = cost.output_shape
    total = layer_cost(block, block_input)
    print(f"  {'block':9s} {'all (params: + norms)':24s} {block_input[0]:5d} -> {shape[0]:4d} "
          f"{f'{block_input[-2]}x{block_input[-1]}':>8s} {total.macs / 1e6:8.1f} {total.params:9,}")


def draw_blocks(steps, regime: str = "resnet50", stage: int = 0, first_block: bool = False):
    """The block diagrams (``diagrams.draw_block``) of a few steps side by side; returns the Figure."""
    import matplotlib.pyplot as plt

    from .diagrams import draw_block

    steps = [get_step(s, regime) for s in steps]
    fig, axes = plt.subplots(1, len(steps), figsize=(4.1 * len(steps), 6.4), squeeze=False)
    for ax, step in zip(axes[0], steps):
        draw_block(step.config, stage=stage, first_block=first_block, ax=ax)
        branch = "" if step.adopted else ", a branch"
        ax.set_title(f"step {step.index}: {step.label}{branch}\n{ax.get_title()}", fontsize=9.5)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.9, wspace=0.05)
    return fig
