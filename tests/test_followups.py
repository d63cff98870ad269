"""Follow-up runs: trained once per setting, recorded, and read by the rule fixed before the runs."""
import runpy
from pathlib import Path

import pytest

import convnext_lesson as cl
from convnext_lesson.teach.readings import followups
from convnext_lesson.training import results

ROOT = Path(__file__).resolve().parents[1]
tool = runpy.run_path(str(ROOT / "tools" / "followups.py"))


def test_hypotheses_and_rules_are_stated_before_any_run():
    for f in followups.FOLLOWUPS.values():
        assert f.hypothesis and "holds if" in f.rule and "fails if" in f.rule and f.values
        assert f.setting in followups.UNITS
        assert set(f.steps()) <= {f.step, cl.get_step(f.step).parent}, f.name  # the pair compared


@pytest.mark.parametrize("name, ladder, at, band, verdict", [
    ("recipe-epochs", 27.4, {12: 10.0}, 1.0, "holds"),
    ("recipe-epochs", 27.4, {12: 22.0}, 1.0, "fails"),
    ("recipe-epochs", 27.4, {12: 16.0}, 1.0, "in between"),
    ("downsampling-epochs", -11.7, {24: -4.0}, 1.0, "holds"),
    ("downsampling-epochs", -11.7, {24: -11.0}, 1.0, "fails"),
    ("downsampling-epochs", -11.7, {24: -9.0}, 1.0, "cannot tell"),
    ("patchify-resolution", -2.2, {32: -3.0, 96: -1.0}, 1.0, "holds"),
    ("patchify-resolution", -2.2, {32: -0.5, 96: -1.0}, 1.0, "fails"),
    ("patchify-resolution", -2.2, {32: -2.0, 96: -2.5}, 1.0, "cannot tell"),
    ("layernorm-lr", -3.6, {1e-3: -1.0}, 0.8, "holds"),
    ("layernorm-lr", -3.6, {1e-3: -3.2}, 0.8, "fails"),
    ("layernorm-lr", -3.6, {1e-3: -2.3}, 0.8, "cannot tell"),
])
def test_each_rule_reads_as_it_is_written(name, ladder, at, band, verdict):
    assert followups.FOLLOWUPS[name].read(ladder, at, band).startswith(verdict)


def test_followup_runs_are_trained_once_and_read_as_effects(tmp_path, capsys):
    f = followups.FOLLOWUPS["patchify-resolution"]
    args = ["patchify-resolution", "--runs", str(tmp_path / "runs"), "--records", str(tmp_path / "records"),
            "--profile", "smoke"]
    assert tool["main"](args) == 0
    for size in f.values:
        runs = followups.recorded(f, size, tmp_path / "records")
        assert sorted(runs) == [2, 3] and {r["image_size"] for r in runs.values()} == {size}
        assert all("/" not in r["dataset"]["root"] for r in runs.values())
    at_ladder, at = followups.effects(f, tmp_path / "records", tmp_path / "no-ladder", "smoke")
    assert at_ladder is None and sorted(at) == list(f.values)
    assert "== patchify-resolution: step 2 at 32 px" in capsys.readouterr().out
    assert tool["main"](args) == 0
    assert "== patchify-resolution" not in capsys.readouterr().out  # recorded runs are not trained again
    text = followups.followups_text(tmp_path / "records", tmp_path / "no-ladder", "smoke")
    assert f"at 32 px {at[32]:+.1f}" in text and "not run yet: the ladder's pair" in text


def test_the_original_recipe_is_given_the_epochs_asked_for():
    f = followups.FOLLOWUPS["recipe-epochs"]
    assert tool["train_arguments"](f, 0, 12, "cpu") == {"epochs": 37}  # ceil(37 * 90 / 300) = 12
    assert tool["train_arguments"](followups.FOLLOWUPS["downsampling-epochs"], 16, 24, "cpu") == {"epochs": 24}


def test_a_step_the_followup_does_not_train_comes_from_the_ladder_at_that_setting(tmp_path):
    f = followups.Followup(name="length", step=1, setting="epochs", values=(3,), trains=(0,),
                           hypothesis="h", rule="holds if; fails if", read=lambda *a: "read")
    tool["train"](f, tmp_path / "runs", tmp_path / "records", "smoke")
    (zero,) = followups.recorded(f, 3, tmp_path / "records").values()
    assert zero["step"] == 0 and zero["epochs"] == 3  # the smoke profile's step 0 alone trains 1
    one = cl.train(1, profile="smoke", out_dir=tmp_path / "runs" / "ladder", progress=False)
    results.publish_record(one.run_dir, tmp_path / "ladder")
    at_ladder, at = followups.effects(f, tmp_path / "records", tmp_path / "ladder", "smoke")
    assert at_ladder is None and at == {3: one.top1 - zero["top1"]}  # the ladder itself has no step 0


def test_unknown_followup_names_the_valid_ones(capsys):
    with pytest.raises(SystemExit):
        tool["main"](["stem-overlap"])
    assert "valid: recipe-epochs, downsampling-epochs, patchify-resolution, layernorm-lr" in capsys.readouterr().err


def test_a_learning_rate_followup_sets_the_rate_the_run_uses(tmp_path):
    f = followups.FOLLOWUPS["layernorm-lr"]
    assert tool["train_arguments"](f, 15, 1e-3, "cpu") == {"recipe": {"lr": 1e-3}}
    assert f.folder(1e-3) == "lr0.001" and f.label(1e-3) == "lr 0.001"
    run = cl.train(15, profile="smoke", out_dir=tmp_path, progress=False, **tool["train_arguments"](f, 15, 1e-3, "smoke"))
    assert followups.setting_of(run.record, "lr") == 1e-3


def test_notebook_08_prints_the_readings_of_the_committed_runs(capsys):
    cl.lesson.followups_so_far()
    out = capsys.readouterr().out
    assert out.strip() == followups.report().strip()
    assert all(f"{name}: step" in out for name in followups.FOLLOWUPS)
