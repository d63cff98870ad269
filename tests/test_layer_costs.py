"""convnext_lesson.teach.show.layer_costs: compute by kind of layer, and the cost of one layer or block."""
import pytest
import torch
from torch import nn

import convnext_lesson as cl
from convnext_lesson.teach.show import layer_costs as lc


@pytest.mark.parametrize("step", [3, 4, 6, 7, 16])
def test_kinds_and_stages_add_up_to_the_step_count(step):
    counted = cl.count_step(step)
    by_kind = lc.flops_by_kind(step)
    assert set(by_kind) == set(lc.KINDS)
    assert sum(by_kind.values()) == pytest.approx(counted.gflops_paper_convention, abs=1e-9)
    assert lc.stage_flops(step) == pytest.approx(counted.by_part, abs=1e-9)


def test_what_each_step_changes_shows_in_its_kind():
    k3, dw, wide, inverted, moved, k11, final = (lc.flops_by_kind(s) for s in (3, 4, 5, 6, 7, 11, 16))
    assert dw["spatial convs"] < k3["spatial convs"] / 60  # depthwise: 1/64 of the dense 3x3 convs
    assert dw["1x1 convs"] == pytest.approx(k3["1x1 convs"])
    assert wide["1x1 convs"] == pytest.approx(dw["1x1 convs"] * 1.5 ** 2)  # width x1.5: 1x1 convs x2.25
    assert wide["spatial convs"] == pytest.approx(dw["spatial convs"] * 1.5)
    assert inverted["shortcut convs"] < wide["shortcut convs"] / 16  # 16x narrower, and stage 1 loses its own
    assert k11["spatial convs"] == pytest.approx(moved["spatial convs"] * 121 / 9)
    assert final["shortcut convs"] == 0 and final["downsampling convs"] > 0


def test_flops_by_kind_of_a_model_equals_count_flops():
    model = cl.build_model(9, num_classes=10, widths=(32, 64, 128, 256), stem_width=32)
    by_kind = lc.flops_by_kind(model, image_size=64)
    assert sum(by_kind.values()) == pytest.approx(cl.count_flops(model, image_size=64), abs=1e-9)


def test_layer_cost_of_dense_and_depthwise_convs():
    dense = lc.layer_cost(nn.Conv2d(64, 64, 3, padding=1, bias=False), (64, 56, 56))
    depthwise = lc.layer_cost(nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False), (64, 56, 56))
    assert (dense.params, dense.macs, dense.output_shape) == (36_864, 36_864 * 56 * 56, (64, 56, 56))
    assert (depthwise.params, depthwise.macs) == (576, 576 * 56 * 56)
    strided = lc.layer_cost(nn.Conv2d(8, 16, 1, stride=2, bias=False), (8, 10, 10))
    assert strided.output_shape == (16, 5, 5) and strided.macs == 8 * 16 * 25


def test_layer_cost_keeps_the_training_mode_and_counts_convs_only():
    block = cl.build_model(6).stages[0].blocks[1].train()
    cost = lc.layer_cost(block, (96, 56, 56))
    assert block.training
    assert cost.macs == (96 * 384 * 2 + 384 * 9) * 56 * 56  # BatchNorm not counted (paper convention)
    assert cost.params == sum(p.numel() for p in block.parameters())


def test_print_helpers(capsys):
    lc.print_flops_by_kind([15, 16])
    out = capsys.readouterr().out
    assert "downsampling convs" in out and "step 16" in out and "total" in out
    lc.print_block_costs(cl.build_model(7).stages[1].blocks[0], (96, 56, 56), "first block")
    out = capsys.readouterr().out
    assert "3x3 depthwise, stride 2" in out and "shortcut" in out and "28x28" in out


def test_draw_blocks_titles_branches():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = lc.draw_blocks([9, 10])
    titles = [ax.get_title() for ax in fig.axes]
    assert "branch" not in titles[0] and "a branch" in titles[1]
    plt.close(fig)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="input_shape"):
        lc.layer_cost(nn.Conv2d(3, 3, 1), (3, 0, 8))
    with pytest.raises(ValueError, match="image_size"):
        lc.flops_by_kind(4, image_size=8)
    with pytest.raises(ValueError, match="course's builder"):
        lc.flops_by_kind(nn.Conv2d(3, 3, 1))
    with pytest.raises(ValueError, match="valid steps"):
        lc.stage_flops(99)
    with pytest.raises(ValueError, match="conv1, conv2, conv3"):
        lc.print_block_costs(nn.Linear(2, 2), (2,))
