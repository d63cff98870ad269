"""Notebook 04 (ResNeXt-ify): graders and solutions."""
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from ....model.counting import count_flops, count_params, count_step
from ....model.threads import one_thread
from ....model.roadmap import build_model
from ..exercises import answered, exercise
from ..block_code import with_spatial_groups
from ...show.layer_costs import flops_by_kind, layer_cost


def conv_cost_solution(channels, size, depthwise):
    inputs_per_output = 1 if depthwise else channels  # input channels each output channel looks at
    params = channels * inputs_per_output * 3 * 3      # one 3x3 filter per (output, seen input) pair
    macs = params * size * size                         # every weight is used once per output pixel
    return params, macs


@exercise("04.conv_cost", "write conv3x3_cost(channels, size, depthwise): (params, MACs) of a 3x3 conv, "
          "channels -> channels, stride 1, padding 1, no bias, on a size x size input; dense or depthwise",
          conv_cost_solution)
def _grade_conv_cost(answer):
    for channels, size, depthwise in ((64, 56, False), (64, 56, True), (96, 28, True), (256, 14, False)):
        layer = nn.Conv2d(channels, channels, 3, padding=1, groups=channels if depthwise else 1, bias=False)
        counted = layer_cost(layer, (channels, size, size))
        got = answered(answer(channels, size, depthwise))
        kind = "depthwise" if depthwise else "dense"
        assert isinstance(got, (tuple, list)) and len(got) == 2, (
            f"return a pair (params, macs), not {got!r}")
        params, macs = got
        assert params == counted.params, (
            f"{kind} 3x3 conv, {channels} channels: you say {params} params, the layer has {counted.params}. "
            "A dense conv has one 3x3 filter per (output channel, input channel) pair; a depthwise one, "
            "one per channel.")
        assert macs == counted.macs, (
            f"{kind} 3x3 conv, {channels} channels at {size}x{size}: you say {macs} MACs, fvcore counts "
            f"{counted.macs}. Each weight is used once for every output pixel.")


def depthwise_by_hand_solution(x, weight):
    k = weight.shape[-1]
    channels = [F.conv2d(x[:, c:c + 1], weight[c:c + 1], padding=k // 2) for c in range(x.shape[1])]
    return torch.cat(channels, dim=1)


@contextmanager
def _record_groups(calls):
    """Record the ``groups`` of every F.conv2d call (the exercise asks for one conv per channel)."""
    original = F.conv2d

    def recording(*args, **kwargs):
        calls.append(kwargs.get("groups", args[6] if len(args) > 6 else 1))
        return original(*args, **kwargs)

    F.conv2d = recording
    try:
        yield
    finally:
        F.conv2d = original


@exercise("04.depthwise_by_hand", "write depthwise_by_hand(x, weight): a depthwise conv (stride 1, padding "
          "k // 2) as one F.conv2d per channel, concatenated", depthwise_by_hand_solution)
def _grade_depthwise_by_hand(answer):
    generator = torch.Generator().manual_seed(0)
    for channels, k in ((4, 3), (6, 5)):
        x = torch.randn(2, channels, 9, 9, generator=generator)
        weight = torch.randn(channels, 1, k, k, generator=generator)
        calls = []
        with _record_groups(calls), torch.no_grad():
            got = answered(answer(x, weight))
        expected = F.conv2d(x, weight, padding=k // 2, groups=channels)
        assert isinstance(got, torch.Tensor), f"return a tensor, not {type(got).__name__}"
        assert tuple(got.shape) == tuple(expected.shape), (
            f"for x of shape {tuple(x.shape)} and a {k}x{k} weight you return shape {tuple(got.shape)}, "
            f"expected {tuple(expected.shape)} (padding k // 2 keeps the size; one output channel per channel)")
        assert torch.allclose(got, expected, atol=1e-5), (
            f"shapes are right but values differ from F.conv2d(x, weight, groups={channels}) "
            f"(max |difference| {(got - expected).abs().max().item():.3g}): convolve channel c of x with "
            "weight[c] only")
        assert all(g == 1 for g in calls), (
            "right values, but you used the groups argument of F.conv2d: do one conv per channel instead")


def widened_gflops_solution(by_kind, factor):
    # a 1x1 conv costs (channels in x channels out) per pixel: both grow, so factor ** 2;
    # the stem (3 channels in), a depthwise conv (one filter per channel) and the head
    # (1000 classes out) have only one side that grows: factor
    quadratic = ("1x1 convs", "shortcut convs", "downsampling convs")
    return sum(gflops * (factor ** 2 if kind in quadratic else factor) for kind, gflops in by_kind.items())


@exercise("04.widened_gflops", "write widened_gflops(by_kind, factor): the total GFLOPs after multiplying "
          "every width (stages and stem) by factor, from the GFLOPs of each kind of layer",
          widened_gflops_solution)
def _grade_widened_gflops(answer):
    by_kind = flops_by_kind(4)
    for factor in (1.5, 2):
        if factor == 1.5:
            expected = count_step(5).gflops_paper_convention  # step 5 is step 4 at 1.5x the width
        else:
            with one_thread():
                expected = count_flops(build_model(4, widths=(128, 256, 512, 1024), stem_width=128))
        got = float(answered(answer(dict(by_kind), factor)))
        hint = ""
        if abs(got - sum(by_kind.values()) * factor ** 2) < 1e-6:
            hint = (" You scaled every kind by factor ** 2: which layers have only one side (input or output "
                    "channels) that grows?")
        elif abs(got - sum(by_kind.values()) * factor) < 1e-6:
            hint = " You scaled every kind by factor: a 1x1 conv's cost grows with its input AND output channels."
        assert abs(got - expected) <= 0.005, (
            f"width x{factor}: you predict {got:.3f} GFLOPs, counted {expected:.3f}.{hint}")


def grouped_params_solution(groups):
    import convnext_lesson as cl
    params = cl.count_params(cl.build_model(5))
    for channels, blocks in zip((96, 192, 384, 768), (3, 3, 9, 3)):
        depthwise = channels * 1 * 3 * 3                 # one 3x3 filter per channel
        grouped = channels * (channels // groups) * 3 * 3  # each filter sees the channels of its group
        params += blocks * (grouped - depthwise)
    return params


@exercise("04.grouped_params", "write grouped_params(groups): the parameters of step 5's network with every "
          "block's 3x3 conv in `groups` groups instead of depthwise", grouped_params_solution)
def _grade_grouped_params(answer):
    for groups in (32, 8, 1):
        got = answered(answer(groups))
        step5 = count_params(build_model(5))
        counted = count_params(with_spatial_groups(build_model(5), groups))
        hint = ""
        if got == step5:
            hint = " That is step 5's own count: the 3x3 convs do get more weights with fewer, larger groups."
        elif isinstance(got, (int, float)) and got > step5 and counted > step5:
            hint = (" A 3x3 conv on C channels in g groups has C output channels, each with a 3x3 filter on the "
                    "C / g input channels of its group; per block, subtract the depthwise conv's C x 3 x 3.")
        assert got == counted, f"{groups} groups: you say {got:,} parameters, counted {counted:,}.{hint}"
