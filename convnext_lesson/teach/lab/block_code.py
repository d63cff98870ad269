"""Blocks written by hand in the step notebooks, checked against the course's: copy weights, compare, walk shapes.

Notebooks 04-07 write each step's block (or its ``forward``) in a few lines of plain PyTorch and
prove it computes what the course's ``Block`` computes:

- ``randomize_norms(block)``: random norm scales, shifts and running statistics, and random conv
  biases, so that a norm or a bias in the wrong place changes the output (fresh ones are ones and
  zeros, which hide such mistakes).
- ``copy_weights(source, target)``: every parameter and buffer of ``source`` into ``target``, in
  order, whatever the layers are called; the shapes must match one for one.
- ``same_output(mine, reference, input_shape)``: both on one seeded random input, compared.
- ``shape_walk(module, input_shape)``: the shape after each layer, in the order ``forward`` runs them.
- ``with_spatial_groups(model, groups)``: every block's kxk conv with ``groups`` groups instead of its
  own (ResNeXt's 32, between the dense conv and the depthwise one), for counting.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ...model.layers import Block

NORMS = (nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)


def randomize_norms(module: nn.Module, seed: int = 0) -> nn.Module:
    """``module`` in eval mode, its norms' parameters and running statistics and its convs' biases random
    (from ``seed``, so the same every time)."""
    generator = torch.Generator().manual_seed(seed)

    def fill(tensor, low, high):
        tensor.copy_(torch.rand(tensor.shape, generator=generator) * (high - low) + low)

    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, NORMS) and layer.weight is not None:
                fill(layer.weight, 0.5, 1.5)
                fill(layer.bias, -0.3, 0.3)
            if isinstance(layer, nn.BatchNorm2d):
                fill(layer.running_mean, -0.3, 0.3)
                fill(layer.running_var, 0.5, 1.5)
            if isinstance(layer, nn.Conv2d) and layer.bias is not None:
                fill(layer.bias, -0.3, 0.3)
    return module.eval()


def copy_weights(source: nn.Module, target: nn.Module) -> nn.Module:
    """Copy ``source``'s parameters and buffers into ``target`` one for one, in the order each module
    registers them (so the names may differ); returns ``target``."""
    theirs, mine = list(source.state_dict().items()), list(target.state_dict().items())
    if len(theirs) != len(mine):
        raise ValueError(f"{type(source).__name__} has {len(theirs)} parameters and buffers, "
                         f"{type(target).__name__} has {len(mine)}: "
                         f"{[name for name, _ in theirs]} vs {[name for name, _ in mine]}")
    for (their_name, their_tensor), (my_name, my_tensor) in zip(theirs, mine):
        if their_tensor.shape != my_tensor.shape:
            raise ValueError(f"{their_name} {tuple(their_tensor.shape)} does not fit {my_name} "
                             f"{tuple(my_tensor.shape)}: define the layers in the order the source has them")
    target.load_state_dict({my_name: tensor for (my_name, _), (_, tensor) in zip(mine, theirs)})
    return target


def same_output(mine: Callable, reference: nn.Module, input_shape, seed: int = 0, atol: float = 1e-5) -> bool:
    """Whether ``mine`` (a module or a function of one tensor) and ``reference`` give the same output on
    a random input of ``input_shape`` (without the batch; two images are used); modules run in eval mode."""
    x = torch.randn(2, *input_shape, generator=torch.Generator().manual_seed(seed))
    for module in (mine, reference):
        if isinstance(module, nn.Module):
            module.eval()
    with torch.no_grad():
        got, expected = mine(x), reference(x)
    return got.shape == expected.shape and torch.allclose(got, expected, atol=atol, rtol=1e-4)


def describe(layer: nn.Module) -> str:
    """A layer in a few words: ``3x3 conv 96 -> 96, depthwise, stride 2``, ``BatchNorm``, ``GELU``."""
    if isinstance(layer, nn.Conv2d):
        k, stride, groups = layer.kernel_size[0], layer.stride[0], layer.groups
        text = f"{k}x{k} conv {layer.in_channels} -> {layer.out_channels}"
        if groups > 1:
            text += ", depthwise" if groups == layer.in_channels == layer.out_channels else f", {groups} groups"
        return text + (f", stride {stride}" if stride > 1 else "")
    if isinstance(layer, nn.Sequential):
        return " + ".join(describe(child) for child in layer)
    if isinstance(layer, nn.BatchNorm2d):
        return "BatchNorm"
    if isinstance(layer, nn.LayerNorm):
        return "LayerNorm"
    return type(layer).__name__


def shape_walk(module: nn.Module, input_shape, batch: int = 2) -> None:
    """Print the output shape of each layer of ``module`` (its direct children, identities left out) in
    the order ``forward`` runs them, for one random input of ``input_shape`` (without the batch)."""
    seen = []
    hooks = [child.register_forward_hook(lambda layer, inputs, output, name=name: seen.append((name, layer, output)))
             for name, child in module.named_children() if not isinstance(child, nn.Identity)]
    x = torch.randn(batch, *input_shape, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            out = module.eval()(x)
    finally:
        for hook in hooks:
            hook.remove()
    print(f"  {'input':9s} {'':46s} {tuple(x.shape)}")
    for name, layer, output in seen:
        print(f"  {name:9s} {describe(layer):46s} {tuple(output.shape)}")
    print(f"  {'output':9s} {'':46s} {tuple(out.shape)}")


def with_spatial_groups(model: nn.Module, groups: int) -> nn.Module:
    """``model`` (in place) with the kxk conv of every block replaced by a new, randomly initialised conv
    of the same shape with ``groups`` groups; every channel count must divide by ``groups``."""
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups={groups!r} must be a positive integer")
    blocks = [m for m in model.modules() if isinstance(m, Block)]
    if not blocks:
        raise ValueError(f"{type(model).__name__} has no blocks of the course's builder (cl.build_model)")
    for block in blocks:
        for name in ("conv1", "conv2", "conv3"):
            old = getattr(block, name)
            if old.kernel_size == (1, 1):
                continue
            if old.in_channels % groups or old.out_channels % groups:
                raise ValueError(f"a {describe(old)} cannot have {groups} groups: {old.in_channels} channels do "
                                 f"not divide into {groups} equal groups")
            setattr(block, name, nn.Conv2d(old.in_channels, old.out_channels, old.kernel_size, stride=old.stride,
                                           padding=old.padding, groups=groups, bias=old.bias is not None))
    return model


__all__ = ["randomize_norms", "copy_weights", "same_output", "describe", "shape_walk", "with_spatial_groups"]
