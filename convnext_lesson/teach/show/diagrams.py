"""Pictures of a roadmap step, drawn from its configuration with matplotlib.

- ``draw_block``: the residual block of a step, one box per layer (conv kxk with
  channels and groups, norm, activation, layer scale), the shortcut and the add.
  The boxes are read off a real ``Block`` built from the step's config, so each of
  the 17 steps (both regimes) gets the block it really has.
- ``draw_macro``: stem, stages (box height by number of blocks: the 3:4:6:3 vs
  3:3:9:3 story), downsampling layers and head.
- ``draw_stage_compute``: GFLOPs of each part, from ``flop_report(...).by_part()``.
- ``draw_step``: the three side by side, with the step's change as the title.

Functions given no ``ax`` make a new pyplot figure (end the notebook line with ``;``
to show it once); the explorer passes axes of its own figures instead.
"""
from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass

from torch import nn

from ...model.config import NetConfig
from ...model.layers import Block, LayerNorm2d
from ...model.roadmap import Step, get_step

IMAGE_SIZE = 224  # resolutions in the pictures are for the paper's 224x224 input
COLORS = {"spatial": "#f4a261", "conv": "#8ecae6", "norm": "#ffd166", "act": "#95d5b2", "scale": "#d9d9d9",
          "stem": "#cdb4db", "stage": "#bde0fe", "downsample": "#f4a261", "head": "#d9d9d9"}
PARTS = ("stem", "stages.0", "stages.1", "stages.2", "stages.3", "head")


@dataclass(frozen=True)
class Layer:
    kind: str  # "spatial" (kxk conv, k > 1), "conv" (1x1), "norm", "act" or "scale"
    text: str


@dataclass(frozen=True)
class BlockLayout:
    """What ``draw_block`` draws: the layers of one block, in forward order."""

    stage: int
    first_block: bool
    in_channels: int
    out_channels: int
    in_resolution: int
    out_resolution: int
    layers: tuple[Layer, ...]
    shortcut: tuple[Layer, ...]  # empty: identity
    after_add: Layer | None  # the activation after the residual add, if any


def step_config(step, regime: str = "resnet50") -> NetConfig:
    """The config of a step given by index, name, ``Step`` or the ``NetConfig`` itself."""
    if isinstance(step, NetConfig):
        return step
    return get_step(step, regime).config


def _conv_layer(conv: nn.Conv2d) -> Layer:
    k, s, g = conv.kernel_size[0], conv.stride[0], conv.groups
    kind = "depthwise conv" if g > 1 and g == conv.in_channels else "conv"
    title = f"{k}×{k} {kind}" + (f", stride {s}" if s > 1 else "")
    detail = f"{conv.in_channels} → {conv.out_channels} ch" + (f", groups {g}" if g > 1 else "")
    return Layer("spatial" if k > 1 else "conv", f"{title}\n{detail}")


def _norm_layer(norm: nn.Module, short: bool = False) -> Layer | None:
    if isinstance(norm, nn.Identity):
        return None
    if isinstance(norm, LayerNorm2d):
        return Layer("norm", "LayerNorm" if short else "LayerNorm (over channels)")
    return Layer("norm", "BatchNorm")


def _act_layer(act: nn.Module) -> Layer | None:
    return None if isinstance(act, nn.Identity) else Layer("act", type(act).__name__)


