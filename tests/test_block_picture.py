"""The three-blocks picture says what notebook 08 says it does, and its table of paper numbers has no typo."""
from matplotlib.figure import Figure

from convnext_lesson.teach.show import block_picture


def test_the_picture_has_three_titled_columns_with_their_layers():
    fig = block_picture.three_blocks_figure()
    assert isinstance(fig, Figure)
    text = block_picture.text_of(fig)
    assert text["titles"] == ["ResNet-50 bottleneck", "Swin-T block", "ConvNeXt-T block"]
    resnet, swin, convnext = text["columns"]
    assert resnet[1:] == ["1x1, 256 → 64", "BN", "ReLU", "3x3, 64", "BN", "ReLU", "1x1, 64 → 256", "BN", "+", "ReLU"]
    assert swin[1:] == ["LN", "window MSA, 96", "+", "LN", "MLP: Linear 96 → 384", "GELU", "Linear 384 → 96", "+"]
    assert convnext[1:] == ["d7x7, 96", "LN", "1x1, 96 → 384", "GELU", "1x1, 384 → 96", "+"]
    assert len(text["legend"]) == len(block_picture.ROLES)


def test_convnext_and_swin_blocks_do_the_same_jobs_in_the_same_order():
    # the point the picture makes: one spatial mixing layer, one norm, a two-layer MLP with one activation
    def jobs(name):
        return [layer[1] for layer in block_picture.BLOCKS[name] if layer != "+"]

    assert sorted(jobs("ConvNeXt-T block")) == sorted(jobs("Swin-T block")[1:])  # Swin has a second LN
    assert jobs("ConvNeXt-T block") == ["spatial", "norm", "channels", "act", "channels"]


# The paper's numbers, typed in again from the paper (Tables 1, 3, 10 and 12), so that a typo in either fails.
PRINTED = {
    ("ImageNet-1K top-1 (%), original 90-epoch recipe", "Table 10"): {"ResNet-50": 76.13},
    ("ImageNet-1K top-1 (%), step 1 / Swin-T / step 16", "Table 10"):
        {"ResNet-50": 78.82, "Swin-T": 81.30, "ConvNeXt-T": 81.97},
    ("ImageNet-1K top-1 (%), final model", "Table 1"): {"ConvNeXt-T": 82.1},
    ("GFLOPs at 224 px", "Table 10"): {"ResNet-50": 4.09, "Swin-T": 4.50, "ConvNeXt-T": 4.49},
    ("GFLOPs at 224 px", "Table 1"): {"ConvNeXt-T": 4.5},
    ("params (M)", "Table 1"): {"ConvNeXt-T": 28.6},
    ("throughput, V100 (images/s)", "Table 1"): {"Swin-T": 757.9, "ConvNeXt-T": 774.7},
    ("throughput, A100, TF32, channels-last (images/s)", "Table 12"): {"Swin-T": 1325.6, "ConvNeXt-T": 1943.5},
    ("COCO Cascade Mask R-CNN 3x: box AP", "Table 3"): {"ResNet-50": 46.3, "Swin-T": 50.4, "ConvNeXt-T": 50.4},
    ("COCO Cascade Mask R-CNN 3x: GFLOPs at 1280x800", "Table 3"): {"ResNet-50": 739, "Swin-T": 745, "ConvNeXt-T": 741},
    ("COCO Cascade Mask R-CNN 3x: frames/s, A100", "Table 3"): {"ResNet-50": 16.2, "Swin-T": 12.2, "ConvNeXt-T": 13.5},
    ("COCO Mask R-CNN 3x: box AP", "Table 3"): {"Swin-T": 46.0, "ConvNeXt-T": 46.2},
}


def test_paper_numbers_are_the_printed_ones():
    table = {(quantity, source): values for quantity, source, _, values in block_picture.PAPER_COMPARISON}
    assert table == PRINTED


def test_paper_numbers_print_with_the_papers_decimals(capsys):
    block_picture.print_paper_comparison()
    out = capsys.readouterr().out
    assert "81.30" in out and "4.50" in out and "1943.5" in out and " 739 " in out
    assert len(out.splitlines()) == len(PRINTED) + 2


def test_the_roadmap_rows_agree_with_the_roadmap_data():
    from convnext_lesson.model.roadmap import get_step

    table = {(quantity, source): values for quantity, source, _, values in block_picture.PAPER_COMPARISON}
    top1 = table[("ImageNet-1K top-1 (%), step 1 / Swin-T / step 16", "Table 10")]
    assert (top1["ResNet-50"], top1["ConvNeXt-T"]) == (get_step(1).paper_top1, get_step(16).paper_top1)
    assert table[("ImageNet-1K top-1 (%), original 90-epoch recipe", "Table 10")]["ResNet-50"] == get_step(0).paper_top1
    assert table[("GFLOPs at 224 px", "Table 10")]["ResNet-50"] == get_step(0).paper_gflops
