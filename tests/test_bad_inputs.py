"""The bad-input table: every wrong call a learner is likely to make, at the API and at the command
line, gets one clear error that names what is valid, and leaves nothing half-written behind.

Each row: an id, the call, and a regular expression the message must match (it names the valid
choices or range). Command-line rows must print exactly one line, ``error: ...`` (or argparse's
usage line and error), never a traceback, and exit with code 2.
"""
import json
import re

import pytest
import torch

import convnext_lesson as cl
from convnext_lesson.teach.lab import exercises
from convnext_lesson.teach.show import receptive_field
from convnext_lesson.training import benchmark, data, profiles
from convnext_lesson.cli import main

VALID_STEPS = r"valid steps: 0=resnet50, 1=modern_recipe.*16=separate_downsampling"


def small_model():
    return cl.build_model(16, num_classes=10)


# (id, call, error type, message pattern)
API = [
    # the roadmap and the builder
    ("step by unknown name", lambda: cl.build_model("convnext"), ValueError, VALID_STEPS),
    ("step past the end", lambda: cl.build_model(17), ValueError, VALID_STEPS),
    ("negative step", lambda: cl.build_model(-1), ValueError, VALID_STEPS),
    ("fractional step", lambda: cl.build_model(1.5), ValueError, VALID_STEPS),
    ("no step", lambda: cl.get_step(None), ValueError, VALID_STEPS),
    ("unknown regime", lambda: cl.roadmap_steps("resnet101"), ValueError, "valid regimes: resnet50, resnet200"),
    ("unknown step in the other regime", lambda: cl.get_step(17, regime="resnet200"), ValueError, "valid steps"),
    ("even kernel", lambda: cl.build_model(9, kernel_size=4), ValueError, r"kernel_size=4 .*odd size"),
    ("zero kernel", lambda: cl.build_model(9, kernel_size=0), ValueError, r"kernel_size=0 .*odd size"),
    ("unknown config field", lambda: cl.build_model(0, kernel=7), ValueError, "valid fields: activation, "),
    ("unknown norm", lambda: cl.build_model(0, norm="group"), ValueError, "choose one of bn, ln"),
    ("activations='one' on a bottleneck", lambda: cl.build_model(0, activations="one"), ValueError,
     "only block='dw_first' has"),
    ("depths and widths of different length", lambda: cl.build_model(0, depths=(1, 2, 3)), ValueError,
     "must be non-empty and of equal length"),
    ("a stage of no blocks", lambda: cl.build_model(0, depths=(0, 1, 1, 1)), ValueError, "must be positive"),
    ("a negative width", lambda: cl.build_model(0, widths=(-8, 16, 32, 64)), ValueError, "must be positive"),
    ("expansion 0", lambda: cl.build_model(0, expansion=0), ValueError, r"expansion=0 .*positive"),
    ("no input channels", lambda: cl.build_model(0, in_chans=0), ValueError, r"in_chans=0 .*positive"),
    ("stem of width 0", lambda: cl.build_model(0, stem_width=0), ValueError, r"stem_width=0 .*positive"),
    ("no classes", lambda: cl.build_model(0, num_classes=0), ValueError, "num_classes=0 must be a positive integer"),
    ("negative layer scale", lambda: cl.build_model(16, layer_scale=-1.0), ValueError, "must be positive or None"),
    ("drop path of 1.5", lambda: cl.build_model(16, drop_path=1.5), ValueError, r"drop_path=1.5 must be in \[0, 1\)"),
    ("unknown family member", lambda: cl.build_convnext("M"), ValueError, "valid: T, S, B, L, XL"),
    # running and counting a network
    ("image too small", lambda: small_model()(torch.randn(1, 3, 16, 16)), ValueError, "at least 32x32"),
    ("grey image", lambda: small_model()(torch.randn(1, 1, 64, 64)), ValueError, r"shape \(N, 3, H, W\)"),
    ("image without a batch axis", lambda: small_model()(torch.randn(3, 64, 64)), ValueError, r"\(N, 3, H, W\)"),
    ("count too small", lambda: cl.count_flops(small_model(), 16), ValueError, "at least 32x32"),
    ("unknown convention", lambda: cl.count_flops(small_model(), 64, convention="macs"), ValueError,
     "valid: paper, fvcore"),
    ("image size of one number in a tuple", lambda: cl.count_flops(small_model(), (64,)), ValueError,
     r"positive int or \(height, width\)"),
    ("image size as text", lambda: cl.count_flops(small_model(), "224"), ValueError, r"positive int or \(height"),
    ("count an unknown step", lambda: cl.count_step(99), ValueError, VALID_STEPS),
    # profiles and recipes
    ("unknown profile", lambda: cl.get_profile("gpu"), ValueError, "valid profiles: smoke, cpu, colab, full"),
    ("unknown recipe", lambda: cl.get_recipe("fast"), ValueError, "valid recipes: original, modern"),
    ("unknown recipe setting", lambda: cl.get_recipe("modern").replace(lr_max=1), ValueError, "valid settings: "),
    ("recipe for 0 epochs", lambda: cl.get_recipe("modern").scaled(0, 64), ValueError,
     "epochs=0 must be a positive integer"),
    ("recipe for 1.5 epochs", lambda: cl.get_recipe("modern").scaled(1.5, 64), ValueError,
     "epochs=1.5 must be a positive integer"),
    ("recipe for batch 0", lambda: cl.get_recipe("modern").scaled(12, 0), ValueError,
     "batch_size=0 must be a positive integer"),
    ("width multiplier 0", lambda: profiles.scale_config(cl.get_step(1).config, 0, 1), ValueError,
     "width_mult=0 must be a positive number"),
    # data
    ("unknown dataset", lambda: data.get_dataset_info("mnist"), data.DataError,
     "valid datasets: imagenette, imagenette-tiny, imagewoof, imagewoof-tiny, cifar10"),
    ("data folder that does not exist", lambda: data.locate("imagenette", "/nonexistent"), data.DataError,
     "does not exist: give a folder that holds the unpacked dataset or its .tar.gz pack"),
    # records
    ("record that does not exist", lambda: cl.read_record("/nonexistent/result.json"), ValueError,
     "cannot read run record"),
    ("not a record", lambda: cl.write_record({"a": 1}, "/nonexistent/x.json"), ValueError,
     "not a run record: missing schema_version"),
    ("reference runs of an unknown regime", lambda: cl.reference_results("vit"), ValueError,
     "valid regimes: resnet50, resnet200"),
    # weights
    ("weights of another layout", lambda: cl.load_torchvision_weights(small_model(), {"x": torch.zeros(1)}),
     ValueError, "do not fit this network in the torchvision-convnext layout"),
    ("weights of the wrong shapes", lambda: cl.load_official_weights(
        cl.build_model(16), {k: torch.zeros(1) for k in cl.to_official_state_dict(cl.build_model(16))}),
     ValueError, r"of the wrong shape: downsample_layers.0.0.weight: got \(1,\), expected \(96, 3, 4, 4\)"),
    ("ConvNeXt weights into a ResNet", lambda: cl.load_torchvision_weights(
        cl.build_model(0), cl.to_torchvision_state_dict(cl.build_model(16))), ValueError,
     "do not fit this network in the torchvision-resnet layout"),
    ("official layout for a ResNet", lambda: cl.load_official_weights(cl.build_model(0), {}), ValueError,
     "use load_torchvision_weights for ResNet"),
    ("integer weights", lambda: cl.load_torchvision_weights(cl.build_model(16), {
        k: v.to(torch.int64) for k, v in cl.to_torchvision_state_dict(cl.build_model(16)).items()}), ValueError,
     "floating"),
    # teaching helpers
    ("receptive field of an even kernel", lambda: receptive_field.check_kernel_size(4), ValueError,
     "one of the roadmap's kernel sizes 3, 5, 7, 9, 11"),
    ("kernel explorer at kernel 4", lambda: cl.kernel_explorer(kernel_size=4), ValueError,
     "kernel sizes 3, 5, 7, 9, 11"),
    ("roadmap explorer at step 42", lambda: cl.roadmap_explorer(step=42), ValueError, VALID_STEPS),
    ("diagram of an unknown step", lambda: cl.diagrams.draw_block(99), ValueError, VALID_STEPS),
    ("solution of an unknown exercise", lambda: exercises.solution("99.nothing"), ValueError,
     "unknown exercise '99.nothing'; valid: 01.bottleneck_params"),
    ("check of an unknown exercise", lambda: exercises.check("99.nothing", 1), ValueError, "valid: 01."),
    ("change of an unknown step", lambda: cl.lesson.show_change(99), ValueError, VALID_STEPS),
    ("table of an unknown step", lambda: cl.lesson.step_table([1, 99]), ValueError, VALID_STEPS),
    ("throughput in an unknown mode", lambda: benchmark.measure_throughput(small_model(), mode="eval"), ValueError,
     "valid: inference, train"),
]


