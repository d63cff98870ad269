"""Notebook 08 (ConvNeXt): graders and solutions."""
import torch
from torch import nn

from ....model.config import NetConfig
from ....model.layers import Downsample
from ....model.network import Network
from ....model.roadmap import get_step
from ..exercises import answered, exercise


def downsample_solution(cin, cout):
    class MyDownsample(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.LayerNorm(cin, eps=1e-6)        # over the channels of each pixel
            self.conv = nn.Conv2d(cin, cout, 2, stride=2)  # 2x2 patches, no overlap: half the resolution

        def forward(self, x):
            x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # channels last for LayerNorm, then back
            return self.conv(x)

    return MyDownsample()


@exercise("08.downsample_layer", "write my_downsample(cin, cout): an nn.Module with a `norm` (LayerNorm over "
          "channels, eps 1e-6) and a `conv` (2x2, stride 2), applied in that order to (N, cin, H, W)",
          downsample_solution)
def _grade_downsample(answer):
    for cin, cout, size in ((96, 192, 14), (8, 16, 7)):
        mine = answered(answer(cin, cout))
        assert isinstance(mine, nn.Module), f"return an nn.Module, not {type(mine).__name__}"
        torch.manual_seed(0)
        ours = Downsample(cin, cout, get_step(16).config).eval()
        with torch.no_grad():
            for tensor in ours.parameters():  # random everywhere: a swapped or missing tensor shows
                tensor.copy_(torch.randn_like(tensor) * 0.5)
        theirs_names, mine_names = set(ours.state_dict()), set(mine.state_dict())
        assert mine_names == theirs_names, (
            f"your module's tensors are {sorted(mine_names)}; expected {sorted(theirs_names)} (attributes `norm` "
            "and `conv`, the conv with a bias)")
        mine.load_state_dict(ours.state_dict())
        x = torch.randn(2, cin, size, size)
        with torch.no_grad():
            got, expected = mine.eval()(x), ours(x)
        assert got.shape == expected.shape, f"input {tuple(x.shape)}: you give {tuple(got.shape)}, expected {tuple(expected.shape)}"
        assert torch.allclose(got, expected, atol=1e-5), (
            f"cin={cin}, cout={cout}: same shape, different values (max difference "
            f"{(got - expected).abs().max().item():.3g}); the norm comes first, over the channels (dim 1), eps 1e-6")


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


def layer_scale_params_solution(config):
    # one scale per output channel of every block; a ConvNeXt block puts out its stage's width
    return sum(depth * width for depth, width in zip(config.depths, config.widths))


@exercise("08.layer_scale_params", "write layer_scale_params(config): how many parameters layer scale adds to "
          "the network built from a step-16-like NetConfig", layer_scale_params_solution)
def _grade_layer_scale_params(answer):
    convnext_t = get_step(16).config
    for config in (convnext_t, convnext_t.replace(depths=(1, 1, 3, 1), widths=(24, 48, 96, 192), stem_width=24),
                   convnext_t.replace(depths=(2, 5, 1), widths=(8, 40, 16), stem_width=8)):
        expected = count(config) - count(config.replace(layer_scale=None))
        got = answered(answer(config))
        assert got == expected, (f"depths {config.depths}, widths {config.widths}: you say {got}, the networks with "
                                 f"and without layer scale differ by {expected} parameters")


def count(config: NetConfig) -> int:
    return sum(p.numel() for p in Network(config, num_classes=10).parameters())


def get_model():
    return Network(get_step(16).config, num_classes=10).eval()

