"""Looking at stems (notebook 03): the input pixels one output pixel sees, and an image cut into patches.

Which input pixels one output pixel of a stem sees, and an image cut into the patches a
"patchify" stem works on.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


def _all_ones(module: nn.Module) -> nn.Module:
    """A copy whose conv weights are all 1, biases 0 and norms the identity: no contribution can
    cancel another, so an output changes exactly when an input it depends on changes."""
    probe = copy.deepcopy(module).float().eval()
    for m in probe.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_parameters()  # weight 1, bias 0, running mean 0, running variance 1
        elif isinstance(m, (nn.LayerNorm, nn.GroupNorm)):
            raise ValueError("input_footprint cannot see through a LayerNorm or GroupNorm (it subtracts the mean "
                             "over channels, which cancels an all-ones signal); use a stem without one")
    return probe


@torch.no_grad()
def input_footprint(layers: nn.Module, image_size: int = 32, pixel: tuple[int, int] | None = None,
                    in_chans: int = 3) -> torch.Tensor:
    """The input pixels that one output pixel of ``layers`` depends on, as an (H, W) bool mask.

    Measured, not computed from a formula: every conv weight is set to 1 (biases 0, norms the
    identity), then each input pixel in turn is set to 1 in an otherwise black image; the output
    pixel ``pixel`` (default: the centre of the output) changes exactly for the pixels it sees.
    Works through convs, BatchNorm, ReLU and max-pooling.
    """
    probe = _all_ones(layers)
    base = probe(torch.zeros(1, in_chans, image_size, image_size))
    i, j = pixel if pixel is not None else (base.shape[-2] // 2, base.shape[-1] // 2)
    if not (0 <= i < base.shape[-2] and 0 <= j < base.shape[-1]):
        raise ValueError(f"pixel {(i, j)} is outside the {base.shape[-2]}x{base.shape[-1]} output")
    n = image_size * image_size
    impulses = torch.zeros(n, in_chans, image_size, image_size)
    impulses.view(n, in_chans, n)[torch.arange(n), :, torch.arange(n)] = 1.0
    out = probe(impulses)[:, :, i, j]
    return (out != base[:, :, i, j]).any(dim=1).view(image_size, image_size)


def footprint_box(mask: torch.Tensor) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the smallest box holding every True pixel of a mask."""
    rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
    if len(rows) == 0:
        raise ValueError("the mask is empty")
    return int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def to_patches(image: torch.Tensor, patch: int = 4) -> torch.Tensor:
    """(C, H, W) -> (H/p * W/p, C, p, p): the non-overlapping p x p patches, row by row."""
    c, h, w = image.shape
    if h % patch or w % patch:
        raise ValueError(f"a {h}x{w} image does not split into {patch}x{patch} patches; crop it to a multiple of {patch}")
    cols = F.unfold(image[None].float(), kernel_size=patch, stride=patch)[0]  # (C*p*p, number of patches)
    return cols.T.reshape(-1, c, patch, patch).to(image.dtype)


def draw_patches(image: torch.Tensor, top: int, left: int, size: int = 32, patch: int = 4):
    """Three panels: the image with a region marked, the region with its patch grid, and the
    region's patches pulled apart. ``image``: a (3, H, W) uint8 tensor."""
    import matplotlib.patches as mpatches
    import matplotlib.pyplot as plt

    region = image[:, top:top + size, left:left + size]
    fig = plt.figure(figsize=(11, 3.7))
    grid = fig.add_gridspec(1, 3, width_ratios=[1, 1, 1.25], wspace=0.15)
    ax = fig.add_subplot(grid[0])
    ax.imshow(image.permute(1, 2, 0).numpy())
    ax.add_patch(mpatches.Rectangle((left - 0.5, top - 0.5), size, size, fill=False, ec="yellow", lw=2))
    ax.set_title(f"the image, {image.shape[1]}x{image.shape[2]} px", fontsize=9)
    ax.axis("off")
    ax = fig.add_subplot(grid[1])
    ax.imshow(region.permute(1, 2, 0).numpy(), interpolation="nearest")
    for k in range(0, size + 1, patch):
        ax.axhline(k - 0.5, color="yellow", lw=0.8)
        ax.axvline(k - 0.5, color="yellow", lw=0.8)
    ax.set_title(f"the marked {size}x{size} region: {(size // patch) ** 2} patches of {patch}x{patch}", fontsize=9)
    ax.axis("off")
    inner = grid[2].subgridspec(size // patch, size // patch, wspace=0.12, hspace=0.12)
    for n, p in enumerate(to_patches(region, patch)):
        a = fig.add_subplot(inner[n // (size // patch), n % (size // patch)])
        a.imshow(p.permute(1, 2, 0).numpy(), interpolation="nearest")
        a.axis("off")
    fig.text(0.80, 0.93, "the same patches pulled apart:\neach one becomes one output pixel", ha="center",
             fontsize=9)
    return fig


def draw_footprints(image: torch.Tensor, footprints: dict, size: int = 24):
    """For each stem, its ``(mask of output pixel A, mask of its right neighbour B)`` drawn on the
    top-left ``size`` x ``size`` pixels of ``image`` ((3, H, W) uint8)."""
    import matplotlib.patches as mpatches
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(footprints), figsize=(4.6 * len(footprints), 4.4))
    for ax, (title, masks) in zip(axes, footprints.items()):
        ax.imshow(image[:, :size, :size].permute(1, 2, 0).numpy(), interpolation="nearest")
        for k in range(size + 1):  # the pixel grid
            ax.axhline(k - 0.5, color="white", lw=0.3, alpha=0.6)
            ax.axvline(k - 0.5, color="white", lw=0.3, alpha=0.6)
        for mask, color, name in zip(masks, ("yellow", "cyan"), ("output pixel A", "its right neighbour B")):
            t, l, h, w = footprint_box(mask)
            ax.add_patch(mpatches.Rectangle((l - 0.5, t - 0.5), w, h, fc=color, alpha=0.25, ec="none"))
            ax.add_patch(mpatches.Rectangle((l - 0.5, t - 0.5), w, h, fill=False, ec=color, lw=2.5,
                                            label=f"{name}: sees {h}x{w} px"))
        ax.set_title(title, fontsize=9.5)
        ax.set_xlim(-0.5, size - 0.5)
        ax.set_ylim(size - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, -0.16), ncol=1, frameon=False)
    fig.tight_layout()
    return fig
