"""The one network of the course: stem -> stages of residual blocks -> head, built from a ``NetConfig``."""
from __future__ import annotations

import torch
from torch import nn

from .config import NetConfig
from .layers import Block, Downsample, Head, Stage, Stem


class Network(nn.Module):
    """stem -> stages -> head, built from a ``NetConfig``."""

    def __init__(self, cfg: NetConfig, num_classes: int = 1000):
        super().__init__()
        if int(num_classes) < 1:
            raise ValueError(f"num_classes={num_classes} must be a positive integer")
        self.config, self.num_classes = cfg, int(num_classes)
        self.stem = Stem(cfg)
        n_blocks = sum(cfg.depths)
        block_index, cin, stages = 0, cfg.stem_width, []
        for i, (depth, width) in enumerate(zip(cfg.depths, cfg.widths)):
            separate = cfg.downsampling == "separate" and i > 0
            cout = cfg.stage_out_channels[i]
            downsample = Downsample(cin, cout, cfg) if separate else nn.Identity()
            cin = cout if separate else cin
            blocks = []
            for j in range(depth):
                stride = 2 if (i > 0 and j == 0 and cfg.downsampling == "in_block") else 1
                # stochastic depth rises linearly from 0 to drop_path over the blocks
                rate = cfg.drop_path * block_index / max(n_blocks - 1, 1)
                blocks.append(Block(cin, width, stride, cfg, rate))
                cin, block_index = blocks[-1].out_channels, block_index + 1
            stages.append(Stage(downsample, blocks))
        self.stages = nn.ModuleList(stages)
        self.head = Head(cin, num_classes, cfg)
        self.num_features = cin
        self.min_input_size = cfg.min_input_size
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if self.config.init == "kaiming":  # torchvision's ResNet init
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                else:  # the official ConvNeXt init
                    nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear) and self.config.init == "trunc_normal":
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.config.in_chans:
            raise ValueError(f"expected images of shape (N, {self.config.in_chans}, H, W), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if min(h, w) < self.min_input_size:
            raise ValueError(f"input {h}x{w} is too small: this network downsamples by {self.min_input_size}, "
                             f"so it needs at least {self.min_input_size}x{self.min_input_size} pixels")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's feature map (N, C, H/32, W/32)."""
        if not torch.jit.is_tracing():
            self.check_input(x)
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def replace_head(model: Network, num_classes: int, rows=None) -> Network:
    """Give ``model`` a new ``num_classes``-way classifier (in place). With ``rows`` (indices of the old
    classifier's outputs, one per new class) the new classifier starts as those rows of the old one:
    for classes the old head already knew, a working classifier before any training."""
    old = model.head.fc
    new = nn.Linear(old.in_features, num_classes).to(old.weight.device)
    with torch.no_grad():
        if rows is not None:
            rows = list(rows)
            if len(rows) != num_classes:
                raise ValueError(f"rows has {len(rows)} entries; one per new class ({num_classes}) is needed")
            new.weight.copy_(old.weight[rows])
            new.bias.copy_(old.bias[rows])
        else:
            nn.init.trunc_normal_(new.weight, std=0.02)
            nn.init.zeros_(new.bias)
    model.head.fc = new
    model.num_classes = num_classes
    return model
