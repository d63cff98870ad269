"""A depthwise convolution whose weight gradient can be computed another way, for CPUs where the library's is slow.

The weight gradient of a depthwise k x k convolution (stride 1, padding k // 2) is, channel by channel, the
correlation of the input with the output's gradient, summed over the batch:

    dW[c, i, j] = sum_n sum_y sum_x  x[n, c, y + i - p, x + j - p] * g[n, c, y, x]

That is itself a depthwise convolution: fold the batch into the channels (N*C groups), take the input as the
image and the output gradient as the kernel (H x W), and its k x k output summed over the batch is dW. On AVX2,
oneDNN computes the weight gradient through a generic matrix-product path (``x64:gemm:jit``, several ms a
layer at the cpu profile's size), while it has direct kernels for the folded forward convolution; that is the
``folded`` path. ``library`` (the default, and the path of every committed record) is ``nn.Conv2d`` untouched.
The two agree to float32 rounding (tests/test_depthwise.py), not bit for bit.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

WEIGHT_GRAD_PATHS = ("library", "folded")


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


class DepthwiseConv2d(nn.Conv2d):
    """``nn.Conv2d(c, c, k, padding=k // 2, groups=c)`` (same parameters, same state dict) whose weight gradient
    takes ``weight_grad``'s path: "library" or "folded" (float32 CPU training only; elsewhere the library's)."""

    def __init__(self, channels: int, kernel: int, *, bias: bool):
        super().__init__(channels, channels, kernel, padding=kernel // 2, groups=channels, bias=bias)
        self.weight_grad = "library"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (self.weight_grad == "folded" and torch.is_grad_enabled() and self.weight.requires_grad
                and x.device.type == "cpu" and x.dtype == torch.float32 and not _autocast_on()):
            return _FoldedDepthwise.apply(x, self.weight, self.bias, self.padding[0])
        return super().forward(x)


def set_weight_grad(model: nn.Module, path: str) -> int:
    """Put every depthwise convolution of ``model`` on ``path``; returns how many there are."""
    if path not in WEIGHT_GRAD_PATHS:
        raise ValueError(f"depthwise weight-gradient path {path!r}: choose one of {', '.join(WEIGHT_GRAD_PATHS)}")
    layers = [m for m in model.modules() if isinstance(m, DepthwiseConv2d)]
    for m in layers:
        m.weight_grad = path
    return len(layers)


AUTO_MARGIN = 1.25
# How ``auto`` chooses, fixed before the runs that check it (teach/readings/depthwise.py reads them).
AUTO_RULE = (
    "auto, in float32 on a CPU: as the run starts, each path runs the forward and backward pass of every "
    "depthwise convolution of the run's network at its batch and image size (one warm-up and five timed rounds; "
    f"the median); the folded path is taken if it is at least {AUTO_MARGIN}x as fast as the library's in total, the "
    "library's otherwise. On a GPU, under autocast and in networks without depthwise convolutions: the library's. "
    "The choice and both timings go into the record; a resumed run keeps its start's choice.")


def time_weight_grad_paths(model: nn.Module, images: torch.Tensor, rounds: int = 5) -> dict[str, float] | None:
    """Seconds (median of ``rounds``) of the forward and backward pass of ``model``'s depthwise convolutions, on
    their inputs for ``images``, per path; None if it has none. The model's paths are left as they were."""
    import time

    layers = [m for m in model.modules() if isinstance(m, DepthwiseConv2d)]
    if not layers:
        return None
    inputs, training = [], model.training
    hooks = [m.register_forward_pre_hook(lambda m, args: inputs.append((m, args[0].detach()))) for m in layers]
    try:
        with torch.no_grad():
            model.eval()(images)  # eval: no BatchNorm statistics move, no stochastic depth draws random numbers
    finally:
        model.train(training)
        for h in hooks:
            h.remove()
    was = [m.weight_grad for m in layers]
    times = {}
    try:
        for path in WEIGHT_GRAD_PATHS:
            for m in layers:
                m.weight_grad = path

            def one_round():
                start = time.perf_counter()
                for m, x in inputs:
                    x = x.requires_grad_()
                    grads = torch.autograd.grad(m(x).sum(), [x, *[p for p in m.parameters()]])
                    del grads
                return time.perf_counter() - start

            one_round()  # warm-up: oneDNN builds its kernels on first use
            times[path] = sorted(one_round() for _ in range(rounds))[rounds // 2]
    finally:
        for m, path in zip(layers, was):
            m.weight_grad = path
    return times


def choose_weight_grad(choice: str, model: nn.Module, images: torch.Tensor, amp: bool) -> tuple[str, dict | None]:
    """The path a run takes for ``choice`` (auto, library, folded) and, for auto's measurement, its timings."""
    if choice not in ("auto", *WEIGHT_GRAD_PATHS):
        raise ValueError(f"depthwise_grad={choice!r} is not valid; choose one of auto, {', '.join(WEIGHT_GRAD_PATHS)}")
    if choice != "auto":
        return choice, None
    if images.device.type != "cpu" or amp:
        return "library", None
    times = time_weight_grad_paths(model, images)
    if times is None:
        return "library", None
    return ("folded" if times["library"] >= AUTO_MARGIN * times["folded"] else "library"), times
