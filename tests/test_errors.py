"""Bad input gets a clear error that names what is valid."""
import errno
import json
import re

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


# -- training and ladder input, checked before any data is touched -------------------------------------------------

@pytest.fixture
def no_data(monkeypatch):
    """Fail the test if the run gets as far as locating its data."""
    from convnext_lesson.training import run

    def touched(*args, **kwargs):
        raise AssertionError("the data was located before the bad input was noticed")

    monkeypatch.setattr(run, "locate", touched)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("argv, message", [
    (["--device", "tpu"], "device 'tpu' is not valid: use cpu, cuda or cuda:<index>"),
    (["--device", "cuda:x"], "device 'cuda:x' is not valid"),
])
def test_cli_bad_device(argv, message, tmp_path, capsys, no_data):
    assert main(["train", "--step", "16", "--profile", "smoke", "--out", str(tmp_path), *argv]) == 2
    assert message in one_error_line(capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cli_cuda_without_a_gpu(tmp_path, capsys, no_data):
    assert main(["train", "--step", "16", "--profile", "smoke", "--out", str(tmp_path), "--device", "cuda"]) == 2
    assert "device 'cuda' is not available: no CUDA GPU found" in one_error_line(capsys)


def test_cli_out_is_a_file(tmp_path, capsys, no_data):
    file = tmp_path / "runs.txt"
    file.write_text("not a folder", encoding="utf-8")
    for out, where in ((file, "is a file"), (file / "deeper", f"lies under the file {file}")):
        assert main(["train", "--step", "16", "--profile", "smoke", "--out", str(out)]) == 2
        assert f"output folder {out} (out_dir, command line --out) {where}; give a folder" in one_error_line(capsys)
    assert main(["ladder", "--steps", "16", "--profile", "smoke", "--out", str(file)]) == 2
    assert "is a file" in one_error_line(capsys)


@pytest.mark.parametrize("code, reason", [(errno.EROFS, "Read-only file system"),
                                          (errno.ENOSPC, "No space left on device")])
def test_cli_out_read_only_or_full(code, reason, tmp_path, capsys, monkeypatch, no_data):
    """Simulated (as root, a read-only folder is writable anyway): the byte the check writes fails."""
    import tempfile

    def fails(*args, **kwargs):
        raise OSError(code, reason)

    monkeypatch.setattr(tempfile, "TemporaryFile", fails)
    assert main(["train", "--step", "16", "--profile", "smoke", "--out", str(tmp_path / "runs")]) == 2
    assert f"cannot be written ({reason}); give a writable folder with free space" in one_error_line(capsys)
    assert not (tmp_path / "runs").exists()


def test_cli_disk_full_mid_run_is_one_line(tmp_path, capsys, monkeypatch):
    from convnext_lesson.training import results

    def full(record, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(results, "write_record", full)
    assert main(["train", "--step", "16", "--profile", "smoke", "--epochs", "1", "--out", str(tmp_path),
                 "--no-progress"]) == 1
    assert "No space left on device" in one_error_line(capsys)


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=1.5), "epochs=1.5 is not valid: use an integer >= 1"),
    (dict(epochs=0), "epochs=0 is not valid: use an integer >= 1"),
    (dict(image_size=40.5), "image_size=40.5 is not valid: use an integer >= 1"),
    (dict(batch_size=True), "batch_size=True is not valid"),
    (dict(micro_batch=0), "micro_batch=0 is not valid: use an integer >= 1"),
    (dict(seed=2**64), r"seed=18446744073709551616 is not valid: use an integer with 0 <= seed < 2\*\*63"),
    (dict(seed=-1), r"seed=-1 is not valid: use an integer with 0 <= seed < 2\*\*63"),
    (dict(seed=1.0), "seed=1.0 is not valid"),
])
def test_train_and_ladder_numbers_are_integers_in_range(kwargs, message, tmp_path, no_data):
    with pytest.raises(ValueError, match=message):
        cl.train(16, profile="smoke", out_dir=tmp_path, progress=False, verbose=False, **kwargs)
    with pytest.raises(ValueError, match=message):
        cl.ladder(profile="smoke", steps="15-16", out_dir=tmp_path, progress=False, verbose=False, **kwargs)
    assert not list(tmp_path.rglob("*"))


@pytest.mark.parametrize("steps, message", [
    ("16-0", "step range '16-0' is reversed: write it low to high, e.g. 0-16; valid steps: 0=resnet50"),
    (",", "no steps given \\(','\\).*valid steps: 0=resnet50"),
    ("", "no steps given"),
    ([], "no steps given"),
    ("0-17", "unknown step 17.*valid steps: 0=resnet50"),
])
def test_ladder_steps_that_name_nothing(steps, message, tmp_path):
    from convnext_lesson.training.ladder import parse_steps

    with pytest.raises(ValueError, match=message):
        parse_steps(steps)
    with pytest.raises(ValueError, match=message):
        cl.ladder(profile="smoke", steps=steps, out_dir=tmp_path, verbose=False)
    assert not list(tmp_path.rglob("*"))


def test_cli_ladder_reversed_range(tmp_path, capsys):
    assert main(["ladder", "--steps", "16-0", "--profile", "smoke", "--out", str(tmp_path)]) == 2
    assert "is reversed" in one_error_line(capsys)


@pytest.mark.parametrize("override, message", [
    (dict(expansion=0), "expansion=0 is not valid: use a positive integer \\(4 in ResNet and ConvNeXt\\)"),
    (dict(in_chans=0), "in_chans=0 is not valid: use a positive integer \\(3 for RGB images\\)"),
    (dict(stem_width=0), "stem_width=0 is not valid: use a positive integer"),
    (dict(stem_width=-8), "stem_width=-8 is not valid"),
    (dict(kernel_size=7.0), "kernel_size=7.0 is not valid: use an odd size"),
    (dict(depths="1111"), "depths='1111' is not valid: use a tuple of positive integers"),
    (dict(depthwise=1), "depthwise=1 is not valid: use True or False"),
    (dict(layer_scale="small"), "layer_scale='small' a number or None"),
    (dict(norm=None), "norm=None is not valid; choose one of bn, ln"),
])
def test_config_values_that_build_a_broken_network(override, message):
    with pytest.raises(ValueError, match=message):
        cl.build_model(16, **override)


def test_config_lists_are_tuples():
    cfg = cl.NetConfig(depths=[1, 1, 1, 1], widths=[8, 16, 24, 32])
    assert cfg.depths == (1, 1, 1, 1) and cfg.widths == (8, 16, 24, 32)
    assert cfg == cl.NetConfig(depths=(1, 1, 1, 1), widths=(8, 16, 24, 32)) and hash(cfg)


@pytest.mark.parametrize("load, export", [(cl.load_torchvision_weights, cl.to_torchvision_state_dict),
                                          (cl.load_official_weights, cl.to_official_state_dict)])
def test_integer_weights_are_refused(load, export):
    model = cl.build_model(16, num_classes=10)
    state = export(model)
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = (state[key] * 100).round().to(torch.int64)
    with pytest.raises(ValueError, match=rf"integer tensors where the network has floating-point ones: "
                                         rf"{re.escape(key)} \(torch.int64\)"):
        load(model, state)