def block_layout(step, regime: str = "resnet50", stage: int = 0, first_block: bool = False) -> BlockLayout:
    """The layers of a block of ``stage`` (0-3): a repeated block, or the stage's first one.

    The first block of a stage differs where the channels change or (until the
    separate downsampling of step 16) where it strides by 2: then its shortcut is a
    1x1 conv + norm instead of the identity.
    """
    cfg = step_config(step, regime)
    if not (isinstance(stage, int) and 0 <= stage < len(cfg.depths)):
        raise ValueError(f"stage={stage!r} is not valid; choose 0..{len(cfg.depths) - 1}")
    out_ch = cfg.stage_out_channels[stage]
    side = IMAGE_SIZE // 4 // 2 ** stage  # the stem divides by 4, each later stage by 2
    in_block_stride = first_block and stage > 0 and cfg.downsampling == "in_block"
    if first_block and cfg.downsampling == "in_block":
        cin = cfg.stem_width if stage == 0 else cfg.stage_out_channels[stage - 1]
    else:
        cin = out_ch  # repeated blocks, or after a separate downsampling layer
    block = Block(cin, cfg.widths[stage], 2 if in_block_stride else 1, cfg)
    layers = []
    for i in (1, 2, 3):
        layers.append(_conv_layer(getattr(block, f"conv{i}")))
        layers += [x for x in (_norm_layer(getattr(block, f"norm{i}")), _act_layer(getattr(block, f"act{i}"))) if x]
    if block.layer_scale is not None:
        layers.append(Layer("scale", f"layer scale (init {cfg.layer_scale:.0e})".replace("e-0", "e-")))
    if block.shortcut is None:
        raise ValueError("this block has no shortcut (shortcuts=False): the diagrams draw the roadmap's blocks, "
                         "which all have one")
    shortcut = ()
    if not isinstance(block.shortcut, nn.Identity):
        shortcut = tuple(x for x in (_conv_layer(block.shortcut.conv), _norm_layer(block.shortcut.norm, short=True)) if x)
    return BlockLayout(stage, first_block, cin, block.out_channels, side * 2 if in_block_stride else side, side,
                       tuple(layers), shortcut, _act_layer(block.act_out))


def _new_axes(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=figsize)
    fig.subplots_adjust(left=0.03, right=0.97, bottom=0.03, top=0.93)  # diagrams need no room for ticks
    return ax


def _font_scale(ax, design_width: float) -> float:
    """Shrink the text of an axes narrower than the ``design_width`` (inches) it was laid out for."""
    width = ax.get_position().width * ax.figure.get_figwidth()
    return min(1.0, width / design_width)


def _box(ax, x, y, w, h, text, color, fontsize=9):
    from matplotlib.patches import FancyBboxPatch
    ax.add_patch(FancyBboxPatch((x - w / 2, y), w, h, boxstyle="round,pad=0,rounding_size=0.12",
                                fc=color, ec="#333333", lw=0.8, zorder=3))
    ax.text(x, y + h / 2, text, ha="center", va="center", fontsize=fontsize, linespacing=1.15, zorder=4)


def _arrow(ax, x1, y1, x2, y2):
    ax.annotate("", xy=(x2, y2), xytext=(x1, y1),
                arrowprops=dict(arrowstyle="-|>", lw=0.9, color="#333333", shrinkA=0, shrinkB=0))


def draw_block(step, regime: str = "resnet50", stage: int = 0, first_block: bool = False, ax=None):
    """Boxes and arrows for each layer of the block (see ``block_layout``); returns the Axes."""
    layout = block_layout(step, regime, stage, first_block)
    heights = {"spatial": 0.95, "conv": 0.95, "norm": 0.55, "act": 0.55, "scale": 0.55}
    gap, x, w, sx, sw = 0.35, 3.2, 4.6, 7.6, 3.2  # main column and shortcut column: centre, width
    ax = _new_axes(ax, (4.2, 6.2))
    fs = _font_scale(ax, 3.9)  # laid out for a panel about 3.9 inches wide
    y = 0.15
    ax.text(x, y, f"input: {layout.in_channels} ch, {layout.in_resolution}×{layout.in_resolution}",
            ha="center", va="top", fontsize=8.5 * fs)
    y += 0.45
    split = y + 0.12  # where the shortcut leaves the main path
    for layer in layout.layers:
        _arrow(ax, x, y, x, y + gap)
        y += gap
        _box(ax, x, y, w, heights[layer.kind], layer.text, COLORS[layer.kind], fontsize=9 * fs)
        y += heights[layer.kind]
    _arrow(ax, x, y, x, y + gap)
    add_y = y + gap + 0.22
    ax.text(x, add_y, "+", ha="center", va="center", fontsize=11 * fs, fontweight="bold",
            bbox=dict(boxstyle="circle,pad=0.15", fc="white", ec="#333333", lw=0.9))
    # shortcut: right from the input, down, and into the add
    ax.plot([x, sx, sx], [split, split, add_y], color="#555555", lw=0.9)
    _arrow(ax, sx, add_y, x + 0.3, add_y)
    if layout.shortcut:
        n = len(layout.shortcut)
        top = (split + add_y) / 2 - (0.95 + 0.55 * (n - 1)) / 2
        for layer in layout.shortcut:
            h = heights[layer.kind]
            _box(ax, sx, top, sw, h, layer.text, COLORS[layer.kind], fontsize=8 * fs)
            top += h
        label = "shortcut"
    else:
        label = "identity\nshortcut"
    ax.text(sx + 0.15, split + 0.2, label, ha="left", va="top", fontsize=7.5 * fs, color="#555555")
    y = add_y + 0.25
    if layout.after_add:
        _arrow(ax, x, y, x, y + gap)
        y += gap
        _box(ax, x, y, w, 0.55, layout.after_add.text, COLORS["act"], fontsize=9 * fs)
        y += 0.55
    _arrow(ax, x, y, x, y + gap)
    y += gap + 0.05
    ax.text(x, y, f"output: {layout.out_channels} ch, {layout.out_resolution}×{layout.out_resolution}",
            ha="center", va="top", fontsize=8.5 * fs)
    which = "first block" if first_block else "a repeated block"
    ax.set_title(f"{which} of stage {stage + 1}", fontsize=9.5 * fs)
    ax.set_xlim(0.8, 9.3)
    ax.set_ylim(y + 0.45, 0)
    ax.axis("off")
    return ax


