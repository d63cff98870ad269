"""Notebook 07 (micro design): graders and solutions."""
import torch
from torch import nn

from ....model.layers import Block, LayerNorm2d
from ....model.roadmap import get_step, roadmap_steps
from ..exercises import answered, exercise


def depends_on_batch_solution(norm):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 5, 5, generator=generator)
    changed = x.clone()
    changed[1] = torch.randn(4, 5, 5, generator=generator) * 3 + 2   # only the second image changes
    with torch.no_grad():
        first, again = norm(x)[0], norm(changed)[0]
    return not torch.allclose(first, again, atol=1e-6)


def _norms_to_try():
    """(description, norm layer on 4 channels, whether image 0's output depends on image 1), each with random
    scales, shifts and statistics so that nothing hides behind ones and zeros."""
    g = torch.Generator().manual_seed(1)
    layers = (("BatchNorm2d in training mode", nn.BatchNorm2d(4).train(), True),
              ("BatchNorm2d in eval mode", nn.BatchNorm2d(4).eval(), False),
              ("LayerNorm2d (the course's LayerNorm over channels)", LayerNorm2d(4, eps=1e-6), False),
              ("GroupNorm(2, 4)", nn.GroupNorm(2, 4), False))
    with torch.no_grad():
        for _, layer, _ in layers:
            layer.weight.copy_(torch.rand(4, generator=g) + 0.5)
            layer.bias.copy_(torch.randn(4, generator=g))
            if isinstance(layer, nn.BatchNorm2d):
                layer.running_mean.copy_(torch.randn(4, generator=g))
                layer.running_var.copy_(torch.rand(4, generator=g) + 0.5)
    return layers


@exercise("07.batch_dependence", "write depends_on_batch(norm): True if, with norm as given, the first image's "
          "output changes when only the second image of a batch of two (4, 5, 5) images changes",
          depends_on_batch_solution)
def _grade_batch_dependence(answer):
    for name, layer, expected in _norms_to_try():
        mode = layer.training
        got = answered(answer(layer))
        assert layer.training == mode, f"{name}: leave the layer's mode as it is (you switched it)"
        assert isinstance(got, (bool, torch.Tensor)) or got in (0, 1), f"{name}: return True or False, not {got!r}"
        assert bool(got) == expected, (
            f"{name}: you say {bool(got)}. Run the layer on a batch of two images, then on the same batch with "
            "only the second image changed, and compare the first image's two outputs"
            + (" (in training mode BatchNorm normalises with the batch's own mean and variance)." if expected else
               " (this layer's statistics come from one image, or from stored running averages)."))


def _repeated_block(step: int) -> nn.Module:
    """A repeated (not the first) block of stage 1 of a step: identity shortcut."""
    cfg = get_step(step).config
    return Block(cfg.stage_out_channels[0], cfg.widths[0], 1, cfg)


def _count(block: nn.Module) -> tuple[int, int]:
    norms = sum(isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)) for m in block.modules())
    acts = sum(isinstance(m, (nn.ReLU, nn.GELU)) for m in block.modules())
    return norms, acts


def norms_and_activations_solution(step):
    import convnext_lesson as cl
    cfg = cl.get_step(step).config
    norms = 3 if cfg.norms == "all" else 1              # after each of the 3 convs, or only after the kxk one
    activations = 3 if cfg.activations == "all" else 1  # 2 inside + 1 after the add, or only between the 1x1s
    return norms, activations


@exercise("07.norms_and_activations", "write norms_and_activations(step): (number of norm layers, number of "
          "activation layers) in a repeated block of stage 1 of roadmap step `step`", norms_and_activations_solution)
def _grade_norms_and_activations(answer):
    for step in (s.index for s in roadmap_steps()):
        expected = _count(_repeated_block(step))
        got = answered(answer(step))
        assert isinstance(got, (tuple, list)) and len(got) == 2, (
            f"for step {step} you return {got!r}; return a pair (norms, activations)")
        assert tuple(got) == expected, (
            f"step {step}: you say {tuple(got)} (norms, activations), its block has {expected}. "
            f"print(cl.build_model({step}).stages[0].blocks[1]) shows the layers (Identity means removed); "
            "count the activation after the residual add too")


def fold_bn_solution(conv, bn):
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)       # eval-mode BatchNorm: y = scale * z + shift
    shift = bn.bias - bn.running_mean * scale
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                       padding=conv.padding, groups=conv.groups, bias=True)
    bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale[:, None, None, None])   # one scale per output channel
        folded.bias.copy_(bias * scale + shift)
    return folded


@exercise("07.fold_bn", "write fold_bn(conv, bn): one nn.Conv2d with a bias that computes bn(conv(x)) with bn in "
          "eval mode", fold_bn_solution)
def _grade_fold_bn(answer):
    g = torch.Generator().manual_seed(2)
    for name, conv in (("a dense 3x3 conv 6 -> 8 without a bias", nn.Conv2d(6, 8, 3, padding=1, bias=False)),
                       ("a depthwise 7x7 conv on 8 channels with a bias",
                        nn.Conv2d(8, 8, 7, padding=3, groups=8, bias=True))):
        bn = nn.BatchNorm2d(conv.out_channels).eval()
        with torch.no_grad():
            for tensor, low, high in ((bn.weight, 0.5, 1.5), (bn.bias, -1, 1), (bn.running_mean, -1, 1),
                                      (bn.running_var, 0.2, 2), *(((conv.bias, -1, 1),) if conv.bias is not None
                                                                   else ())):
                tensor.copy_(torch.rand(tensor.shape, generator=g) * (high - low) + low)
        x = torch.randn(2, conv.in_channels, 9, 9, generator=g)
        with torch.no_grad():
            expected = bn(conv(x))
        folded = answered(answer(conv, bn))
        assert isinstance(folded, nn.Conv2d), f"{name}: return an nn.Conv2d, not {type(folded).__name__}"
        assert folded.bias is not None, f"{name}: the folded conv needs a bias (the BatchNorm's shift goes there)"
        with torch.no_grad():
            got = folded.eval()(x)
        assert got.shape == expected.shape, (
            f"{name}: your conv gives shape {tuple(got.shape)}, bn(conv(x)) has {tuple(expected.shape)}: keep the "
            "kernel size, padding, stride and groups of the conv")
        error = (got - expected).abs().max().item()
        assert error < 1e-4, (
            f"{name}: your conv differs from bn(conv(x)) by up to {error:.3g}. In eval mode BatchNorm computes "
            "(z - running_mean) / sqrt(running_var + eps) * weight + bias for each output channel: scale each "
            "output channel's filter, and fold the rest (and the conv's own bias, if any) into the new bias")
