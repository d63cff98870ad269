"""Datasets: finding a copy, the download code (on archives the tests make), bad data."""
import hashlib
import io
import shutil
import tarfile
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import convnext_lesson as cl
from convnext_lesson.training import data
from convnext_lesson.training.download import DownloadError, download, extract

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "convnext_lesson" / "data_files" / "imagenette2-160-sq-q60-tiny.tar.gz"  # ships in the package


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """The shipped sample, unpacked: <tmp>/imagenette2-160/{train,val}/<wnid>/*.JPEG."""
    root = tmp_path_factory.mktemp("tiny")
    with tarfile.open(TINY) as tar:
        tar.extractall(root, filter="data")
    return root


def make_archive(path: Path, top: str = "imagenette2-160", classes: int = 10, per_class: int = 2) -> Path:
    """A small real .tar.gz in the Imagenette layout (JPEGs of solid colours)."""
    from PIL import Image

    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "val"):
            for c in range(classes):
                for i in range(per_class):
                    buf = io.BytesIO()
                    Image.new("RGB", (40, 40), (25 * c, 10 * i, 128)).save(buf, "JPEG")
                    info = tarfile.TarInfo(f"{top}/{split}/n{c:08d}/img{i}.JPEG")
                    info.size = len(buf.getvalue())
                    tar.addfile(info, io.BytesIO(buf.getvalue()))
    return path


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_shipped_sample_is_found_and_described():
    assert hashlib.sha256(TINY.read_bytes()).hexdigest() == data.DATASETS["imagenette-tiny"].packs[0].checksum
    copy = cl.locate_dataset("imagenette-tiny")
    assert (copy.origin, copy.file, copy.train_images, copy.val_images) == (
        "offline-pack", TINY.name, 200, 200)
    assert copy.checksum == "sha256:" + data.DATASETS["imagenette-tiny"].packs[0].checksum
    assert copy.classes[0] == "n01440764" and len(copy.classes) == 10


def test_unpacked_folder_is_used_as_is(tiny_folder):
    copy = data.locate("imagenette-tiny", data_dir=tiny_folder)
    assert copy.origin == "folder" and copy.root == tiny_folder / "imagenette2-160"
    assert data.locate("imagenette-tiny", data_dir=tiny_folder / "imagenette2-160").root == copy.root


