"""cl.use_drive() with a stand-in google.colab (Colab's own cannot run here): what it mounts, where runs and
data go, and the clear error off Colab. Drive's real filesystem is not tested (see teach/colab.py)."""
import json
import os
import shutil
import sys
import types

import pytest

import convnext_lesson as cl
from convnext_lesson.teach import colab

TINY = "imagenette2-160-sq-q60-tiny.tar.gz"


@pytest.fixture
def fake_colab(monkeypatch, tmp_path):
    """A stand-in google.colab whose drive.mount makes the folder Colab would (MyDrive under the mount point)."""
    mounted = []

    def mount(mountpoint, force_remount=False):
        mounted.append(mountpoint)
        (tmp_path / "drive" / "MyDrive").mkdir(parents=True, exist_ok=True)

    google, package, drive = (types.ModuleType(n) for n in ("google", "google.colab", "google.colab.drive"))
    drive.mount, package.drive, google.colab = mount, drive, package
    for name, module in (("google", google), ("google.colab", package), ("google.colab.drive", drive)):
        monkeypatch.setitem(sys.modules, name, module)
    for name in ("CONVNEXT_LESSON_RUNS", "CONVNEXT_LESSON_DATA"):  # restored after the test
        monkeypatch.setenv(name, "before")
    downloads = tmp_path / "downloads"  # this runtime's download folder (~/.cache/convnext_lesson on Colab)
    downloads.mkdir()
    monkeypatch.setattr(colab, "default_download_dir", lambda: downloads)
    return types.SimpleNamespace(mounted=mounted, mountpoint=str(tmp_path / "drive"), downloads=downloads,
                                 root=tmp_path / "drive" / "MyDrive" / "convnext-lesson")


def test_off_colab_it_says_what_to_do_instead(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    with pytest.raises(RuntimeError, match="only works in a Colab notebook") as error:
        cl.use_drive()
    assert "CONVNEXT_LESSON_RUNS" in str(error.value) and "CONVNEXT_LESSON_DATA" in str(error.value)


def test_it_mounts_drive_and_points_runs_and_data_there(fake_colab, capsys):
    root = cl.use_drive(mountpoint=fake_colab.mountpoint)
    assert fake_colab.mounted == [fake_colab.mountpoint] and root == fake_colab.root
    assert os.environ["CONVNEXT_LESSON_RUNS"] == str(root / "runs") and (root / "runs").is_dir()
    assert os.environ["CONVNEXT_LESSON_DATA"] == str(root / "data") and (root / "data").is_dir()
    plan = cl.plan_run(0, profile="smoke")  # a run planned now goes to Drive
    assert plan.out_dir == root / "runs" and plan.out_dir_from_env
    assert "flush_and_unmount" in capsys.readouterr().out


def test_a_downloaded_archive_is_kept_on_drive_and_unpacked_on_the_runtimes_disk(fake_colab, tmp_path, capsys):
    shutil.copyfile(cl.data.PACKAGE_DATA / TINY, fake_colab.downloads / TINY)  # as if downloaded in this runtime
    root = cl.use_drive(mountpoint=fake_colab.mountpoint)
    assert (root / "data" / TINY).read_bytes() == (cl.data.PACKAGE_DATA / TINY).read_bytes()
    assert f"saved there: {TINY}" in capsys.readouterr().out
    assert not list((root / "data").glob(".*.part"))
    cl.use_drive(mountpoint=fake_colab.mountpoint)  # a second call copies nothing
    assert "saved there" not in capsys.readouterr().out

    # the next runtime: the archive on Drive is found first, checked, and unpacked onto local disk
    local = tmp_path / "next-runtime-cache"
    copy = cl.data.locate("imagenette-tiny", download_dir=local)
    assert copy.file == TINY and copy.root.is_relative_to(local) and copy.train_images > 0
    stamp = json.loads((copy.root.parent / f"{copy.root.name}.source.json").read_text(encoding="utf-8"))
    assert stamp["archive"] == str((root / "data" / TINY).resolve())


def test_only_dataset_archives_are_copied(tmp_path):
    downloads, data = tmp_path / "downloads", tmp_path / "data"
    downloads.mkdir(), data.mkdir()
    (downloads / "notes.txt").write_text("not an archive", encoding="utf-8")
    (downloads / "imagewoof2-160.tgz").write_bytes(b"x" * 10)
    assert colab.save_archives(data, downloads) == ["imagewoof2-160.tgz"]
    assert sorted(p.name for p in data.iterdir()) == ["imagewoof2-160.tgz"]
    assert {"imagenette2-160.tgz", TINY, "cifar-10-python.tar.gz"} <= colab.archive_names()
