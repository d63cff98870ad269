"""Follow-up runs: trained once per size, recorded, and read as the step's effect across sizes."""
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
tool = runpy.run_path(str(ROOT / "tools" / "followups.py"))


def test_hypotheses_and_rules_are_stated_before_any_run():
    for f in tool["FOLLOWUPS"].values():
        assert f.hypothesis and "holds if" in f.rule and "fails if" in f.rule and f.sizes


def test_followup_runs_are_trained_once_and_read_as_effects(tmp_path, capsys):
    f = tool["FOLLOWUPS"]["patchify-resolution"]
    args = ["--runs", str(tmp_path / "runs"), "--records", str(tmp_path / "records"), "--profile", "smoke"]
    assert tool["main"](args) == 0
    for size in f.sizes:
        runs = tool["recorded"](tmp_path / "records", f, size)
        assert sorted(runs) == [2, 3] and {r["image_size"] for r in runs.values()} == {size}
        assert all("/" not in r["dataset"]["root"] for r in runs.values())
    effects = tool["effects"](f, tmp_path / "records", tmp_path / "no-ladder", "smoke")
    assert sorted(effects) == sorted(f.sizes)
    assert "== patchify-resolution: step 2" in capsys.readouterr().out
    assert tool["main"](args) == 0
    assert "== patchify-resolution" not in capsys.readouterr().out  # recorded runs are not trained again
    assert f"{f.sizes[0]} px: {effects[f.sizes[0]]:+.1f}" in tool["table"](tmp_path / "records", tmp_path, "smoke")


def test_unknown_followup_names_the_valid_ones(capsys):
    with pytest.raises(SystemExit):
        tool["main"](["stem-overlap"])
    assert "valid: patchify-resolution" in capsys.readouterr().err
