"""Two layers computed another way on a CPU, where PyTorch's convolution kernels are slow (issue: AVX2 laptops).

**The depthwise weight gradient, folded.** The weight gradient of a depthwise k x k convolution (stride 1,
padding p = k // 2) is, channel by channel, the correlation of the input with the output's gradient, summed
over the batch:

    dW[c, i, j] = sum_n sum_y sum_x  x[n, c, y + i - p, x + j - p] * g[n, c, y, x]

That is itself a depthwise convolution: fold the batch into the channels (N*C groups), take the input as the
image and the output gradient as the kernel (H x W); its k x k output, summed over the batch, is dW. On AVX2,
oneDNN computes this weight gradient through a generic matrix-product path (``x64:gemm:jit``), while it has
direct kernels for the folded forward convolution.

**Pointwise convolutions as matrix products.** A 1x1 convolution (stride 1) on a channels-last tensor is a
matrix product of the (N*H*W, C) pixels with the (C, C') weights: ``F.linear`` on the (N, H, W, C) view, as
the official ConvNeXt code writes it, which skips oneDNN's layout conversions (``reorder``) around each conv.

``cpu_kernels``: "library" (PyTorch's convolutions: the default everywhere but a CPU run, and the path of every
record from before this module), "folded" (only the folded depthwise weight gradient), "course" (both). The
layers keep ``nn.Conv2d``'s parameters and state dict; every path agrees with the library's to float32 rounding
(tests/test_cpu_kernels.py), not bit for bit.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

KERNEL_CHOICES = ("library", "folded", "course")


def folded_weight_grad(x: torch.Tensor, grad: torch.Tensor, kernel: tuple[int, int], padding: int) -> torch.Tensor:
    """The depthwise weight gradient (C, 1, kh, kw) as a depthwise forward convolution with the batch folded in."""
    n, c, h, w = x.shape
    image = x.contiguous().view(1, n * c, h, w)
    if min(h, w) <= padding:
        # oneDNN's blocked depthwise kernel does not take maps smaller than the padding; its channels-last one does
        image = image.contiguous(memory_format=torch.channels_last)
    out = F.conv2d(image, grad.contiguous().view(n * c, 1, h, w), padding=padding, groups=n * c)
    return out.view(n, c, *kernel).sum(0).unsqueeze(1)


class _FoldedDepthwise(torch.autograd.Function):
    """The library's forward and input gradient; the weight gradient by ``folded_weight_grad``."""

    @staticmethod
    def forward(ctx, x, weight, bias, padding: int):
        ctx.save_for_backward(x, weight)
        ctx.padding, ctx.has_bias = padding, bias is not None
        return F.conv2d(x, weight, bias, padding=padding, groups=x.shape[1])

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        p, c = ctx.padding, x.shape[1]
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad, x, weight, None, [1, 1], [p, p], [1, 1], False, [0, 0], c, (True, False, False))[0]
        if ctx.needs_input_grad[1]:
            grad_w = folded_weight_grad(x, grad, tuple(weight.shape[-2:]), p)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None


def _autocast_on() -> bool:
    try:
        return torch.is_autocast_enabled("cpu")
    except TypeError:  # torch < 2.4
        return torch.is_autocast_cpu_enabled()


def _plain_cpu_float(x: torch.Tensor) -> bool:
    """Float32 on a CPU, outside autocast: where the other paths were measured."""
    return x.device.type == "cpu" and x.dtype == torch.float32 and not _autocast_on()


class DepthwiseConv2d(nn.Conv2d):
    """``nn.Conv2d(c, c, k, padding=k // 2, groups=c)`` whose weight gradient takes ``weight_grad``'s path:
    "library" or "folded" (float32 CPU training only; elsewhere the library's)."""

    def __init__(self, channels: int, kernel: int, *, bias: bool):
        super().__init__(channels, channels, kernel, padding=kernel // 2, groups=channels, bias=bias)
        self.weight_grad = "library"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (self.weight_grad == "folded" and torch.is_grad_enabled() and self.weight.requires_grad
                and _plain_cpu_float(x)):
            return _FoldedDepthwise.apply(x, self.weight, self.bias, self.padding[0])
        return super().forward(x)


class PointwiseConv2d(nn.Conv2d):
    """``nn.Conv2d(cin, cout, 1)`` that, with ``as_matmul`` on a channels-last float32 CPU tensor, is computed as
    ``F.linear`` on the (N, H, W, C) view (forward and backward: autograd's matrix products)."""

    def __init__(self, cin: int, cout: int, *, bias: bool):
        super().__init__(cin, cout, 1, bias=bias)
        self.as_matmul = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.as_matmul and _plain_cpu_float(x) and x.is_contiguous(memory_format=torch.channels_last):
            weight = self.weight.view(self.out_channels, self.in_channels)
            return F.linear(x.permute(0, 2, 3, 1), weight, self.bias).permute(0, 3, 1, 2)
        return super().forward(x)


def set_kernels(model: nn.Module, choice: str) -> None:
    """Put ``model``'s depthwise and pointwise convolutions on ``choice``'s path (one of KERNEL_CHOICES)."""
    if choice not in KERNEL_CHOICES:
        raise ValueError(f"cpu_kernels={choice!r} is not valid; choose one of {', '.join(KERNEL_CHOICES)}")
    for m in model.modules():
        if isinstance(m, DepthwiseConv2d):
            m.weight_grad = "library" if choice == "library" else "folded"
        elif isinstance(m, PointwiseConv2d):
            m.as_matmul = choice == "course"


def has_depthwise(model: nn.Module) -> bool:
    return any(isinstance(m, DepthwiseConv2d) for m in model.modules())
