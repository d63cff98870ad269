"""Follow-up runs: trained once per setting, recorded, and read as the step's effect beside the ladder's."""
import runpy
from pathlib import Path

import pytest

from convnext_lesson.training import results

ROOT = Path(__file__).resolve().parents[1]
tool = runpy.run_path(str(ROOT / "tools" / "followups.py"))


def test_hypotheses_and_rules_are_stated_before_any_run():
    for f in tool["FOLLOWUPS"].values():
        assert f.hypothesis and "holds if" in f.rule and "fails if" in f.rule and f.values
        assert f.setting in tool["UNITS"]
        assert set(f.steps()) <= {f.step, tool["get_step"](f.step).parent}, f.name  # the pair compared


def test_followup_runs_are_trained_once_and_read_as_effects(tmp_path, capsys):
    f = tool["FOLLOWUPS"]["patchify-resolution"]
    args = ["patchify-resolution", "--runs", str(tmp_path / "runs"), "--records", str(tmp_path / "records"),
            "--profile", "smoke"]
    assert tool["main"](args) == 0
    for size in f.values:
        runs = tool["recorded"](tmp_path / "records", f, size)
        assert sorted(runs) == [2, 3] and {r["image_size"] for r in runs.values()} == {size}
        assert all("/" not in r["dataset"]["root"] for r in runs.values())
    effects = tool["effects"](f, tmp_path / "records", tmp_path / "no-ladder", "smoke")
    assert sorted(effects) == [f"{size}px" for size in f.values]
    assert "== patchify-resolution: step 2 at 32 px" in capsys.readouterr().out
    assert tool["main"](args) == 0
    assert "== patchify-resolution" not in capsys.readouterr().out  # recorded runs are not trained again
    table = tool["table"](tmp_path / "records", tmp_path, "smoke")
    assert f"32px: {effects['32px']:+.1f}" in table


def test_the_original_recipe_is_given_the_epochs_asked_for():
    f = tool["FOLLOWUPS"]["recipe-epochs"]
    assert tool["train_arguments"](f, 0, 12, "cpu") == {"epochs": 37}  # ceil(37 * 90 / 300) = 12
    assert tool["train_arguments"](tool["FOLLOWUPS"]["downsampling-epochs"], 16, 24, "cpu") == {"epochs": 24}


def test_a_step_the_followup_does_not_train_comes_from_the_ladder_at_that_setting(tmp_path):
    f = tool["Followup"](name="length", step=1, setting="epochs", values=(3,), trains=(0,),
                         hypothesis="h", rule="holds if; fails if")
    tool["train"](f, tmp_path / "runs", tmp_path / "records", "smoke")
    (zero,) = tool["recorded"](tmp_path / "records", f, 3).values()
    assert zero["step"] == 0 and zero["epochs"] == 3  # the smoke profile's step 0 alone trains 1
    import convnext_lesson as cl
    one = cl.train(1, profile="smoke", out_dir=tmp_path / "runs" / "ladder", progress=False)
    results.publish_record(one.run_dir, tmp_path / "ladder")
    assert tool["effects"](f, tmp_path / "records", tmp_path / "ladder", "smoke") == {
        "3epochs": one.top1 - zero["top1"]}  # the ladder itself has no step 0, so no "ladder" pair


def test_unknown_followup_names_the_valid_ones(capsys):
    with pytest.raises(SystemExit):
        tool["main"](["stem-overlap"])
    assert "valid: recipe-epochs, downsampling-epochs, patchify-resolution" in capsys.readouterr().err
