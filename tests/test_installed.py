"""What a bare install (pip install of the repository, as on Colab) must do on its own: no checkout,
no $CONVNEXT_LESSON_DATA, nothing downloaded. tools/oldest_torch.sh runs these against a non-editable
install; in the main suite they run against the editable one."""
import json
import os
import subprocess
import sys

import convnext_lesson as cl


def bare_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVNEXT_LESSON_")}
    return env | {"CONVNEXT_LESSON_PROFILE": "smoke"}


def test_smoke_training_runs_on_the_sample_that_ships_with_the_package(tmp_path):
    # a folder outside any checkout: the command imports the installed package and finds its own data
    done = subprocess.run([sys.executable, "-m", "convnext_lesson", "train", "--step", "16", "--out", str(tmp_path),
                           "--no-progress"], cwd=tmp_path, env=bare_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    [result] = tmp_path.rglob("result.json")
    record = json.loads(result.read_text(encoding="utf-8"))
    assert record["dataset"]["name"] == "imagenette-tiny" and record["dataset"]["train_images"] == 200
    assert record["epochs"] == 3 and 0 <= record["top1"] <= 100


def test_the_installed_package_finds_the_sample_and_its_reference_records(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("CONVNEXT_LESSON_")]:
        monkeypatch.delenv(name)
    copy = cl.data.locate("imagenette-tiny", download_dir=tmp_path / "downloads")
    assert (copy.train_images, copy.val_images) == (200, 200)
    assert isinstance(cl.reference_results("resnet50"), dict)
