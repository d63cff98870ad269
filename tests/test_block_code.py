"""teach.lab.block_code: hand-written blocks are copied into, compared with and walked like the course's."""
import pytest
import torch
from torch import nn

from convnext_lesson.model import build_model, count_params
from convnext_lesson.model.config import NetConfig
from convnext_lesson.model.layers import Block
from convnext_lesson.teach.lab import block_code


def small_block(step_config=None, seed=0):
    torch.manual_seed(seed)
    cfg = step_config or NetConfig(block="dw_first", depthwise=True)
    return Block(8, 8, 1, cfg)


def test_randomize_norms_is_deterministic_and_changes_the_norms():
    a, b = block_code.randomize_norms(small_block()), block_code.randomize_norms(small_block())
    assert not a.training
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name
    assert not torch.equal(a.norm1.weight, torch.ones_like(a.norm1.weight))
    assert not torch.equal(a.norm1.running_var, torch.ones_like(a.norm1.running_var))


def test_copy_weights_makes_the_same_function_under_other_names():
    reference = block_code.randomize_norms(small_block(seed=0))

    class Mine(nn.Module):  # the same layers as Block(dw_first) at step 7, named differently
        def __init__(self):
            super().__init__()
            self.dw, self.bn1 = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8)
            self.up, self.bn2 = nn.Conv2d(8, 32, 1, bias=False), nn.BatchNorm2d(32)
            self.down, self.bn3 = nn.Conv2d(32, 8, 1, bias=False), nn.BatchNorm2d(8)

        def forward(self, x):
            y = torch.relu(self.bn1(self.dw(x)))
            y = torch.relu(self.bn2(self.up(y)))
            return torch.relu(x + self.bn3(self.down(y)))

    mine = Mine()
    assert not block_code.same_output(mine, reference, (8, 6, 6))  # before copying: other weights
    assert block_code.copy_weights(reference, mine) is mine
    assert block_code.same_output(mine, reference, (8, 6, 6))
    assert block_code.same_output(lambda x: reference(x), reference, (8, 6, 6))  # a function works too
    assert not block_code.same_output(lambda x: torch.relu(reference(x)) + 1, reference, (8, 6, 6))


def test_copy_weights_rejects_layers_that_do_not_fit():
    with pytest.raises(ValueError, match="has 2 parameters and buffers"):
        block_code.copy_weights(nn.Linear(3, 4), nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 4)))
    with pytest.raises(ValueError, match=r"weight \(4, 3\) does not fit 0.weight \(3, 4\)"):
        block_code.copy_weights(nn.Linear(3, 4), nn.Sequential(nn.Linear(4, 3)))


def test_shape_walk_prints_every_layer_in_forward_order(capsys):
    block = build_model(7).stages[1].blocks[0]  # strides in its depthwise conv, 1x1 stride-2 shortcut conv
    block_code.shape_walk(block, (96, 16, 16))
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == ["input", "conv1", "norm1", "act1", "conv2", "norm2", "act2", "conv3", "norm3", "shortcut",
                     "act_out", "output"]
    assert "3x3 conv 96 -> 96, depthwise, stride 2" in lines[1] and lines[1].endswith("(2, 96, 8, 8)")
    assert "1x1 conv 96 -> 192, stride 2 + BatchNorm" in lines[9]
    assert lines[-1].endswith("(2, 192, 8, 8)")


def test_with_spatial_groups_changes_only_the_spatial_convs():
    dense, depthwise = build_model(5, depthwise=False), build_model(5)
    assert count_params(block_code.with_spatial_groups(build_model(5), 1)) == count_params(dense)
    grouped = block_code.with_spatial_groups(build_model(5), 32)
    spatial = [m for m in grouped.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert spatial and all(m.groups == 32 for m in spatial)
    # each of the 18 blocks' 3x3 convs gains (C/32 - 1) * C * 9 weights over the depthwise one
    widths = [w for w, d in zip((96, 192, 384, 768), (3, 3, 9, 3)) for _ in range(d)]
    assert count_params(grouped) - count_params(depthwise) == sum(c * (c // 32 - 1) * 9 for c in widths)
    assert grouped(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)


def test_with_spatial_groups_rejects_groups_that_do_not_divide():
    with pytest.raises(ValueError, match="96 channels do not divide into 7 equal groups"):
        block_code.with_spatial_groups(build_model(5), 7)
    with pytest.raises(ValueError, match="must be a positive integer"):
        block_code.with_spatial_groups(build_model(5), 0)
    with pytest.raises(ValueError, match="no blocks"):
        block_code.with_spatial_groups(nn.Linear(2, 2), 2)
