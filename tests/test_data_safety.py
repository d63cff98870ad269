"""The data a run uses is the data the user named, checked: corrupt packs beside older unpacked
copies, half-unpacked or foreign copies, a file given as the data folder, miscounted class
folders, and the tiny sample from an installed (not editable) package."""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from convnext_lesson.training import data
from convnext_lesson.training import download as dl

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "convnext_lesson" / "data_files" / "imagenette2-160-sq-q60-tiny.tar.gz"
SHA = data.DATASETS["imagenette-tiny"].packs[0].checksum
STEM = "imagenette2-160-sq-q60-tiny"


@pytest.fixture
def pack(tmp_path):
    """A good copy of the tiny pack alone in a folder: the data_dir a user names."""
    (tmp_path / "packs").mkdir()
    return Path(shutil.copy(TINY, tmp_path / "packs" / TINY.name))


def locate(pack, downloads):
    return data.locate("imagenette-tiny", data_dir=pack.parent, download_dir=downloads)


def test_corrupt_pack_is_refused_though_an_unpacked_copy_exists(pack, tmp_path):
    downloads = tmp_path / "dl"
    assert locate(pack, downloads).checksum == f"sha256:{SHA}"
    pack.write_bytes(TINY.read_bytes()[:100_000])  # an interrupted copy over the good one
    got = hashlib.sha256(pack.read_bytes()).hexdigest()
    with pytest.raises(data.DataError, match=re.escape(f"{pack} is corrupt or not the expected file: its SHA256 is "
                                                       f"{got}, expected {SHA}. Delete it and download (or copy) it")):
        locate(pack, downloads)


