"""Receptive fields of the large-kernel steps (roadmap steps 7-11: depthwise kernel 3..11).

The *theoretical* receptive field is the input window a unit can see at all; the
*effective* one (Luo et al., 2016) is where the input actually moves that unit:
the gradient of the unit with respect to the input image. We take the centre unit
of a stage's output, backpropagate to the input, add up the absolute gradient over
channels and average it over a few random images and random-weight networks.

Kept fast on a CPU (0.1-0.2 s per kernel size, measured on a busy 2-core machine) and
still true to the lesson:
- the networks are the roadmap's step-7 network with the kernel swept, but with
  4x narrower stages (24..192 instead of 96..768 channels). The expected shape of
  the gradient map is set by the kernels, strides and depth, which we keep; the
  width only changes how noisy one random network's map is.
- inputs are 128x128 and the default unit is the output of stage 2 (stride 8),
  whose effective field still fits inside 128 px for kernel 11; deeper stages
  would need larger images to show their whole field.
- weights are random (no pretrained weights for these intermediate steps): the
  map shows what the architecture alone does, before training.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from ...model.config import NetConfig
from ...model.threads import one_thread
from ...model.network import Network
from ...model.roadmap import get_step

KERNEL_SIZES = (3, 5, 7, 9, 11)
# roadmap step (ResNet-50 regime) of each kernel size: step 7 is kernel 3, then 5, 7, 9, 11
KERNEL_STEPS = {3: 7, 5: 8, 7: 9, 9: 10, 11: 11}
WIDTH_DIVISOR = 4


def check_kernel_size(kernel_size: int) -> int:
    if kernel_size not in KERNEL_SIZES:
        raise ValueError(f"kernel_size={kernel_size!r} is not one of the roadmap's kernel sizes "
                         f"{', '.join(map(str, KERNEL_SIZES))} (steps 7-11)")
    return kernel_size


def kernel_config(kernel_size: int, width_divisor: int = WIDTH_DIVISOR) -> NetConfig:
    """The step-7 network (depthwise conv first) with this kernel, stages ``width_divisor`` x narrower."""
    check_kernel_size(kernel_size)
    cfg = get_step(7).config
    return cfg.replace(kernel_size=kernel_size, widths=tuple(w // width_divisor for w in cfg.widths),
                       stem_width=cfg.stem_width // width_divisor)


def check_stage(config: NetConfig, stage: int) -> None:
    if not (isinstance(stage, int) and 0 <= stage < len(config.depths)):
        raise ValueError(f"stage={stage!r} is not valid; choose 0..{len(config.depths) - 1} "
                         "(0 is the first stage, stride 4)")


def theoretical_receptive_field(config: NetConfig, stage: int = 1) -> int:
    """Side in pixels of the input window that one unit at the end of ``stage`` can see.

    Walks the main path (stem, blocks, downsampling layers; not the shortcuts, which
    see less): each layer of kernel k widens the window by (k - 1) x the stride so far.
    """
    check_stage(config, stage)
    net = Network(config, num_classes=1)
    layers = [net.stem] + list(net.stages[:stage + 1])
    size, jump = 1, 1
    for part in layers:
        for name, m in part.named_modules():
            if "shortcut" in name or not isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
                continue
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            s = m.stride if isinstance(m.stride, int) else m.stride[0]
            size += (k - 1) * jump
            jump *= s
    return size


@dataclass(frozen=True)
class ReceptiveField:
    """An effective receptive field: ``map`` sums to 1 (share of |gradient| per input pixel)."""

    kernel_size: int
    stage: int
    map: np.ndarray  # (image_size, image_size)
    theoretical: int  # side of the theoretical receptive field, pixels

    def radius(self, fraction: float = 0.9) -> int:
        """Half-side of the smallest square around the peak that holds ``fraction`` of the map."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction={fraction} must be in (0, 1]")
        cy, cx = np.unravel_index(int(self.map.argmax()), self.map.shape)
        for r in range(max(self.map.shape)):
            if self.map[max(cy - r, 0):cy + r + 1, max(cx - r, 0):cx + r + 1].sum() >= fraction - 1e-9:
                return r
        return max(self.map.shape)

    @property
    def rms_radius(self) -> float:
        """Root-mean-square distance of the gradient mass from its centre, pixels."""
        ys, xs = np.indices(self.map.shape)
        cy, cx = (self.map * ys).sum(), (self.map * xs).sum()
        return float(np.sqrt((self.map * ((ys - cy) ** 2 + (xs - cx) ** 2)).sum()))


