"""Step 16 taken apart: the arms are the changes they say, and the rules read as they are written."""
import runpy
from pathlib import Path

import pytest

import convnext_lesson as cl
from convnext_lesson.teach.readings import step16_parts as parts
from convnext_lesson.training import results

ROOT = Path(__file__).resolve().parents[1]
tool = runpy.run_path(str(ROOT / "tools" / "step16_parts.py"))


def test_each_arm_changes_only_parts_of_step_16():
    final = set(cl.get_step(16).overrides)
    for arm in parts.ARMS.values():
        assert arm.step in (15, 16) and arm.overrides and set(arm.overrides) <= final, arm.name
        cl.get_step(arm.step).config.replace(**arm.overrides)  # a valid network
    assert "holds if" in parts.RULE and "fails if" in parts.RULE.replace("It fails if", "fails if")


@pytest.mark.parametrize("won_back, verdict", [
    ({"kaiming-no-ls": 10.0, "s15-separate": -1.0, "in-block": 1.0}, "holds"),
    ({"kaiming-no-ls": 2.0, "s15-separate": -1.0, "in-block": 1.0}, "fails"),
    ({"kaiming-no-ls": 10.0, "s15-separate": -7.0, "in-block": 1.0}, "fails"),
    ({"kaiming-no-ls": 6.0, "s15-separate": -1.0, "in-block": 1.0}, "in between"),
    ({"kaiming-no-ls": 10.0, "s15-separate": -1.0, "in-block": 4.0}, "in between"),
])
def test_the_hypothesis_rule_reads_as_written(won_back, verdict):
    assert parts.read_hypothesis(11.6, won_back).startswith(verdict)


@pytest.mark.parametrize("won_back, verdict", [
    ({"kaiming-no-ls": 10.0, "kaiming": 8.0, "no-ls": 1.0}, "the init carries it"),
    ({"kaiming-no-ls": 10.0, "kaiming": 1.0, "no-ls": 9.0}, "layer scale carries it"),
    ({"kaiming-no-ls": 10.0, "kaiming": 1.0, "no-ls": 1.4}, "both are needed"),
    ({"kaiming-no-ls": 10.0, "kaiming": 6.0, "no-ls": 1.4}, "they share it"),
])
def test_the_start_rule_reads_as_written(won_back, verdict):
    assert parts.read_start(won_back).startswith(verdict)


def test_arms_train_once_and_are_found_by_their_change(tmp_path, capsys):
    args = ["kaiming", "--seeds", "0", "--runs", str(tmp_path / "runs"), "--records", str(tmp_path / "rec"),
            "--profile", "smoke"]
    assert tool["main"](args) == 0
    found = parts.arm_records(parts.ARMS["kaiming"], tmp_path / "rec", tmp_path / "none", "smoke")
    config = found[0]["config"]
    assert list(found) == [0] and found[0]["step"] == 16
    assert (config["init"], config["layer_scale"], config["downsampling"]) == ("kaiming", 1e-6, "separate")
    assert parts.arm_records(parts.ARMS["kaiming-no-ls"], tmp_path / "rec", tmp_path / "none", "smoke") == {}
    assert "== kaiming: step 16" in capsys.readouterr().out
    assert tool["main"](args) == 0
    assert "== kaiming" not in capsys.readouterr().out  # a recorded run is not trained again


def test_unknown_arm_names_the_valid_ones(capsys):
    with pytest.raises(SystemExit):
        tool["main"](["kaiming-ls"])
    assert "valid: kaiming-no-ls, kaiming, no-ls" in capsys.readouterr().err


def test_notebook_08s_layer_scale_experiment_counts_as_the_no_layer_scale_arm():
    found = parts.arm_records(parts.ARMS["no-ls"])
    assert 0 in found and found[0]["overrides"] == {"layer_scale": None}
    assert parts.reading()["hypothesis"].startswith(("not run yet", "holds", "fails", "in between"))


@pytest.mark.parametrize("gap, noise, keeps_layer_scale", [(0.5, 0.9, True), (2.9, 0.9, False), (-1.0, 0.9, True)])
def test_the_decision_rule_reads_as_written(gap, noise, keeps_layer_scale):
    text = parts.decide(gap, noise)
    assert ("keep layer scale 1e-6" in text) == keeps_layer_scale and ("no layer scale:" in text) != keeps_layer_scale


def test_the_profiles_start_follows_the_decision_the_records_give():
    decided = parts.decision()
    small = [cl.get_profile(p).short_run_start for p in ("smoke", "cpu", "colab")]
    assert cl.get_profile("full").short_run_start is False
    if "no layer scale:" in decided:
        assert all(small)
        assert cl.plan_run(16, profile="cpu").config.layer_scale is None
    elif decided.startswith(("nothing changes", "not decided")):
        assert not any(small)
    else:
        pytest.fail(f"the course has no switch for this decision yet: {decided}")