@pytest.mark.parametrize("call,error,pattern", [row[1:] for row in API], ids=[row[0] for row in API])
def test_api_bad_input_gets_a_clear_error(call, error, pattern, capsys):
    with pytest.raises(error, match=pattern):
        call()
    assert capsys.readouterr().out == "", "nothing printed before the error"


def test_the_table_is_large_enough_and_its_ids_unique():
    ids = [row[0] for row in API]
    assert len(ids) == len(set(ids))
    assert len(ids) + len(CLI) + len(TRAIN) >= 60


# ------------------------------------------------------------------------------------------------------------
# The command line: one line on stderr, exit code 2, no traceback, nothing written


def cli_rows():
    return [
        ("flops image too small", ["flops", "--image-size", "16"], "too small"),
        ("flops unknown regime", ["flops", "--regime", "vit"], r"invalid choice: 'vit'.*resnet50"),
        ("train unknown step", ["train", "--step", "42", "--profile", "smoke"], VALID_STEPS),
        ("train unknown profile", ["train", "--step", "1", "--profile", "tiny"], r"invalid choice: 'tiny'"),
        ("train unknown dataset", ["train", "--step", "1", "--dataset", "mnist"], r"invalid choice: 'mnist'"),
        ("train zero epochs", ["train", "--step", "1", "--epochs", "0"], "must be a positive integer"),
        ("train fractional epochs", ["train", "--step", "1", "--epochs", "1.5"], "must be a positive integer"),
        ("train image size in words", ["train", "--step", "1", "--image-size", "big"], "must be a positive integer"),
        ("train negative batch", ["train", "--step", "1", "--batch-size", "-4"], "must be a positive integer"),
        ("train image too small", ["train", "--step", "16", "--profile", "smoke", "--image-size", "16"],
         "at least 32 px"),
        ("train missing data folder", ["train", "--step", "1", "--profile", "smoke", "--data-dir", "{tmp}/no"],
         "does not exist"),
        ("train data folder that is a file", ["train", "--step", "1", "--profile", "smoke", "--data-dir",
                                              "{tmp}/file.txt"], "is a file, not a folder"),
        ("train out that is a file", ["train", "--step", "1", "--profile", "smoke", "--out", "{tmp}/file.txt"],
         "is a file; give a folder"),
        ("train unknown device", ["train", "--step", "1", "--profile", "smoke", "--device", "tpu"], r"use cpu, cuda or cuda:<index>"),
        ("train seed too large", ["train", "--step", "1", "--profile", "smoke", "--seed", str(2 ** 64)], r"0 <= seed < 2\*\*63"),
        ("train negative seed", ["train", "--step", "1", "--profile", "smoke", "--seed", "-1"], r"0 <= seed < 2\*\*63"),
        ("ladder reversed range", ["ladder", "--steps", "16-0", "--profile", "smoke"], "'16-0' is reversed.*" + VALID_STEPS),
        ("ladder no steps", ["ladder", "--steps", ",", "--profile", "smoke"], "no steps given.*" + VALID_STEPS),
        ("ladder unknown step", ["ladder", "--steps", "3,x", "--profile", "smoke"], "unknown step 'x'"),
        ("ladder range past the end", ["ladder", "--steps", "15-20", "--profile", "smoke"], VALID_STEPS),
    ]


