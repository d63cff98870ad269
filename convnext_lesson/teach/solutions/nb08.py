"""Notebook 08 (ConvNeXt): graders and solutions."""
import torch

from ...model.network import Network
from ...model.roadmap import get_step
from ..exercises import answered, exercise


def step16_config_solution():
    return get_step(15).config.replace(downsampling="separate", stem_norm=True, head_norm=True,
                                       layer_scale=1e-6, init="trunc_normal")


@exercise("08.step16_config", "write my_step16_config(): step 15's NetConfig with the changes of step 16",
          step16_config_solution)
def _grade_step16(answer):
    got, expected = answered(answer()), get_step(16).config
    assert hasattr(got, "diff"), f"return a NetConfig (from cl.get_step(15).config.replace(...)), not {type(got).__name__}"
    wrong = got.diff(expected)
    assert not wrong, "these fields differ from ConvNeXt-T: " + ", ".join(
        f"{k}: yours {a!r}, ConvNeXt-T {b!r}" for k, (a, b) in wrong.items())
    assert sum(p.numel() for p in Network(got).parameters()) == 28_589_128


def layer_scale_solution(model, x):
    block = model.stages[0].blocks[0]
    with torch.no_grad():
        y = model.stem(x)
        branch = block.layer_scale * block.conv3(block.act2(block.conv2(block.norm1(block.conv1(y)))))
    return (branch.abs().mean() / y.abs().mean()).item()


@exercise("08.layer_scale", "write residual_branch_share(model, x): mean |residual branch| / mean |block input| "
          "for the first block of stage 1", layer_scale_solution)
def _grade_layer_scale(answer):
    torch.manual_seed(0)
    model, x = get_model(), torch.randn(2, 3, 64, 64)
    expected = layer_scale_solution(model, x)
    got = float(answered(answer(model, x)))
    assert abs(got - expected) <= 1e-3 * abs(expected) + 1e-12, (
        f"you get {got:.3g}, expected {expected:.3g}: take stem(x) as the block input and the branch "
        "up to and including the layer scale (before the add)")


def get_model():
    return Network(get_step(16).config, num_classes=10).eval()
