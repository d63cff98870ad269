"""Notebook 07 (micro design): graders and solutions."""
import torch
from torch import nn

from ...model.layers import Block, LayerNorm2d
from ...model.roadmap import get_step, roadmap_steps
from ..exercises import answered, exercise


def step13_config_solution():
    import convnext_lesson as cl
    return cl.get_step(12).config.replace(activations="one")


@exercise("07.step13_config", "write my_step13_config(): step 12's NetConfig with the change of step 13 "
          "(use cl.get_step(12).config.replace(...))", step13_config_solution)
def _grade_step13(answer):
    got, expected = answered(answer()), get_step(13).config
    assert hasattr(got, "diff"), f"return a NetConfig (from cl.get_step(12).config.replace(...)), not {type(got).__name__}"
    wrong = got.diff(expected)
    if wrong == get_step(12).config.diff(expected):
        raise AssertionError("that is step 12's config unchanged: which config field says how many activations "
                             "a block keeps? (print(cl.get_step(12).config) lists them)")
    assert not wrong, "these fields differ from step 13: " + ", ".join(
        f"{k}: yours {a!r}, step 13 {b!r}" for k, (a, b) in wrong.items())


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


def layer_norm_solution(x, weight, bias, eps=1e-6):
    mean = x.mean(dim=1, keepdim=True)                       # one mean per (image, pixel), over the C channels
    var = x.var(dim=1, keepdim=True, unbiased=False)
    x = (x - mean) / torch.sqrt(var + eps)
    return x * weight[None, :, None, None] + bias[None, :, None, None]


@exercise("07.layer_norm", "write layer_norm(x, weight, bias, eps): LayerNorm over the channels of an (N, C, H, W) "
          "tensor, by hand (mean and variance over C only)", layer_norm_solution)
def _grade_layer_norm(answer):
    g = torch.Generator().manual_seed(0)
    for shape in ((2, 8, 5, 5), (1, 3, 4, 7)):
        c = shape[1]
        x = torch.randn(shape, generator=g) * 2 + 1
        reference = LayerNorm2d(c, eps=1e-6)
        with torch.no_grad():
            reference.weight.copy_(torch.rand(c, generator=g) + 0.5)
            reference.bias.copy_(torch.randn(c, generator=g))
            expected = reference(x)
            got = answered(answer(x, reference.weight.detach(), reference.bias.detach(), 1e-6))
        assert isinstance(got, torch.Tensor), f"return a tensor, not {type(got).__name__}"
        assert got.shape == x.shape, f"for input {tuple(x.shape)} your output has shape {tuple(got.shape)}"
        error = (got - expected).abs().max().item()
        assert error < 1e-4, (
            f"for input {tuple(x.shape)} your output differs by up to {error:.3g}. Take the mean and the (biased) "
            "variance over dim 1 only (the channels) with keepdim=True; normalising over (C, H, W) would be "
            "GroupNorm(1, C), a different layer; then scale and shift per channel")