def _gradient_map(config: NetConfig, stage: int, image_size: int, n_images: int, init_seed: int,
                  generator: torch.Generator) -> torch.Tensor:
    """|d centre unit / d input| of one random network, summed over channels and images, normalised to sum 1."""
    with torch.random.fork_rng(devices=[]):  # seed the init without touching the caller's RNG
        torch.manual_seed(init_seed)
        net = Network(config, num_classes=1).eval()  # eval: BatchNorm uses its (unit) running stats
    x = torch.randn(n_images, 3, image_size, image_size, generator=generator, requires_grad=True)
    y = net.stem(x)
    for part in net.stages[:stage + 1]:
        y = part(y)
    h, w = y.shape[-2:]
    (grad,) = torch.autograd.grad(y[:, :, h // 2, w // 2].sum(), x)  # the input's gradient only: nothing trains
    grad = grad.abs().sum(dim=(0, 1))
    return grad / grad.sum()  # each network counts equally


@lru_cache(maxsize=32)
def effective_receptive_field(kernel_size: int = 7, stage: int = 1, image_size: int = 128,
                              n_networks: int = 2, n_images: int = 2, seed: int = 0) -> ReceptiveField:
    """The effective receptive field of the centre unit of ``stage`` (cached).

    Averages |d unit / d input| over ``n_networks`` random initialisations of the
    narrowed step-7 network with this kernel (``kernel_config``), ``n_images``
    random images each. Deterministic for a given ``seed``.
    """
    config = kernel_config(kernel_size)
    check_stage(config, stage)
    if image_size < config.min_input_size:
        raise ValueError(f"image_size={image_size} is too small; use at least {config.min_input_size} (the network "
                         f"strides by {config.min_input_size})")
    total = torch.zeros(image_size, image_size)
    generator = torch.Generator().manual_seed(seed)
    with one_thread():
        for i in range(n_networks):
            total += _gradient_map(config, stage, image_size, n_images, seed * 1000 + i, generator)
    erf_map = (total / total.sum()).numpy()
    erf_map.flags.writeable = False  # cached and shared: nobody may change it
    return ReceptiveField(kernel_size, stage, erf_map, theoretical_receptive_field(config, stage))


def receptive_field_sweep(stage: int = 1, image_size: int = 128) -> dict[int, ReceptiveField]:
    """Effective receptive fields for every kernel size of the roadmap (3, 5, 7, 9, 11)."""
    return {k: effective_receptive_field(k, stage, image_size) for k in KERNEL_SIZES}


def draw_receptive_field(field: ReceptiveField, ax=None, title: str | None = None):
    """The map as an image, with the 90% square outlined. Log colour scale over three
    decades: the peak is sharp and the faint tails, which are most of the field, stay visible."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3.3))
    peak = float(field.map.max())
    ax.imshow(np.clip(field.map, peak * 1e-3, None), cmap="magma", norm=LogNorm(peak * 1e-3, peak))
    cy, cx = np.unravel_index(int(field.map.argmax()), field.map.shape)
    r = field.radius(0.9)
    ax.add_patch(Rectangle((cx - r - 0.5, cy - r - 0.5), 2 * r + 1, 2 * r + 1, fill=False, ec="#4cc9f0", lw=1.2))
    ax.set_title(title or f"kernel {field.kernel_size}x{field.kernel_size}\n90% within {2 * r + 1} px", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def draw_receptive_field_sweep(fields: dict[int, ReceptiveField] | None = None):
    """One row of maps, kernel 3 to 11, on the same image size: the field grows with the kernel."""
    import matplotlib.pyplot as plt

    fields = fields or receptive_field_sweep()
    fig, axes = plt.subplots(1, len(fields), figsize=(2.3 * len(fields), 2.8), squeeze=False)
    for ax, field in zip(axes[0], fields.values()):
        draw_receptive_field(field, ax)
    first = next(iter(fields.values()))
    fig.suptitle(f"effective receptive field of the centre unit of stage {first.stage + 1} "
                 f"({first.map.shape[0]}x{first.map.shape[1]} input, random weights)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig
