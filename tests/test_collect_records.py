"""Collecting a background job's runs into the package: plain steps to reference/runs, variants apart."""
import json
import runpy
from pathlib import Path

import pytest

import convnext_lesson as cl
from convnext_lesson.training import results

ROOT = Path(__file__).resolve().parents[1]
tool = runpy.run_path(str(ROOT / "tools" / "collect_background_records.py"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    for overrides in ({}, {"kernel_size": 5}):
        cl.train(16, profile="smoke", out_dir=out, progress=False, verbose=False, **overrides)
    (out / "resnet50-smoke-imagenette-tiny" / "step03-patchify_stem-seed0").mkdir()  # unfinished: no result
    return out


def test_runs_folder_plain_steps_and_variants_go_apart(runs, tmp_path, capsys):
    target = tmp_path / "reference"
    written = tool["collect"](runs, "quiet machine", target=target)
    names = sorted(p.relative_to(target).as_posix() for p in written)
    assert names[0] == "runs/resnet50-smoke-imagenette-tiny-step16-seed0.json"
    assert names[1].startswith("variants/resnet50-smoke-imagenette-tiny-step16-separate_downsampling-seed0-")
    assert len(names) == 2  # the unfinished run is not collected
    plain, variant = (cl.read_record(target / n) for n in names)
    assert plain["overrides"] == {} and variant["overrides"] == {"kernel_size": 5}
    assert all(r["note"] == "quiet machine" and "/" not in r["dataset"]["root"] for r in (plain, variant))
    assert cl.reference_results(root=target / "runs") == {16: [plain]}  # what the roadmap plots draw
    assert "top-1" in capsys.readouterr().out


def test_existing_records_stay_unless_replaced(runs, tmp_path):
    target = tmp_path / "reference"
    tool["collect"](runs, "first", target=target)
    assert tool["collect"](runs, "second", target=target) == []
    assert len(tool["collect"](runs, "third", replace=True, target=target)) == 2
    assert {cl.read_record(p)["note"] for p in target.rglob("*.json")} == {"third"}


def test_reference_folder_source_skips_notebook_timings(runs, tmp_path):
    other = tmp_path / "other" / "reference"
    results.publish_record(next(runs.glob("*/step16-separate_downsampling-seed0")), other / "runs")
    (other / "notebook_times" / "cpu").mkdir(parents=True)
    (other / "notebook_times" / "cpu" / "01.json").write_text(json.dumps({"kind": "convnext-lesson-notebook-time"}), encoding="utf-8")
    written = tool["collect"](other, "copied", target=tmp_path / "here")
    assert [p.relative_to(tmp_path / "here").as_posix() for p in written] == [
        "runs/resnet50-smoke-imagenette-tiny-step16-seed0.json"]


def test_source_must_be_a_folder(tmp_path):
    with pytest.raises(SystemExit):
        tool["main"]([str(tmp_path / "missing"), "--note", "x"])