def macro_layout(step, regime: str = "resnet50") -> list[tuple[str, str, float]]:
    """(kind, text, relative height) of the stem, each stage, downsampling layers and head."""
    cfg = step_config(step, regime)
    norm = "LayerNorm" if cfg.norm == "ln" else "BatchNorm"
    if cfg.stem == "resnet":
        stem = f"stem: 7×7 conv, stride 2, {cfg.stem_width} ch\n{norm}, ReLU, 3×3 max-pool /2"
    else:
        stem = f"stem: 4×4 conv, stride 4 (patchify), {cfg.stem_width} ch" + (f"\n{norm}" if cfg.stem_norm else "")
    rows = [("stem", stem, 0.9)]
    unit = 6.0 / sum(cfg.depths)  # the four stage boxes share the same total height in every step
    for i, (depth, ch) in enumerate(zip(cfg.depths, cfg.stage_out_channels)):
        side = IMAGE_SIZE // 4 // 2 ** i
        if cfg.downsampling == "separate" and i > 0:
            rows.append(("downsample", f"{norm}, 2×2 conv, stride 2", 0.5))
        strides = ", first block /2" if cfg.downsampling == "in_block" and i > 0 else ""
        rows.append(("stage", f"stage {i + 1}: {depth} blocks\n{ch} ch, {side}×{side}{strides}", 0.35 + depth * unit))
    rows.append(("head", "global avg pool" + (f" → {norm}" if cfg.head_norm else "") + " → linear", 0.55))
    return rows


def draw_macro(step, regime: str = "resnet50", ax=None):
    """The whole network as a column of parts; stage boxes are as tall as their block count."""
    cfg = step_config(step, regime)
    ax = _new_axes(ax, (3.4, 6.2))
    fs = _font_scale(ax, 3.1)  # laid out for a panel about 3.1 inches wide
    x, w, gap, y = 2.5, 4.6, 0.3, 0.15
    ax.text(x, y, f"image {IMAGE_SIZE}×{IMAGE_SIZE}, {cfg.in_chans} ch", ha="center", va="top", fontsize=8.5 * fs)
    y += 0.35
    for kind, text, height in macro_layout(cfg):
        _arrow(ax, x, y, x, y + gap)
        y += gap
        _box(ax, x, y, w, height, text, COLORS[kind], fontsize=8 * fs)
        y += height
    ax.set_title("blocks per stage " + ":".join(map(str, cfg.depths)), fontsize=9.5 * fs)
    ax.set_xlim(0, 5)
    ax.set_ylim(y + 0.2, 0)
    ax.axis("off")
    return ax


def _part_label(part: str) -> str:
    return f"stage {int(part.split('.')[1]) + 1}" if part.startswith("stages.") else part


