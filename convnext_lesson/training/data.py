"""Where a copy of a dataset is and how to get one (what each dataset is: ``datasets``; reading it: ``images``).

Three ways to a dataset, tried in this order:

1. a folder already unpacked, ``<dir>/imagenette2-160/{train,val}/<class>/*.JPEG``;
2. an archive in ``<dir>``: an offline pack (``imagenette2-160-sq-q60-full.tar.gz``,
   checked against its SHA256) or the official archive (``imagenette2-160.tgz``,
   checked against its MD5), unpacked once into the downloads folder; the archive is
   checked every time it is found (hashed again only when its size or mtime changed);
3. with ``download=True``, the official archive from the internet.

``<dir>`` is ``data_dir`` when given, else ``$CONVNEXT_LESSON_DATA``, the project's
``data/`` folder (in a source checkout), the package's ``data_files/`` (the tiny
sample ships there) and the downloads folder. Every run records which copy it used.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .datasets import DATASETS, Archive, DataError, DatasetCopy, DatasetInfo, get_dataset_info
from .download import DownloadError, download, extract, verify
from .files import atomic_write_text
from .paths import PACKAGE_DATA, PROJECT_DATA

ENV_DATA = "CONVNEXT_LESSON_DATA"


def default_download_dir() -> Path:
    """``data/downloads`` of the project (git-ignored) when writable, else ``~/.cache/convnext_lesson``."""
    if PROJECT_DATA is not None and PROJECT_DATA.is_dir() and os.access(PROJECT_DATA, os.W_OK):
        return PROJECT_DATA / "downloads"
    return Path.home() / ".cache" / "convnext_lesson"


def _folder(path, said: str) -> Path:
    """``path`` if it is a folder; ``said`` starts the error message ("data directory X")."""
    path = Path(path).expanduser()
    valid = "give a folder that holds the unpacked dataset or its .tar.gz pack"
    if path.is_file():
        hint = f" (for this pack: {path.parent})" if path.name.endswith((".tar.gz", ".tgz")) else ""
        raise DataError(f"{said} is a file, not a folder: {valid}{hint}")
    if not path.is_dir():
        raise DataError(f"{said} does not exist: {valid}")
    return path


def _search_dirs(data_dir) -> list[Path]:
    if data_dir is not None:
        return [_folder(data_dir, f"data directory {Path(data_dir).expanduser()}")]
    dirs = []
    if os.environ.get(ENV_DATA):
        path = Path(os.environ[ENV_DATA]).expanduser()
        dirs.append(_folder(path, f"${ENV_DATA} points at {path}, which"))
    return dirs + ([PROJECT_DATA] if PROJECT_DATA is not None else []) + [PACKAGE_DATA]


def _how_to_get(info: DatasetInfo) -> str:
    ways = []
    if info.official and info.official.url:
        ways.append(f"download it with download=True (command line: --download), {info.official.file} from "
                    f"{info.official.url}")
    packs = " or ".join(p.file for p in info.packs)
    places = f"into the folder ${ENV_DATA} names, or into a folder you pass as data_dir= (command line: --data-dir)"
    if PROJECT_DATA is not None:  # a source checkout
        places += f", or into the project's data/ folder ({PROJECT_DATA})"
    ways.append(f"put an offline copy ({packs}, or the unpacked folder {info.folder}/ with "
                f"{'/ and '.join(info.splits)}/ inside, one sub-folder per class) {places}")
    return "; or ".join(ways)


def _count_images(split_dir: Path, extensions) -> tuple[int, int]:
    classes = [d for d in os.scandir(split_dir) if d.is_dir()]
    n = sum(1 for c in classes for f in os.scandir(c.path) if f.name.lower().endswith(extensions))
    return len(classes), n


def check_layout(root: Path, info: DatasetInfo) -> tuple[int, int]:
    """Raise ``DataError`` unless ``root`` has ``<split>/<class>/<image>`` for both splits; returns the counts."""
    counts = []
    for split in info.splits:
        split_dir = root / split
        if not split_dir.is_dir():
            raise DataError(f"{root} does not have the layout of {info.name}: {split_dir} is missing (expected "
                            f"{root}/{'|'.join(info.splits)}/<class>/<image>). To get {info.name}: "
                            + _how_to_get(info))
        n_classes, n = _count_images(split_dir, info.extensions)
        if n_classes != info.num_classes or n == 0:
            raise DataError(f"{split_dir} has {n_classes} class folders and {n} images; {info.name} has "
                            f"{info.num_classes} classes. To get {info.name}: " + _how_to_get(info))
        counts.append(n)
    if info.counts and tuple(counts) != info.counts:
        smaller = [d.name for d in DATASETS.values() if d.folder == info.folder and d.counts == tuple(counts)]
        if smaller:
            hint = f" This is the dataset {smaller[0]!r}; ask for that name."
        else:
            hint = _class_differences(root, info)
        raise DataError(f"{root} holds {counts[0]} {info.splits[0]} / {counts[1]} {info.splits[1]} images, but "
                        f"{info.name} has {info.counts[0]} / {info.counts[1]}: an incomplete or different copy."
                        + hint)
    return counts[0], counts[1]


def _class_differences(root: Path, info: DatasetInfo, shown: int = 3) -> str:
    """The class folders (first few) whose image counts differ from the dataset's, so one can fix them."""
    if not info.class_counts or tuple(map(sum, info.class_counts)) != info.counts:
        return ""
    found = []
    for split, expected in zip(info.splits, info.class_counts):
        classes = sorted(e.name for e in os.scandir(root / split) if e.is_dir())
        for cls, want in zip(classes, expected):
            images = [e for e in os.scandir(root / split / cls) if e.name.lower().endswith(info.extensions)]
            if len(images) == want:
                continue
            text = f"{root / split / cls} holds {len(images)} images, expected {want}"
            extra = len(images) - want
            if 0 < extra <= shown:  # files newer than all the others there were most likely added by hand
                images.sort(key=lambda e: e.stat().st_mtime, reverse=True)
                if images[extra - 1].stat().st_mtime > images[extra].stat().st_mtime:
                    text += " (newer than the rest: " + ", ".join(e.name for e in images[:extra]) + ")"
            found.append(text)
    more = f"; and {len(found) - shown} more" if len(found) > shown else ""
    return (" " + "; ".join(found[:shown]) + more + ". Remove the extra images or restore the missing ones, or "
            "delete the folder and unpack or download the dataset again.") if found else ""