CLI = cli_rows()


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    (tmp_path / "file.txt").write_text("not a folder\n", encoding="utf-8")
    monkeypatch.setenv("CONVNEXT_LESSON_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("CONVNEXT_LESSON_PROFILE", raising=False)
    return tmp_path


@pytest.mark.parametrize("argv,pattern", [row[1:] for row in CLI], ids=[row[0] for row in CLI])
def test_cli_bad_input_gets_one_clear_line(argv, pattern, workdir, capsys):
    argv = [a.replace("{tmp}", str(workdir)) for a in argv]
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse: usage line + error line
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and re.search(pattern, err), err
    lines = [line for line in err.splitlines() if line.strip()]
    if lines[0].startswith("usage:"):  # argparse: its usage line, then "<prog>: error: ..."
        assert ": error: " in lines[-1], err
    else:
        assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert not (workdir / "runs").exists() or not any((workdir / "runs").rglob("*")), "nothing written"


# ------------------------------------------------------------------------------------------------------------
# train() and ladder() at the API: checked before any data is read or any training starts

TRAIN = [
    ("epochs 1.5", dict(epochs=1.5), "epochs=1.5 is not valid: use an integer >= 1"),
    ("epochs True", dict(epochs=True), "epochs=True is not valid: use an integer >= 1"),
    ("image size 40.5", dict(image_size=40.5), "image_size=40.5 is not valid: use an integer >= 1"),
    ("batch size 0", dict(batch_size=0), "batch_size=0 is not valid: use an integer >= 1"),
    ("micro-batch 0", dict(micro_batch=0), "micro_batch=0 is not valid: use an integer >= 1"),
    ("seed over 63 bits", dict(seed=2 ** 64), r"seed=18446744073709551616 is not valid: use an integer with 0 <= seed < 2\*\*63"),
    ("negative seed", dict(seed=-1), r"seed=-1 is not valid: use an integer with 0 <= seed < 2\*\*63"),
    ("text where a tuple of depths belongs", dict(depths="1,1,1,1"), r"use a tuple of positive integers, one per stage"),
    ("unknown override", dict(kernel=7), "valid fields"),
    ("unknown recipe setting", dict(recipe={"lr_max": 1}), "valid settings"),
    ("unknown device", dict(device="tpu"), r"use cpu, cuda or cuda:<index>"),
]


@pytest.mark.parametrize("kwargs,pattern", [row[1:] for row in TRAIN], ids=[row[0] for row in TRAIN])
def test_train_checks_its_arguments_before_anything_runs(kwargs, pattern, tmp_path, capsys):
    with pytest.raises(ValueError, match=pattern):
        cl.train(16, profile="smoke", out_dir=tmp_path, progress=False, **kwargs)
    assert not any(tmp_path.rglob("*")), "nothing written"


def test_an_image_size_the_machine_cannot_hold_stops_before_preloading():
    from convnext_lesson.training import data

    copy = data.locate("imagenette-tiny")
    need_gb = data.preload_bytes(copy, 100_000) / 2**30
    assert need_gb > 1000  # what the typo would have asked for
    with pytest.raises(ValueError, match=r"image_size=100000 needs about .* GB .* use a smaller image_size"):
        data.check_memory_for_preload(copy, 100_000, available_mb=16 * 1024)
    data.check_memory_for_preload(copy, 64, available_mb=16 * 1024)  # the cpu profile's size fits


def test_a_typo_in_the_image_size_is_a_clear_error_not_a_kill(tmp_path):
    with pytest.raises(ValueError, match="needs about .* GB"):
        cl.train(16, profile="smoke", image_size=100_000, out_dir=tmp_path, progress=False, verbose=False)


@pytest.mark.parametrize("changes, message", [
    ({"mix_prob": 2.0}, "mix_prob=2.0 is not valid: use a probability between 0 and 1"),
    ({"random_erasing": -0.1}, "random_erasing=-0.1 is not valid"),
    ({"drop_path": 1.0}, r"drop_path=1.0 is not valid: use a number in \[0, 1\)"),
    ({"lr": 0.0}, "lr=0.0 is not valid"),
])
def test_recipe_settings_out_of_range_name_what_is_valid(changes, message):
    with pytest.raises(ValueError, match=message):
        cl.plan_run(16, profile="smoke", recipe=changes)


def test_an_unknown_profile_in_the_reference_results_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown profile 'nope'; valid profiles: smoke, cpu, colab, full"):
        cl.reference_results(profile="nope")


def test_a_record_whose_top1_is_not_a_number_is_refused_where_it_is_read(tmp_path):
    from convnext_lesson.training import results

    record = next(iter(cl.reference_results(profile="cpu").values()))[0]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**record, "top1": "74.5%"}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"top1='74.5%' must be a number"):
        results.read_record(path)


def test_a_batch_of_one_on_a_batchnorm_step_says_what_is_needed():
    with pytest.raises(ValueError, match="step 1 has BatchNorm.*batch_size=1 is too small; use 2 or more"):
        cl.plan_run(1, profile="smoke", batch_size=1)
    cl.plan_run(16, profile="smoke", batch_size=1)  # LayerNorm: one image is fine
