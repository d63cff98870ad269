"""Bad input gets a clear error that names what is valid."""
import json

import pytest
import torch

import convnext_lesson as cl
from convnext_lesson.cli import main


def test_unknown_step_lists_valid_steps():
    with pytest.raises(ValueError, match=r"valid steps: 0=resnet50, 1=modern_recipe.*16=separate_downsampling"):
        cl.build_model("convnext")
    with pytest.raises(ValueError, match="valid steps"):
        cl.build_model(17)


def test_step_by_name_or_index():
    assert cl.get_step("kernel_7").index == 9 and cl.get_step("9").name == "kernel_7"
    assert cl.get_step(3, regime="resnet200").config.stem_width == 84


def test_unknown_regime():
    with pytest.raises(ValueError, match="valid regimes: resnet50, resnet200"):
        cl.roadmap_steps("resnet101")


@pytest.mark.parametrize("kernel", [4, 0, -3])
def test_even_kernel(kernel):
    with pytest.raises(ValueError, match=r"kernel_size=.*odd"):
        cl.build_model(9, kernel_size=kernel)


def test_unknown_config_field_and_value():
    with pytest.raises(ValueError, match="valid fields"):
        cl.build_model(0, kernel=7)
    with pytest.raises(ValueError, match="choose one of bn, ln"):
        cl.build_model(0, norm="group")
    with pytest.raises(ValueError, match="only block='dw_first' has"):
        cl.build_model(0, activations="one")


def test_input_too_small_or_wrong_channels():
    model = cl.build_model(16, num_classes=10)
    with pytest.raises(ValueError, match="16x16 is too small.*at least 32x32"):
        model(torch.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 3, H, W\)"):
        model(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match="too small"):
        cl.count_flops(model, 16)
    with pytest.raises(ValueError, match="valid: paper, fvcore"):
        cl.count_flops(model, 64, convention="macs")


def test_unknown_family_variant():
    with pytest.raises(ValueError, match="valid: T, S, B, L, XL"):
        cl.build_convnext("M")


def test_cli_table_and_json(capsys):
    assert main(["flops"]) == 0
    out = capsys.readouterr().out
    assert "| 9 | kernel size 7 | 25.86M | 4.146 | 4.172 | 4.15 | -0.004 |" in out
    assert "Table 10 prints 4.46" in out
    assert main(["flops", "--json", "--image-size", "128"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["image_size"] == 128 and len(data["steps"]) == 17


def test_cli_bad_input(capsys):
    assert main(["flops", "--image-size", "16"]) == 2
    assert "too small" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["flops", "--regime", "vit"])
