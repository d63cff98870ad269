"""The parts every network of the course is made of: stem, residual block, downsampling layer, stage, head.

What each part looks like is read from a ``NetConfig``; nothing here knows about roadmap steps.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import StochasticDepth

from .config import NetConfig
from .cpu_kernels import DepthwiseConv2d, PointwiseConv2d


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) tensor.

    Normalises each pixel's C values, like ConvNeXt's "channels_first" LN.
    Implemented by moving channels last so PyTorch's fused layer_norm does the work.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def make_norm(kind: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if kind == "bn" else LayerNorm2d(channels, eps=1e-6)


def make_activation(kind: str) -> nn.Module:
    return nn.ReLU(inplace=True) if kind == "relu" else nn.GELU()


def conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, *, bias: bool) -> nn.Conv2d:
    if groups == cin == cout > 1 and stride == 1 and kernel % 2 == 1:
        return DepthwiseConv2d(cin, kernel, bias=bias)  # nn.Conv2d's, computed another way where that is faster
    if kernel == 1 and stride == 1 and groups == 1:
        return PointwiseConv2d(cin, cout, bias=bias)  # likewise (model/cpu_kernels.py)
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=bias)


class Block(nn.Module):
    """A residual block: three convs, each maybe followed by a norm and an activation.

    The three block shapes of the roadmap differ only in the order and widths of
    the convs (see ``NetConfig``); which convs keep a norm or an activation
    is the micro design of steps 12-15.
    """

    def __init__(self, cin: int, width: int, stride: int, cfg: NetConfig, drop_path: float = 0.0):
        super().__init__()
        k, e = cfg.kernel_size, cfg.expansion
        if cfg.block == "bottleneck":
            cmid, cout = width, width * e
            shapes = [(cin, cmid, 1, 1), (cmid, cmid, k, stride), (cmid, cout, 1, 1)]
            spatial = 1
        elif cfg.block == "inverted":
            cmid, cout = width * e, width
            shapes = [(cin, cmid, 1, 1), (cmid, cmid, k, stride), (cmid, cout, 1, 1)]
            spatial = 1
        else:  # dw_first: the depthwise conv moved up, on the block's input channels
            cmid, cout = width * e, width
            shapes = [(cin, cin, k, stride), (cin, cmid, 1, 1), (cmid, cout, 1, 1)]
            spatial = 0
        # index of the conv after which an activation stays ("one": between the two 1x1s)
        acts = {0, 1} if cfg.activations == "all" else {1}
        for i, (ci, co, ki, si) in enumerate(shapes):
            groups = ci if (i == spatial and cfg.depthwise) else 1
            has_norm = cfg.norms == "all" or i == spatial
            # a conv followed by BatchNorm needs no bias (BN's shift replaces it)
            setattr(self, f"conv{i + 1}", conv(ci, co, ki, si, groups, bias=not (has_norm and cfg.norm == "bn")))
            setattr(self, f"norm{i + 1}", make_norm(cfg.norm, co) if has_norm else nn.Identity())
            setattr(self, f"act{i + 1}", make_activation(cfg.activation) if i in acts else nn.Identity())
        self.layer_scale = (nn.Parameter(torch.full((cout, 1, 1), cfg.layer_scale))
                            if cfg.layer_scale is not None else None)
        self.drop_path = StochasticDepth(drop_path, "row") if drop_path > 0 else nn.Identity()
        if not cfg.shortcuts:  # a plain network: the block is its branch alone
            self.shortcut = None
        elif stride != 1 or cin != cout:
            self.shortcut = nn.Sequential()
            self.shortcut.add_module("conv", conv(cin, cout, 1, stride, bias=cfg.norm != "bn"))
            self.shortcut.add_module("norm", make_norm(cfg.norm, cout))
        else:
            self.shortcut = nn.Identity()
        self.act_out = make_activation(cfg.activation) if cfg.activations == "all" else nn.Identity()
        self.out_channels = cout

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """The residual branch, layer scale included: what the block adds to its shortcut."""
        y = self.act1(self.norm1(self.conv1(x)))
        y = self.act2(self.norm2(self.conv2(y)))
        y = self.act3(self.norm3(self.conv3(y)))
        return self.layer_scale * y if self.layer_scale is not None else y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.drop_path(self.branch(x))  # the branch first, then the shortcut: the order of the layers' calls
        return self.act_out(y if self.shortcut is None else self.shortcut(x) + y)


class Stem(nn.Module):
    """ResNet's 7x7/2 conv + 3x3/2 max-pool, or a 4x4/4 "patchify" conv."""

    def __init__(self, cfg: NetConfig):
        super().__init__()
        c, bn_follows = cfg.stem_width, cfg.stem_norm and cfg.norm == "bn"
        if cfg.stem == "resnet":
            self.conv = nn.Conv2d(cfg.in_chans, c, 7, stride=2, padding=3, bias=not bn_follows)
        else:
            self.conv = nn.Conv2d(cfg.in_chans, c, 4, stride=4, bias=not bn_follows)
        self.norm = make_norm(cfg.norm, c) if cfg.stem_norm else nn.Identity()
        if cfg.stem == "resnet":
            self.act = make_activation(cfg.activation)
            self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            self.act, self.pool = nn.Identity(), nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.act(self.norm(self.conv(x))))


class Downsample(nn.Module):
    """ConvNeXt's separate downsampling layer between stages: norm, then 2x2/2 conv."""

    def __init__(self, cin: int, cout: int, cfg: NetConfig):
        super().__init__()
        self.norm = make_norm(cfg.norm, cin)
        self.conv = nn.Conv2d(cin, cout, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.norm(x))


class Stage(nn.Module):
    """A downsampling layer (or the identity), then the stage's blocks."""

    def __init__(self, downsample: nn.Module, blocks: list[Block]):
        super().__init__()
        self.downsample = downsample
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class Head(nn.Module):
    """Global average pool, optional norm, linear classifier."""

    def __init__(self, channels: int, num_classes: int, cfg: NetConfig):
        super().__init__()
        if cfg.head_norm:
            self.norm = nn.LayerNorm(channels, eps=1e-6) if cfg.norm == "ln" else nn.BatchNorm1d(channels)
        else:
            self.norm = nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(self.pool(x).flatten(1)))
