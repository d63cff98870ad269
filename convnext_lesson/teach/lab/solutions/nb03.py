"""Notebook 03 (macro design): graders and solutions."""
from functools import lru_cache
from unittest import mock

import torch
import torch.nn.functional as F
from torch import nn

from ....model.counting import count_flops, count_step
from ....model.roadmap import build_model
from ..exercises import answered, exercise


def predict_gflops_solution(depths):
    """GFLOPs of step 1's network (ResNet-50's design) with other blocks per stage.

    Start from ResNet-50's count and add or remove repeated blocks. A repeated bottleneck block of
    stage i (i = 0..3) works at 56 / 2**i pixels on a side, with width w = 64 * 2**i:
    1x1 4w->w, 3x3 w->w, 1x1 w->4w = 17 w**2 multiply-accumulates per pixel. Pixels shrink by 4
    per stage and w**2 grows by 4, so every stage's repeated block costs the same.
    """
    resnet50 = 4.089184256  # ResNet-50, depths (3, 4, 6, 3), counted in notebook 01 (paper: 4.09)
    block = 56 * 56 * 17 * 64 ** 2 / 1e9  # one repeated block, any stage: 0.218 GFLOPs
    return resnet50 + sum((d - d0) * block for d, d0 in zip(depths, (3, 4, 6, 3)))


@lru_cache(maxsize=None)
def _counted(depths):
    if tuple(depths) == (3, 3, 9, 3):  # step 2 itself: counted (and cached) by the notebook already
        return count_step(2, "resnet50", 224).gflops_paper_convention  # the key cl.lesson.step_table uses
    return count_flops(build_model(1, depths=depths))


@exercise("03.predict_gflops", "write predict_gflops(depths): the GFLOPs (paper convention, 224 px) of ResNet-50's "
          "design with `depths` blocks per stage, without building the network", predict_gflops_solution)
def _grade_predict_gflops(answer):
    for depths in ((3, 3, 9, 3), (2, 2, 6, 2), (1, 2, 3, 1)):
        got = float(answered(answer(depths)))
        expected = _counted(depths)
        assert abs(got - expected) <= 0.01, (
            f"for depths {depths} you predict {got:.3f} GFLOPs, fvcore counts {expected:.3f}. Hint: count the "
            "multiply-accumulates of one repeated block of each stage (pixels x what its three convs cost per "
            "pixel), then add or remove that many blocks from step 1's 4.089 GFLOPs.")


def patchify_solution(x, weight, bias):
    """A p x p stride-p conv as "cut into patches, then one matrix multiply"."""
    n, c, h, w = x.shape
    out_channels, _, p, _ = weight.shape
    patches = F.unfold(x, kernel_size=p, stride=p)  # (N, C*p*p, number of patches), channel-major like weight
    y = weight.reshape(out_channels, -1) @ patches + bias[:, None]  # (N, out_channels, number of patches)
    return y.reshape(n, out_channels, h // p, w // p)


def _no_conv(*args, **kwargs):
    raise AssertionError("do it without a convolution (no F.conv2d, torch.conv2d or nn.Conv2d): cut the image into "
                         "patches with F.unfold (or reshape/permute) and multiply by the reshaped weight")


@exercise("03.patchify_unfold", "write patchify(x, weight, bias): the output of a p x p stride-p conv (weight of "
          "shape (C_out, C_in, p, p)) computed with unfold and a matrix multiply, without a convolution",
          patchify_solution)
def _grade_patchify(answer):
    g = torch.Generator().manual_seed(0)
    for shape, out_channels, p in (((2, 3, 16, 16), 8, 4), ((1, 3, 8, 12), 5, 4), ((1, 2, 6, 6), 4, 2)):
        x = torch.randn(*shape, generator=g)
        weight = torch.randn(out_channels, shape[1], p, p, generator=g)
        bias = torch.randn(out_channels, generator=g)
        expected = F.conv2d(x, weight, bias, stride=p)
        with mock.patch.object(F, "conv2d", _no_conv), mock.patch.object(torch, "conv2d", _no_conv), \
                mock.patch.object(nn.Conv2d, "forward", _no_conv):
            got = answered(answer(x, weight, bias))
        got = torch.as_tensor(got)
        assert got.shape == expected.shape, (f"input {tuple(x.shape)}, {p}x{p} patches, {out_channels} output "
                                             f"channels: expected shape {tuple(expected.shape)}, yours "
                                             f"{tuple(got.shape)}")
        assert torch.allclose(got, expected, atol=1e-4), (
            f"input {tuple(x.shape)}, {p}x{p} patches: the shape is right but the values differ from the conv "
            f"(largest difference {(got - expected).abs().max().item():.3g}). Flatten each patch in the order "
            "(channel, row, column), as weight.reshape(C_out, -1) does, and keep the patches in row-major order.")


RATIO_VARIANT = (2, 2, 12, 2)  # step 2's 18 blocks, one each moved from stages 1, 2 and 4 into stage 3


def ratio_experiment_solution():
    """(GFLOPs, millions of parameters) of step 2 with depths (2, 2, 12, 2), predicted without building it.

    FLOPs: every repeated block costs the same in every stage, and the variant has step 2's 18 blocks,
    so its GFLOPs are step 2's. Parameters do not shrink with the pixels: a repeated block of width w
    holds its convs' 4w*w + 9w*w + w*4w = 17 w**2 weights, plus 2 per channel of each of its three
    BatchNorms (w, w and 4w channels), so a stage-4 block (w = 512) weighs 64 times a stage-1 block.
    """
    def block(w):
        return 17 * w * w + 2 * (w + w + 4 * w)

    step2 = 28_628_520  # parameters of step 2 (the step table of the notebook: 28.63M)
    change = -block(64) - block(128) + 3 * block(256) - block(512)
    return predict_gflops_solution(RATIO_VARIANT), (step2 + change) / 1e6


@lru_cache(maxsize=None)
def _variant_counts():
    model = build_model(2, depths=RATIO_VARIANT)
    return count_flops(model), sum(p.numel() for p in model.parameters()) / 1e6


@exercise("03.ratio_experiment", "write predict_variant() -> (gflops, millions_of_parameters): your prediction for "
          "step 2 with depths (2, 2, 12, 2) at 224 px (full size), before counting it", ratio_experiment_solution)
def _grade_ratio_experiment(answer):
    got = answered(answer())
    assert isinstance(got, (tuple, list)) and len(got) == 2, (
        f"return a pair (gflops, millions_of_parameters), e.g. (4.1, 25.0); you returned {got!r}")
    gflops, params = (float(v) for v in got)
    expected_gflops, expected_params = _variant_counts()
    assert abs(gflops - expected_gflops) <= 0.02, (
        f"you predict {gflops:.3f} GFLOPs, fvcore counts {expected_gflops:.3f}. The variant moves blocks between "
        "stages without changing their number: what did your predict_gflops find a block costs in each stage?")
    assert abs(params - expected_params) <= 0.01 * expected_params, (
        f"you predict {params:.2f}M parameters, the network has {expected_params:.2f}M. Count the weights of one "
        "repeated block per stage (its three convs; BatchNorm adds 2 per channel): they depend on the width, "
        "not on the resolution. Did you give parameters in millions?")
