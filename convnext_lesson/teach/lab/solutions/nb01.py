"""Notebook 01 (ResNet-50): graders and solutions."""
import math

import torch

from ....model.roadmap import build_model
from ..exercises import answered, exercise


def bottleneck_params_solution(cin: int, width: int) -> int:
    """Parameters of one bottleneck block without a projection shortcut (cin == 4 * width)."""
    convs = cin * width + width * width * 3 * 3 + width * 4 * width  # 1x1, 3x3, 1x1; no biases
    norms = 2 * (width + width + 4 * width)  # each BatchNorm has a scale and a shift per channel
    return convs + norms


@exercise("01.bottleneck_params", "write bottleneck_params(cin, width): the parameter count of one ResNet "
          "bottleneck block (1x1 cin->w, 3x3 w->w, 1x1 w->4w, each followed by BatchNorm, identity shortcut)",
          bottleneck_params_solution)
def _grade_bottleneck_params(answer):
    for width in (64, 128, 512):
        block = build_model(0).stages[{64: 0, 128: 1, 512: 3}[width]].blocks[1]
        expected = sum(p.numel() for p in block.parameters())
        got = answered(answer(4 * width, width))
        assert got == expected, (f"for width {width} (cin {4 * width}) you get {got}, the block has {expected}. "
                                 "Count each conv's weights (cout * cin * k * k, no bias) and 2 per BatchNorm channel.")


def stage_shapes_solution(image_size: int) -> list:
    """Output shape (C, H, W) of each of ResNet-50's four stages."""
    size = math.ceil(math.ceil(image_size / 2) / 2)  # stem: stride-2 conv, then stride-2 max-pool (both padded)
    shapes = []
    for i, channels in enumerate((256, 512, 1024, 2048)):
        if i > 0:
            size = (size + 1) // 2  # the first block of stages 2-4 strides by 2 (padding 1, kernel 3)
        shapes.append((channels, size, size))
    return shapes


@exercise("01.stage_shapes", "write stage_shapes(image_size): the (C, H, W) output of each stage of ResNet-50",
          stage_shapes_solution)
def _grade_stage_shapes(answer):
    model = build_model(0, num_classes=10).eval()
    for size in (224, 160, 100):
        x = torch.zeros(1, 3, size, size)
        expected, y = [], model.stem(x)
        for stage in model.stages:
            y = stage(y)
            expected.append(tuple(y.shape[1:]))
        got = [tuple(s) for s in answered(answer(size))]
        assert got == expected, f"for {size}x{size} input you say {got}; the network gives {expected}"