def _stem(file: str) -> str:
    return file.removesuffix(".tar.gz").removesuffix(".tgz")


def _read_stamp(path: Path) -> dict:
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) else {}


def _unpacked(archive: Path, expected: Archive, parent: Path, top: str) -> Path:
    """``parent/top`` unpacked from ``archive``, which is checked against ``expected`` first.

    A stamp next to the copy, ``<top>.source.json``, records the checksum of the archive
    it came from and the path, size and mtime of the archive last checked: an unchanged
    archive is not hashed again, and a copy from another archive (or one without a
    stamp: unpacked by older code, or the unpack was killed) is unpacked anew.
    """
    checksum = f"{expected.algorithm}:{expected.checksum}"
    target, stamp_file = parent / top, parent / f"{top}.source.json"
    stamp = _read_stamp(stamp_file)
    st = archive.stat()
    seen = {"checksum": checksum, "archive": str(archive.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    try:
        if stamp != seen:  # an archive not checked before, or changed since: hash it
            verify(archive, **{expected.algorithm: expected.checksum})
        if stamp.get("checksum") != checksum or not target.is_dir():
            stamp_file.unlink(missing_ok=True)  # no stamp while the copy changes
            extract(archive, parent, top, replace=True)
            stamp = {}
    except DownloadError as error:
        raise DataError(str(error)) from error
    if stamp != seen:
        atomic_write_text(stamp_file, json.dumps(seen))  # the stamp appears whole, after the copy it describes
    return target


def locate(name: str, data_dir=None, download_missing: bool = False, download_dir=None,
           progress: bool = True) -> DatasetCopy:
    """Find (or unpack, or download) a dataset; see the module docstring for the order.

    With an explicit ``data_dir`` only that folder is searched (archives found there
    still unpack into the downloads folder, as ``data_dir`` may be read-only). An
    archive that is found is always the one used: a corrupt one is an error, even
    when a copy unpacked earlier exists.
    """
    info = get_dataset_info(name)
    downloads = Path(download_dir) if download_dir else default_download_dir()
    dirs = _search_dirs(data_dir)
    problem = None
    for d in dirs:  # 1. an unpacked folder
        for root in (d / info.folder, d):
            if root.is_dir() and (root / info.splits[0]).is_dir():
                try:
                    return _describe(info, root, "folder", None, None)
                except DataError as error:  # e.g. the tiny sample where the full set was asked for
                    problem = problem or error
    places = dirs if data_dir is not None else dirs + [downloads]
    archives = [(a, "offline-pack") for a in info.packs] + ([(info.official, "official")] if info.official else [])
    for expected, origin in archives:  # 2. an archive, or one unpacked before
        top = info.official_folder or info.folder if origin == "official" else info.folder
        parent = downloads / _stem(expected.file)
        checksum = f"{expected.algorithm}:{expected.checksum}"
        archive = next((d / expected.file for d in places if (d / expected.file).is_file()), None)
        if archive is not None:
            return _describe(info, _unpacked(archive, expected, parent, top), origin, expected.file, checksum)
        if data_dir is None and (parent / top).is_dir():  # unpacked before, the archive deleted since
            if _read_stamp(parent / f"{top}.source.json").get("checksum") == checksum:
                return _describe(info, parent / top, origin, expected.file, checksum)
            return _describe(info, parent / top, "folder", None, None)  # from an archive never checked
    if problem is not None:
        raise problem
    if download_missing and info.official and info.official.url:  # 3. the internet
        official = info.official
        archive = download(official.url, downloads / official.file, md5=official.checksum, progress=progress)
        top = info.official_folder or info.folder
        root = _unpacked(archive, official, downloads / _stem(official.file), top)
        return _describe(info, root, "official", official.file, f"md5:{official.checksum}")
    looked = ", ".join(str(d) for d in places)
    raise DataError(f"{info.name} not found (looked in {looked}). To get it: " + _how_to_get(info))


def _describe(info, root, origin, file, checksum) -> DatasetCopy:
    if root.name == info.official_folder:  # arrays, not class folders: the published counts and names
        train, val = info.counts
        classes = list(info.class_names)
    else:
        train, val = check_layout(root, info)
        classes = sorted(e.name for e in os.scandir(root / info.splits[0]) if e.is_dir())
    return DatasetCopy(info.name, root, origin, file, checksum, train, val, info.num_classes, classes)


# the readers, for the notebooks and older code that read them from here
from .images import (IMAGENET_MEAN, IMAGENET_STD, ImageDataset, check_memory_for_preload,  # noqa: E402,F401
                     eval_resize, eval_transform, list_images, load_image, make_datasets, normalize_transform,
                     preload, preload_bytes)
