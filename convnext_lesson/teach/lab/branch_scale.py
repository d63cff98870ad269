"""How big each residual branch starts against its shortcut: the check a practitioner makes before blaming data.

A residual block outputs ``shortcut(x) + branch(x)``. If the branch starts a million times smaller than the
shortcut, the block starts as the identity, and the gradient that reaches the branch's weights is scaled by
the same tiny factor (layer scale multiplies it). An optimiser can grow it, but only as fast as its step size
allows: AdamW moves each weight by about the learning rate per step, whatever the gradient's size. Measured
on one batch of real images, in training mode (BatchNorm uses the batch's statistics, as in the first step).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ...model.layers import Block
from ...model.network import Network
from ...model.roadmap import get_step
from ...training.data import locate
from ...training.images import preload
from ...training.profiles import get_profile, scale_config
from ...training.recipes import IMAGENET_MEAN, IMAGENET_STD


@dataclass(frozen=True)
class BranchSize:
    stage: int  # 1-based, as the paper counts
    block: int  # 1-based within the stage
    ratio: float  # RMS of the branch's output (layer scale included) / RMS of the shortcut's output


def image_batch(n: int = 64, size: int = 64, dataset: str = "imagenette-tiny") -> torch.Tensor:
    """``n`` real images, normalised as training normalises them (the tiny sample ships with the package)."""
    images, _ = preload(locate(dataset), "train", size)
    x = images[torch.linspace(0, len(images) - 1, n).long()].float() / 255
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def profile_network(step: int, profile: str = "cpu", seed: int = 0, **overrides) -> Network:
    """A freshly initialised network of ``step`` at the size ``profile`` trains it (10 classes)."""
    prof = get_profile(profile)
    cfg = scale_config(get_step(step).config, prof.width_mult, prof.depth_mult)
    torch.manual_seed(seed)
    return Network(cfg.replace(**overrides) if overrides else cfg, 10)


@torch.no_grad()
def branch_sizes(model: Network, x: torch.Tensor) -> list[BranchSize]:
    """Each block's branch against its shortcut, on the batch ``x`` (the block's own input, as the network
    feeds it)."""
    found, hooks = [], []
    for s, stage in enumerate(model.stages, 1):
        for b, block in enumerate(stage.blocks, 1):
            def measure(module: Block, args, s=s, b=b):
                inp = args[0]
                rms = lambda t: t.float().pow(2).mean().sqrt().item()  # noqa: E731
                found.append(BranchSize(s, b, rms(module.branch(inp)) / rms(module.shortcut(inp))))
            hooks.append(block.register_forward_pre_hook(measure))
    was_training = model.training
    try:
        model.train()
        model(x)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return found


def compare(networks: dict[str, Network], x: torch.Tensor) -> dict[str, list[BranchSize]]:
    return {name: branch_sizes(net, x) for name, net in networks.items()}


def plot(sizes: dict[str, list[BranchSize]], title: str = "each residual branch against its shortcut, at init"):
    """One line per network: the branch/shortcut ratio of every block, on a log scale."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6))
    for name, rows in sizes.items():
        ax.plot(range(1, len(rows) + 1), [r.ratio for r in rows], marker="o", label=name)
    first = next(iter(sizes.values()))
    ticks = range(1, len(first) + 1)
    ax.set_xticks(list(ticks), [f"{r.stage}.{r.block}" for r in first], fontsize=8)
    ax.set_yscale("log")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("block (stage.block)")
    ax.set_ylabel("RMS(branch) / RMS(shortcut)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