def test_environment_variable_points_at_the_packs(tmp_path, monkeypatch):
    shutil.copy(TINY, tmp_path / TINY.name)
    monkeypatch.setenv("CONVNEXT_LESSON_DATA", str(tmp_path))
    copy = data.locate("imagenette-tiny", download_dir=tmp_path / "downloads")
    assert copy.origin == "offline-pack" and copy.root.is_relative_to(tmp_path / "downloads")
    monkeypatch.setenv("CONVNEXT_LESSON_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(data.DataError, match=r"\$CONVNEXT_LESSON_DATA points at .*nowhere, which does not exist"):
        data.locate("imagenette-tiny")


def test_missing_data_says_how_to_get_it(tmp_path):
    with pytest.raises(data.DataError, match="data directory .* does not exist"):
        data.locate("imagenette", data_dir=tmp_path / "missing")
    with pytest.raises(data.DataError, match=r"imagenette not found.*download=True.*imagenette2-160\.tgz.*"
                                             r"imagenette2-160-sq-q60-full\.tar\.gz"):
        data.locate("imagenette", data_dir=tmp_path)
    with pytest.raises(data.DataError, match="valid datasets: imagenette, imagenette-tiny, imagewoof, "
                                             "imagewoof-tiny, cifar10"):
        data.locate("mnist")


def test_wrong_layout_and_wrong_size_are_errors(tmp_path, tiny_folder):
    broken = tmp_path / "imagenette2-160"
    shutil.copytree(tiny_folder / "imagenette2-160" / "train", broken / "train")
    with pytest.raises(data.DataError, match=r"val is missing .*train\|val/<class>/<image>.*put an offline copy"):
        data.locate("imagenette-tiny", data_dir=tmp_path)
    shutil.rmtree(broken / "train" / "n01440764")
    shutil.copytree(tiny_folder / "imagenette2-160" / "val", broken / "val")
    with pytest.raises(data.DataError, match="9 class folders.*has 10 classes"):
        data.locate("imagenette-tiny", data_dir=tmp_path)
    with pytest.raises(data.DataError, match="holds 200 train / 200 val images.*9469 / 3925.*'imagenette-tiny'"):
        data.locate("imagenette", data_dir=tiny_folder)


def test_corrupt_image_is_a_clear_error(tmp_path, tiny_folder):
    shutil.copytree(tiny_folder / "imagenette2-160", tmp_path / "imagenette2-160")
    bad = sorted((tmp_path / "imagenette2-160" / "train" / "n03000684").iterdir())[3]
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    with pytest.raises(data.DataError, match=f"cannot read image {bad}.*corrupt"):
        cl.train(16, profile="smoke", data_dir=tmp_path, out_dir=tmp_path / "runs", progress=False, verbose=False)
    written = [p for p in (tmp_path / "runs").rglob("*") if p.is_file() and not p.name.endswith(".lock")]
    assert not written, "no checkpoint or record from a run that never started"  # the lock file stays, empty


def test_download_verifies_and_renames(tmp_path):
    archive = make_archive(tmp_path / "served.tgz")
    dest = tmp_path / "downloads" / "imagenette2-160.tgz"
    got = download(archive.as_uri(), dest, md5=md5(archive), size=archive.stat().st_size, progress=False)
    assert got == dest and dest.read_bytes() == archive.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no .part left
    root = extract(dest, tmp_path / "out", "imagenette2-160")
    assert len(list(root.rglob("*.JPEG"))) == 40 and [p.name for p in root.parent.iterdir()] == ["imagenette2-160"]


def test_corrupt_download_is_refused_and_removed(tmp_path):
    archive = make_archive(tmp_path / "served.tgz")
    good = md5(archive)
    blob = bytearray(archive.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    archive.write_bytes(bytes(blob))
    dest = tmp_path / "downloads" / "x.tgz"
    with pytest.raises(DownloadError, match=f"corrupt or not the expected file: its MD5 is .*expected {good}"):
        download(archive.as_uri(), dest, md5=good, progress=False)
    assert not dest.exists() and not dest.with_name("x.tgz.part").exists()


def test_truncated_archive_is_refused_everywhere(tmp_path):
    archive = make_archive(tmp_path / "served.tgz")
    good_md5, size = md5(archive), archive.stat().st_size
    truncated = tmp_path / "truncated.tgz"
    truncated.write_bytes(archive.read_bytes()[: size // 2])
    with pytest.raises(DownloadError, match=f"has {size // 2} bytes, expected {size}: it is truncated"):
        download(truncated.as_uri(), tmp_path / "a" / "x.tgz", md5=good_md5, size=size, progress=False)
    with pytest.raises(DownloadError, match="is corrupt or truncated"):  # an offline copy without a checksum
        extract(truncated, tmp_path / "out", "imagenette2-160")
    assert list((tmp_path / "out").iterdir()) == []  # no half-unpacked folder, no hidden temporary
    with pytest.raises(DownloadError, match="does not hold a folder 'imagewoof2-160'"):
        extract(archive, tmp_path / "out", "imagewoof2-160")
    assert list((tmp_path / "out").iterdir()) == []


class FlakyServer:
    """urlopen stand-in: the first response breaks off half-way; the next honours a Range request."""

    def __init__(self, blob: bytes):
        self.blob, self.calls = blob, []

    def __call__(self, request, timeout=None):
        rng = request.get_header("Range")
        self.calls.append(rng)
        start = int(rng.split("=")[1].rstrip("-")) if rng else 0
        body = self.blob[start:] if len(self.calls) > 1 else self.blob[: len(self.blob) // 2]
        response = urllib.request.addinfourl(io.BytesIO(body), {"Content-Length": str(len(self.blob) - start)},
                                             request.full_url, 206 if rng else 200)
        return response


def test_broken_download_resumes(tmp_path):
    blob = make_archive(tmp_path / "served.tgz").read_bytes()
    server, dest = FlakyServer(blob), tmp_path / "dl" / "imagenette2-160.tgz"
    url = "https://example.invalid/imagenette2-160.tgz"
    with pytest.raises(DownloadError, match="incomplete.*run again to resume"):
        download(url, dest, md5=hashlib.md5(blob).hexdigest(), progress=False, opener=server)
    assert not dest.exists() and dest.with_name(dest.name + ".part").stat().st_size == len(blob) // 2
    download(url, dest, md5=hashlib.md5(blob).hexdigest(), progress=False, opener=server)
    assert dest.read_bytes() == blob and server.calls == [None, f"bytes={len(blob) // 2}-"]


def test_locate_downloads_the_official_archive(tmp_path, monkeypatch):
    """The whole online path (download, check, unpack, describe) with a file:// URL: no network."""
    archive = make_archive(tmp_path / "served.tgz")
    info = data.DATASETS["imagenette"]
    official = replace(info.official, url=archive.as_uri(), checksum=md5(archive))
    monkeypatch.setitem(data.DATASETS, "imagenette", replace(info, official=official, counts=(20, 20)))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(data.DataError, match="not found"):
        data.locate("imagenette", data_dir=empty, download_dir=tmp_path / "dl")
    copy = data.locate("imagenette", data_dir=empty, download_missing=True, download_dir=tmp_path / "dl",
                       progress=False)
    assert (copy.origin, copy.file, copy.checksum) == ("official", "imagenette2-160.tgz", f"md5:{md5(archive)}")
    assert (copy.train_images, copy.val_images) == (20, 20)
    assert (tmp_path / "dl" / "imagenette2-160.tgz").exists()
    images, labels = data.preload(copy, "val", 36)
    assert images.shape == (20, 3, 36, 36) and images.dtype == torch.uint8 and labels.tolist()[:3] == [0, 0, 1]


def test_corrupt_offline_pack_is_a_clear_error(tmp_path):
    pack = tmp_path / TINY.name
    pack.write_bytes(TINY.read_bytes()[:100_000])
    with pytest.raises(data.DataError, match="corrupt or not the expected file: its SHA256"):
        data.locate("imagenette-tiny", data_dir=tmp_path, download_dir=tmp_path / "dl")
    assert not (tmp_path / "dl").exists() or not any((tmp_path / "dl").rglob("*.JPEG"))


@pytest.mark.parametrize("image_size", [32, 64, 160])
def test_preloaded_validation_images_are_cropped_as_the_eval_transform_crops(image_size):
    """Preloading crops the validation split once; the pixels are those eval_transform gives image by image (an odd
    margin, 183 -> 160, is where a hand-written crop once took another row)."""
    from convnext_lesson.training import images

    copy = data.locate("imagenette-tiny")
    preloaded = images.make_datasets(copy, image_size, None, preload_images=True)[1]
    lazy = images.make_datasets(copy, image_size, None, preload_images=False)[1]
    for i in (0, 7):
        assert preloaded[i][0].shape == (3, image_size, image_size)
        # the same crop of the same resized image: equal up to JPEG draft decoding, which both paths share
        assert torch.allclose(preloaded[i][0], lazy[i][0], atol=1e-5)
