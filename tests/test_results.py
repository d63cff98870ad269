"""Results records, reference results, the ladder and the train/ladder commands."""
import json
import os
from pathlib import Path

import pytest
import torch

import convnext_lesson as cl
from convnext_lesson.training import results
from convnext_lesson.cli import main

ROOT = Path(__file__).resolve().parents[1]  # this checkout (the package may be installed elsewhere)


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return cl.train(16, profile="smoke", epochs=1, out_dir=out, progress=False, verbose=False).record


def test_record_has_the_documented_fields(record):
    for key in ("schema_version", "step", "regime", "profile", "dataset", "image_size", "epochs", "seed", "top1",
                "top5", "best_top1", "best_top5", "params", "gflops", "wall_time_s", "images_per_s", "device",
                "torch", "cuda", "git_commit", "history", "recipe_settings", "config"):
        assert key in record, key
        assert key in results.__doc__, key  # the schema is documented
    assert record["schema_version"] == results.SCHEMA_VERSION and record["kind"] == results.KIND
    # a CPU run names the cores and the vector instructions, which set its wall time
    assert record["device"].startswith(f"cpu ({os.cpu_count()} cores, ")
    assert record["device"].endswith(f"{torch.backends.cpu.get_cpu_capability()})")
    assert record["dataset"]["origin"] == "offline-pack" and record["dataset"]["checksum"].startswith("sha256:")
    assert record["gflops"]["at_224"] > record["gflops"]["trained_resolution"] > 0
    assert record["paper_top1"] == 81.97 and record["params"] == cl.count_params(
        cl.Network(cl.NetConfig(**{k: tuple(v) if isinstance(v, list) else v
                                   for k, v in record["config"].items()}), 10))
    assert record["history"][0]["val_top1"] == record["top1"] and record["wall_time_s"] > 0
    json.dumps(record)  # plain JSON


def test_write_read_and_reference_results(record, tmp_path):
    path = cl.write_record(record, tmp_path / "reference" / "run.json")
    assert cl.read_record(path) == record
    assert cl.reference_results(root=tmp_path / "nothing") == {}
    assert cl.reference_results("resnet50", root=tmp_path) == {16: [record]}
    assert cl.reference_results("resnet200", root=tmp_path) == {}
    assert cl.reference_results("resnet50", profile="cpu", root=tmp_path) == {}
    with pytest.raises(ValueError, match="valid regimes"):
        cl.reference_results("resnet101")
    path.write_text(json.dumps({**record, "schema_version": 99}), encoding="utf-8")
    with pytest.raises(ValueError, match="schema_version 99 is not supported"):
        cl.read_record(path)


def test_publish_record_keeps_no_machine_path(record, tmp_path):
    run = cl.write_record(record, tmp_path / "run" / results.RESULT_NAME)
    assert record["dataset"]["root"].startswith("/")  # where the data lay on this machine
    published = results.publish_record(run.parent, tmp_path / "published")
    assert published.name == "resnet50-smoke-imagenette-tiny-step16-seed0.json"
    copy = cl.read_record(published)
    assert "/" not in copy["dataset"]["root"] and copy["dataset"]["checksum"] == record["dataset"]["checksum"]
    assert {k: v for k, v in copy.items() if k != "dataset"} == {k: v for k, v in record.items() if k != "dataset"}
    assert cl.reference_results(root=tmp_path / "published") == {16: [copy]}


def test_reference_runs_ship_with_the_package():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["convnext_lesson"]
    package = Path(cl.__file__).resolve().parent  # the package-data globs are relative to the top package
    folder = results.REFERENCE_DIR.relative_to(package).as_posix()
    assert f"{folder}/*.json" in package_data
    data_files = cl.data.PACKAGE_DATA.relative_to(package).as_posix()
    assert f"{data_files}/*.tar.gz" in package_data and list(cl.data.PACKAGE_DATA.glob("*.tar.gz"))


def test_committed_reference_results_are_valid():
    found = cl.reference_results()
    assert isinstance(found, dict)
    for step, records in found.items():
        assert all(r["step"] == step and r["regime"] == "resnet50" for r in records)


def test_cli_train_and_ladder(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["ladder", "--profile", "smoke", "--steps", "15-16", "--epochs", "1", "--out", str(out),
                 "--no-progress"]) == 0
    folder = out / "resnet50-smoke-imagenette-tiny"
    assert (folder / "roadmap.png").stat().st_size > 10_000
    table = (folder / "ladder.md").read_text(encoding="utf-8")
    assert "| 15 | BN -> LN |" in table and "| 16 | sep. d.s. conv |" in table
    capsys.readouterr()
    assert main(["ladder", "--profile", "smoke", "--steps", "16", "--out", str(out), "--no-progress"]) == 0
    assert main(["train", "--step", "separate_downsampling", "--profile", "smoke", "--epochs", "1", "--out", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "already trained" in printed and "step 16 (separate_downsampling), profile smoke" in printed


def test_cli_bad_input(tmp_path, capsys, monkeypatch):
    assert main(["train", "--step", "42", "--profile", "smoke", "--out", str(tmp_path)]) == 2
    assert "valid steps: 0=resnet50" in capsys.readouterr().err
    assert main(["train", "--step", "1", "--profile", "smoke", "--data-dir", str(tmp_path / "no")]) == 2
    assert "does not exist" in capsys.readouterr().err
    monkeypatch.setenv("CONVNEXT_LESSON_PROFILE", "gpu")
    assert main(["train", "--step", "1", "--out", str(tmp_path)]) == 2
    assert "valid profiles: smoke, cpu, colab, full" in capsys.readouterr().err
    assert main(["ladder", "--steps", "3,x", "--profile", "smoke", "--out", str(tmp_path)]) == 2
    assert "unknown step 'x'" in capsys.readouterr().err
    for argv in (["train", "--step", "1", "--profile", "tiny"], ["train", "--step", "1", "--dataset", "mnist"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert "invalid choice" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.json"))


def test_roadmap_picture_tool(record, tmp_path):
    import runpy

    tool = runpy.run_path(str(ROOT / "tools" / "roadmap_picture.py"))
    folder = tmp_path / "records"
    results.write_record(record, folder / "a.json")
    out = tool["main"](["--records", str(folder), "--out", str(tmp_path / "roadmap.png")])
    assert out.stat().st_size > 10_000
    results.write_record({**record, "image_size": record["image_size"] * 2}, folder / "b.json")
    with pytest.raises(SystemExit):
        tool["main"](["--records", str(folder), "--out", str(tmp_path / "mixed.png")])
    with pytest.raises(SystemExit):
        tool["main"](["--records", str(tmp_path / "empty"), "--out", str(tmp_path / "none.png")])


def test_committed_cpu_runs_are_clean_and_portable():
    """The README's results tables are generated from these (tests/test_results_section.py holds them equal)."""
    records = [r for rs in cl.reference_results(profile="cpu").values() for r in rs]
    assert records, "convnext_lesson/reference/runs holds the README's measured cpu runs"
    for r in records:
        assert "/" not in r["dataset"]["root"] and r["git_dirty"] is False and r["profile"] == "cpu"
        assert r["overrides"] == {}  # a plain step; variants live in reference/variants