def test_unchanged_pack_is_hashed_once_and_a_changed_one_again(pack, tmp_path, monkeypatch):
    hashed = []
    digest = dl.file_digest
    monkeypatch.setattr(dl, "file_digest", lambda path, algorithm="md5": hashed.append(Path(path)) or
                        digest(path, algorithm))
    downloads = tmp_path / "dl"
    locate(pack, downloads)
    locate(pack, downloads)
    assert hashed == [pack]
    stamp = json.loads((downloads / STEM / "imagenette2-160.source.json").read_text(encoding="utf-8"))
    assert stamp["checksum"] == f"sha256:{SHA}" and stamp["size"] == TINY.stat().st_size
    st = pack.stat()
    os.utime(pack, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # copied again: checked again
    locate(pack, downloads)
    assert hashed == [pack, pack]


def test_half_unpacked_or_foreign_copy_is_unpacked_anew(pack, tmp_path):
    downloads = tmp_path / "dl"
    half = downloads / STEM / "imagenette2-160" / "train" / "n01440764"
    half.mkdir(parents=True)  # what an unpack without a temporary folder leaves when killed
    shutil.copy(TINY, half / "x.JPEG")
    leftover = downloads / STEM / ".imagenette2-160.extract-dead"  # a killed unpack's temporary folder
    leftover.mkdir()
    old = time.time() - 2 * 3600
    os.utime(leftover, (old, old))
    copy = locate(pack, downloads)
    assert (copy.train_images, copy.val_images) == (200, 200) and not (half / "x.JPEG").exists()
    assert not leftover.exists()
    stamp = downloads / STEM / "imagenette2-160.source.json"
    stamp.write_text(json.dumps({"checksum": "sha256:" + "0" * 64}), encoding="utf-8")  # a copy from another archive
    marker = copy.root / "marker"
    marker.write_text("from the other archive", encoding="utf-8")
    assert locate(pack, downloads).root == copy.root and not marker.exists()
    assert json.loads(stamp.read_text(encoding="utf-8"))["checksum"] == f"sha256:{SHA}"


def test_killed_unpack_leaves_nothing_that_passes_for_a_copy(pack, tmp_path):
    downloads = tmp_path / "dl"
    killed = f"""
import os, signal, tarfile
from convnext_lesson.training import data

def half_then_killed(self, path, *args, **kwargs):
    members = self.getmembers()
    for member in members[: len(members) // 2]:
        self.extract(member, path, filter="data")
    os.kill(os.getpid(), signal.SIGKILL)

tarfile.TarFile.extractall = half_then_killed
data.locate("imagenette-tiny", data_dir={str(pack.parent)!r}, download_dir={str(downloads)!r})
"""
    assert subprocess.run([sys.executable, "-c", killed], cwd=tmp_path).returncode == -signal.SIGKILL
    [leftover] = (downloads / STEM).iterdir()  # no copy, no stamp: only the hidden temporary folder
    assert leftover.name.startswith(".imagenette2-160.extract-") and any(leftover.rglob("*.JPEG"))
    old = time.time() - 2 * 3600
    os.utime(leftover, (old, old))
    copy = locate(pack, downloads)
    assert (copy.train_images, copy.val_images) == (200, 200) and not leftover.exists()
    assert sorted(p.name for p in (downloads / STEM).iterdir()) == ["imagenette2-160", "imagenette2-160.source.json"]


def test_copy_without_its_archive_is_recorded_as_checked_only_if_it_was(pack, tmp_path, monkeypatch):
    for name in ("PROJECT_DATA", "PACKAGE_DATA"):  # no other copy of the pack anywhere
        monkeypatch.setattr(data, name, tmp_path / "empty", raising=False)
    monkeypatch.delenv(data.ENV_DATA, raising=False)
    downloads = tmp_path / "dl"
    locate(pack, downloads)
    pack.unlink()
    copy = data.locate("imagenette-tiny", download_dir=downloads)
    assert (copy.origin, copy.checksum) == ("offline-pack", f"sha256:{SHA}")  # checked when it was unpacked
    (downloads / STEM / "imagenette2-160.source.json").unlink(missing_ok=True)  # unpacked by older code
    copy = data.locate("imagenette-tiny", download_dir=downloads)
    assert (copy.origin, copy.file, copy.checksum) == ("folder", None, None)


def test_a_file_is_not_a_data_folder(pack, monkeypatch):
    with pytest.raises(data.DataError, match=re.escape(
            f"data directory {pack} is a file, not a folder: give a folder that holds the unpacked dataset or its "
            f".tar.gz pack (for this pack: {pack.parent})")):
        data.locate("imagenette-tiny", data_dir=pack)
    monkeypatch.setenv(data.ENV_DATA, str(pack))
    with pytest.raises(data.DataError, match=re.escape(f"$CONVNEXT_LESSON_DATA points at {pack}, which is a file, "
                                                       "not a folder: give a folder")):
        data.locate("imagenette-tiny")


def test_miscounted_class_folders_are_named(tmp_path):
    with tarfile.open(TINY) as tar:
        tar.extractall(tmp_path, filter="data")  # keeps the pack's mtimes
    root = tmp_path / "imagenette2-160"
    extra = root / "train" / "n02102040" / "extra.JPEG"
    shutil.copy(next((root / "val" / "n02102040").iterdir()), extra)
    with pytest.raises(data.DataError, match=re.escape(
            f"holds 201 train / 200 val images, but imagenette-tiny has 200 / 200: an incomplete or different copy. "
            f"{root}/train/n02102040 holds 21 images, expected 20 (newer than the rest: extra.JPEG). Remove")):
        data.locate("imagenette-tiny", data_dir=tmp_path)
    extra.unlink()
    sorted((root / "val" / "n03000684").iterdir())[0].unlink()
    with pytest.raises(data.DataError, match=re.escape(f"{root}/val/n03000684 holds 19 images, expected 20. ")):
        data.locate("imagenette-tiny", data_dir=tmp_path)


def test_class_counts_add_up():
    for info in data.DATASETS.values():
        assert len(info.class_counts[0]) == info.num_classes and tuple(map(sum, info.class_counts)) == info.counts


def test_tiny_sample_works_from_an_installed_package(tmp_path):
    """A pip install has the package alone (no data/ beside it): the sample ships inside it."""
    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "convnext_lesson", site / "convnext_lesson",
                    ignore=shutil.ignore_patterns("__pycache__"))
    script = """
import json
from convnext_lesson.training import data
copy = data.locate("imagenette-tiny", progress=False)
try:
    data.locate("imagewoof-tiny")
except data.DataError as error:
    message = str(error)
print(json.dumps([data.__file__, str(data.PROJECT_DATA), copy.describe(), message]))
"""
    env = {k: v for k, v in os.environ.items() if k != data.ENV_DATA}
    env.update(PYTHONPATH=str(site), HOME=str(tmp_path / "home"))
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    where, project_data, copy, message = json.loads(out.stdout.splitlines()[-1])
    assert Path(where).is_relative_to(site) and project_data == "None"
    assert (copy["origin"], copy["checksum"], copy["train_images"]) == ("offline-pack", f"sha256:{SHA}", 200)
    assert Path(copy["root"]).is_relative_to(tmp_path / "home" / ".cache" / "convnext_lesson")
    assert "$CONVNEXT_LESSON_DATA" in message and "data_dir=" in message and "data/ folder" not in message
    assert str(site / "convnext_lesson" / "data_files") in message and str(site / "data") + "," not in message