def draw_stage_compute(by_part: dict[str, float], ax=None, compare: dict[str, float] | None = None,
                       compare_label: str = "previous step", title: str | None = None):
    """Horizontal bars of GFLOPs per part (``flop_report(model).by_part()``), with each
    bar's share of the total; ``compare`` draws another step's bars as outlines."""
    if ax is None:
        import matplotlib.pyplot as plt
        ax = plt.subplots(figsize=(4.8, 3.2), layout="constrained")[1]
    parts = [p for p in by_part if p in PARTS] or list(by_part)
    ys = list(range(len(parts)))
    total = sum(by_part.values())
    if compare:
        ax.barh(ys, [compare.get(p, 0.0) for p in parts], height=0.75, fill=False, ec="#888888", ls="--",
                lw=1, label=compare_label)
    ax.barh(ys, [by_part[p] for p in parts], height=0.5, color="#219ebc", label="this step")
    longest = max(list(by_part.values()) + list((compare or {}).values()))
    for yi, p in zip(ys, parts):
        value = f"{by_part[p]:.3f}" if by_part[p] < 0.1 else f"{by_part[p]:.2f}"
        end = max(by_part[p], (compare or {}).get(p, 0.0))  # right of both bars
        ax.text(end + longest * 0.02, yi, f"{value} ({by_part[p] / total:.0%})",
                va="center", fontsize=8)
    ax.set_yticks(ys, [_part_label(p) for p in parts], fontsize=8.5)
    ax.invert_yaxis()
    ax.set_xlim(0, longest * 1.45)
    ax.set_xlabel("GFLOPs (paper convention: conv + linear MACs)", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    if compare:
        ax.legend(fontsize=7.5, loc="lower right", frameon=False)
    ax.set_title(title or f"compute per part, total {total:.2f} GFLOPs", fontsize=9.5)
    return ax


def draw_step(step, regime: str = "resnet50", by_part: dict | None = None, compare: dict | None = None,
              numbers: str | None = None, fig=None):
    """The block, the macro layout and (given ``by_part``) the compute bars of one step.

    ``compare``: the parent step's ``by_part``, drawn as outlines; ``numbers``: a line of
    text under the title (the explorer puts the counts there).
    """
    step = get_step(step, regime) if not isinstance(step, Step) else step
    if fig is None:
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=(12, 6.4))
    panels = 3 if by_part else 2
    grid = fig.add_gridspec(1, panels, width_ratios=[1.25, 1.0, 1.25][:panels], left=0.02, right=0.98,
                            bottom=0.03, top=0.80 if numbers else 0.85, wspace=0.1)
    draw_block(step.config, ax=fig.add_subplot(grid[0]))
    draw_macro(step.config, ax=fig.add_subplot(grid[1]))
    if by_part:
        # leave room for the tick labels on the left and the axis label below
        inner = grid[2].subgridspec(3, 2, height_ratios=[0.2, 1, 0.3], width_ratios=[0.2, 1])
        parent = f"step {step.parent}" if step.parent is not None else "previous step"
        draw_stage_compute(by_part, fig.add_subplot(inner[1, 1]), compare, compare_label=parent)
    adopted = "" if step.adopted else " (a branch, not adopted)"
    fig.suptitle(f"step {step.index}: {step.label}{adopted}", fontsize=12, fontweight="bold", y=0.985)
    fig.text(0.5, 0.925, textwrap.fill(step.change, 140), ha="center", va="center", fontsize=9.5)
    if numbers:
        fig.text(0.5, 0.865, numbers, ha="center", va="center", fontsize=9.5, color="#1d3557")
    return fig


def figure_png(fig, dpi: int = 85) -> bytes:
    """PNG bytes of a figure (for ipywidgets.Image or a static notebook output)."""
    return figure_bytes(fig, "png", dpi)


def figure_bytes(fig, format: str, dpi: int, **pil_kwargs) -> bytes:
    """A figure saved as ``format`` (png, jpeg) on white, as bytes; ``pil_kwargs``: e.g. ``quality=80``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=format, dpi=dpi, facecolor="white", **({"pil_kwargs": pil_kwargs} if pil_kwargs else {}))
    return buffer.getvalue()
