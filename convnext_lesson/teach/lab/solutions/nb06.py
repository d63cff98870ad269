"""Notebook 06 (large kernels): graders and solutions."""
import torch
from torch import nn

from ....model.counting import count_step
from ....model.threads import one_thread
from ..exercises import answered, exercise
from ...show.layer_costs import flops_by_kind
from ...show.receptive_field import KERNEL_STEPS


def predict_kernel_gflops_solution(kernel_size):
    # step 7 at kernel 3, from print_flops_by_kind([6, 7]): only the depthwise ("spatial") convs
    # depend on the kernel, and they cost channels x k x k per pixel
    by_kind = flops_by_kind(7)
    spatial = by_kind["spatial convs"]
    return sum(by_kind.values()) - spatial + spatial * kernel_size ** 2 / 3 ** 2


@exercise("06.predict_kernel_gflops", "write predict_gflops(kernel_size): the GFLOPs of step 7 with its "
          "depthwise kernel changed to kernel_size, predicted from step 7's GFLOPs by kind of layer",
          predict_kernel_gflops_solution)
def _grade_predict_kernel_gflops(answer):
    for k in (9, 5, 7, 11):
        got = float(answered(answer(k)))
        with one_thread():  # the same cache entry as the notebook's step_table
            counted = count_step(KERNEL_STEPS[k], "resnet50", 224).gflops_paper_convention
        step7 = sum(flops_by_kind(7).values())
        hint = ""
        if abs(got - step7 * k ** 2 / 9) < 0.02:
            hint = " You scaled the whole network by k^2 / 9: only the depthwise convs depend on the kernel."
        elif abs(got - step7) < 1e-3:
            hint = " That is kernel 3's total: the depthwise convs do cost more with a larger kernel."
        assert abs(got - counted) <= 0.01, (
            f"kernel {k}: you predict {got:.3f} GFLOPs, counted {counted:.3f} (step {KERNEL_STEPS[k]}).{hint}")


def receptive_field_solution(layers):
    size, jump = 1, 1  # a unit sees 1 pixel; one step on the current grid = `jump` input pixels
    for kernel, stride in layers:
        size += (kernel - 1) * jump  # each layer adds k - 1 steps of the grid it works on
        jump *= stride
    return size


def measured_receptive_field(layers) -> int:
    """Input pixels that get a gradient from the centre output unit of a stack of 1-D convs
    (all-ones weights and inputs, no padding: every path counts, nothing cancels)."""
    convs = []
    for kernel, stride in layers:
        conv = nn.Conv1d(1, 1, kernel, stride=stride, bias=False)
        nn.init.ones_(conv.weight)
        convs.append(conv)
    length = 4096
    x = torch.ones(1, 1, length, requires_grad=True)
    y = nn.Sequential(*convs)(x)
    (grad,) = torch.autograd.grad(y[0, 0, y.shape[-1] // 2], x)
    return int((grad[0, 0] != 0).sum())


CASES = ([(3, 1)], [(3, 1), (3, 1)], [(3, 1)] * 3, [(7, 1)] * 3, [(3, 2), (3, 1)],
         [(4, 4), (7, 1), (7, 1), (7, 2), (7, 1)], [(2, 2)] * 4 + [(3, 1)])


@exercise("06.receptive_field", "write receptive_field(layers): the theoretical receptive field (pixels) "
          "of one unit after a stack of convs given as (kernel, stride) pairs", receptive_field_solution)
def _grade_receptive_field(answer):
    for layers in CASES:
        got = answered(answer(list(layers)))
        expected = measured_receptive_field(layers)
        strides = any(s > 1 for _, s in layers)
        hint = (" With strides: a layer after a stride-s layer works on a grid s times coarser, so its k - 1 "
                "extra steps are s input pixels each." if strides else
                " Each kxk conv on top of another widens the window by k - 1 pixels.")
        assert got == expected, f"for {layers} you say {got}, measured {expected} pixels.{hint}"


def useful_taps_solution(kernel, size):
    # along one axis, tap offset o (from -k//2 to k//2) reads pixel i + o for output i in 0..size-1:
    # it hits a real pixel for some i iff |o| <= size - 1, so at most 2 * size - 1 offsets are useful
    per_axis = min(kernel, 2 * size - 1)
    return per_axis ** 2


def measured_useful_taps(kernel: int, size: int) -> int:
    """Weights of a kxk conv (stride 1, padding k // 2) that get a gradient on a size x size map of ones."""
    conv = nn.Conv2d(1, 1, kernel, padding=kernel // 2, bias=False)
    (grad,) = torch.autograd.grad(conv(torch.ones(1, 1, size, size)).sum(), conv.weight)
    return int((grad != 0).sum())


@exercise("06.useful_taps", "write useful_taps(kernel, size): how many weights of a kernel x kernel conv (stride 1, "
          "padding kernel // 2) ever multiply a real pixel of a size x size map", useful_taps_solution)
def _grade_useful_taps(answer):
    for kernel, size in ((3, 56), (13, 7), (13, 4), (7, 2), (11, 1), (13, 2), (5, 3)):
        got = answered(answer(kernel, size))
        expected = measured_useful_taps(kernel, size)
        hint = ""
        if got == kernel ** 2 and expected < got:
            hint = " Not all of them: the outer weights of a kernel larger than the map only ever see padding."
        elif got == min(kernel, size) ** 2 and expected > got:
            hint = (" More than min(kernel, size) per axis: the output pixel at the left edge uses the taps to its "
                    "right, the one at the right edge those to its left.")
        assert got == expected, f"kernel {kernel}, {size}x{size} map: you say {got}, measured {expected}.{hint}"
