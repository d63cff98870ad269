"""tools/time_notebooks.py: notebooks timed in order in one runs folder, what each trained, resumable."""
import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("time_notebooks", ROOT / "tools" / "time_notebooks.py")
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)

TRAIN = "import convnext_lesson as cl\nrun = cl.train(16, epochs=1, progress=False)\nprint(run.top1)"


def notebook(path: Path, *sources: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_a_run_is_trained_once_and_loaded_by_the_next_notebook(tmp_path, monkeypatch, capsys):
    folder, runs, records = tmp_path / "notebooks", tmp_path / "runs", tmp_path / "records"
    folder.mkdir()
    notebook(folder / "01_first.ipynb", TRAIN)
    notebook(folder / "02_second.ipynb", TRAIN, "print('done')")
    monkeypatch.setenv("CONVNEXT_LESSON_PROFILE", "cpu")  # the tool sets the profile it is given
    assert tool.main(["--profile", "smoke", "--runs", str(runs), "--notebooks", str(folder),
                      "--records", str(records), "--note", "a test"]) == 0
    first, second = (json.loads((records / f"{n}.json").read_text(encoding="utf-8")) for n in ("01_first", "02_second"))
    assert first["kind"] == tool.KIND and first["profile"] == "smoke" and first["wall_time_s"] > 0
    assert first["note"] == second["note"] == "a test"
    (trained,) = first["trained"]
    assert trained.startswith("resnet50-smoke-imagenette-tiny/step16-") and first["runs_already_there"] == []
    assert 0 <= first["trained"][trained]["top1"] <= 100
    assert second["trained"] == {} and second["runs_already_there"] == [trained]
    assert first["device"] == second["device"] and len(first["load_average_1_5_15_min"]["after"]) == 3

    # timed notebooks are skipped; a removed record is timed again (not with --upto 01, which stops before it)
    (records / "02_second.json").unlink()
    assert tool.main(["--profile", "smoke", "--runs", str(runs), "--notebooks", str(folder),
                      "--records", str(records), "--upto", "01"]) == 0
    assert not (records / "02_second.json").exists()
    with pytest.raises(SystemExit):
        tool.main(["--runs", str(runs), "--notebooks", str(folder), "--upto", "7"])
    assert "--upto 7: no such notebook; valid: 01, 02" in capsys.readouterr().err
    assert tool.main(["--profile", "smoke", "--runs", str(runs), "--notebooks", str(folder),
                      "--records", str(records)]) == 0
    assert json.loads((records / "01_first.json").read_text(encoding="utf-8")) == first
    assert json.loads((records / "02_second.json").read_text(encoding="utf-8"))["runs_already_there"] == [trained]
    rows = tool.table(records).splitlines()[2:]
    assert [r.split(" | ")[0] for r in rows] == ["| 01_first", "| 02_second"]
    assert all(float(r.split(" | ")[1]) < 1 for r in rows)  # minutes: smoke runs take seconds


def test_an_interrupted_notebooks_run_is_moved_aside_not_deleted(tmp_path):
    runs = tmp_path / "runs"
    unfinished = runs / "resnet50-cpu-imagenette" / "step01-modern_recipe-seed0"
    unfinished.mkdir(parents=True)
    (unfinished / "checkpoint.pt").write_bytes(b"epoch 3")
    (moved,) = tool.move_unfinished(runs)
    assert not unfinished.exists() and (moved / "checkpoint.pt").read_bytes() == b"epoch 3"
    assert moved.parent == runs / "interrupted" and tool.move_unfinished(runs) == []


def test_restored_published_runs_are_loaded_not_trained(tmp_path):
    import convnext_lesson as cl
    from convnext_lesson.training import results

    trained = tmp_path / "trained"
    plain = cl.train(16, profile="smoke", out_dir=trained, progress=False, verbose=False)
    variant = cl.train(16, profile="smoke", out_dir=trained, progress=False, verbose=False, kernel_size=5)
    reference = tmp_path / "reference"
    results.publish_record(plain.run_dir, reference / "runs")
    results.write_record(results.portable(variant.record), reference / "variants" / "k5.json")
    results.write_record({**plain.record, "profile": "cpu"}, reference / "runs" / "other-profile.json")
    runs = tmp_path / "series"
    restored = tool.restore(reference, runs, "smoke")
    assert sorted(p.relative_to(runs) for p in restored) == sorted(
        p.relative_to(trained) for p in (plain.run_dir, variant.run_dir))  # the folders cl.train uses; not cpu's
    assert tool.restore(reference, runs, "smoke") == []  # only once
    assert tool.restore(reference, tmp_path / "later", "smoke", below=16) == []  # step 16 is the timed ones' own
    for overrides, run in (({}, plain), ({"kernel_size": 5}, variant)):
        again = cl.train(16, profile="smoke", out_dir=runs, progress=False, verbose=False, **overrides)
        assert again.model is None and again.record["top1"] == run.record["top1"]  # loaded, not trained


def test_time_phrase():
    assert tool.time_phrase({"wall_time_s": 9.7}) == "10 s"
    assert tool.time_phrase({"wall_time_s": 157.9}) == "3 minutes"
    assert tool.time_phrase({"wall_time_s": 2530.0}) == "42 minutes"


def test_each_notebook_states_its_measured_cpu_time():
    """A notebook timed under cpu says that time at its top; one not yet timed says so instead."""
    timed = 0
    for path in sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py")):
        head = path.read_text(encoding="utf-8").split("# **Time:**", 1)[1].split("\n# %%", 1)[0].replace("\n# ", " ")
        record_path = tool.RECORDS / "cpu" / f"{path.stem}.json"
        if record_path.exists():
            record = json.loads(record_path.read_text(encoding="utf-8"))
            assert f"`cpu` **{tool.time_phrase(record)}**, measured" in head, path.name
            timed += 1
        else:
            assert "not yet timed end to end under `cpu`" in head, path.name
    assert timed >= 2  # the records of 00 and 01 ship with the package


def test_only_and_restore_below_are_checked(capsys):
    for argv, message in ((["--runs", "x", "--only", "06", "99"], "--only 99: no such notebook; valid: 00"),
                          (["--runs", "x", "--restore-below", "7"], "--restore-below needs --restore")):
        with pytest.raises(SystemExit):
            tool.main(argv)
        assert message in capsys.readouterr().err


def test_a_notebook_whose_experiment_is_off_under_cpu_says_so_in_its_time_line(tmp_path):
    off = {path.stem for path in (ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py")
           if tool.experiment_off_note(path.stem)}
    assert off == {"04_resnextify", "06_large_kernels", "07_micro_design"}  # past 30 minutes with it
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "99_x.py").write_text("train_experiment = cl.lesson.experiment_by_default(9)\n", encoding="utf-8")
    note = tool.experiment_off_note("99_x", tmp_path / "src", tool.ROOT / "convnext_lesson" / "reference" / "variants")
    record = next(r for r in tool.results.find_records(tool.ROOT / "convnext_lesson" / "reference" / "variants")
                  if r["step"] == 9 and r["profile"] == "cpu")
    assert f"took {tool.time_phrase(record)} on {tool.device_words(record['device'])}" in note
    assert tool.device_words("cpu (2 cores, AMD EPYC, AVX512)") == "a CPU (2 cores, AMD EPYC, AVX512)" and "train_experiment = True" in note
    assert tool.experiment_off_note("99_x", tmp_path / "src", tmp_path / "none").endswith(
        "one more training run; `train_experiment = True` in its cell trains it.")
