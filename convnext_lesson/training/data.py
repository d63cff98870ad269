"""Where a copy of a dataset is, how to get one, and how to read it (what each dataset is: ``datasets``).

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from ..model.counting import one_thread
from .datasets import CIFAR_PICKLE_FOLDER, DATASETS, Archive, DataError, DatasetCopy, DatasetInfo, get_dataset_info
from .download import DownloadError, download, extract, verify
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
        tmp = stamp_file.with_name(f".{stamp_file.name}.{os.getpid()}")
        tmp.write_text(json.dumps(seen), encoding="utf-8")
        os.replace(tmp, stamp_file)  # the stamp appears whole, after the copy it describes
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
        top = CIFAR_PICKLE_FOLDER if origin == "official" and name == "cifar10" else info.folder
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
        top = CIFAR_PICKLE_FOLDER if name == "cifar10" else info.folder
        root = _unpacked(archive, official, downloads / _stem(official.file), top)
        return _describe(info, root, "official", official.file, f"md5:{official.checksum}")
    looked = ", ".join(str(d) for d in places)
    raise DataError(f"{info.name} not found (looked in {looked}). To get it: " + _how_to_get(info))


def _describe(info, root, origin, file, checksum) -> DatasetCopy:
    if root.name == CIFAR_PICKLE_FOLDER:
        train, val = info.counts
        classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    else:
        train, val = check_layout(root, info)
        classes = sorted(e.name for e in os.scandir(root / info.splits[0]) if e.is_dir())
    return DatasetCopy(info.name, root, origin, file, checksum, train, val, info.num_classes, classes)


# ---------------------------------------------------------------------------------------------------------------
# Reading images


def list_images(copy: DatasetCopy, split: str) -> list[tuple[str, int]]:
    """(path, class index) of every image of a split, classes in sorted folder order."""
    info = DATASETS[copy.name]
    folder = copy.root / info.splits[0 if split == "train" else 1]
    out = []
    for target, cls in enumerate(copy.classes):
        for entry in sorted(os.scandir(folder / cls), key=lambda e: e.name):
            if entry.name.lower().endswith(info.extensions):
                out.append((entry.path, target))
    return out


def load_image(path: str, size: int | None = None):
    """An RGB PIL image; with ``size``, its shorter side resized to ``size`` (JPEG draft mode: fast)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if size is not None:
                im.draft("RGB", (size, size))  # let libjpeg decode at 1/2, 1/4 or 1/8 scale
            im = im.convert("RGB")
    except (OSError, UnidentifiedImageError, SyntaxError) as error:
        raise DataError(f"cannot read image {path} ({error}): the file is corrupt or not an image. Replace it, "
                        "or delete the unpacked dataset folder and unpack or download it again") from error
    if size is not None:
        w, h = im.size
        scale = size / min(w, h)
        im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR, reducing_gap=None)
    return im


def _decode_square(path: str, size: int) -> torch.Tensor:
    """Shorter side to ``size``, then the central ``size`` x ``size`` square, as uint8 (3, size, size)."""
    import numpy as np

    im = load_image(path, size)
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    im = im.crop((left, top, left + size, top + size))
    return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).contiguous()


_PRELOADED: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def preload(copy: DatasetCopy, split: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image of a split decoded once into memory: (uint8 N x 3 x size x size, int64 labels).

    Decoding a JPEG costs more than a small network's step on a CPU (and Colab has two
    cores to feed a GPU), so images are decoded once (threads: PIL releases the GIL)
    and the tensors are augmented. Non-square images keep their central square.
    Kept per process, so many short runs (tests, a ladder) decode once.
    """
    key = (str(copy.root), split, size)
    if key in _PRELOADED:
        return _PRELOADED[key]
    if copy.root.name == CIFAR_PICKLE_FOLDER:
        images, labels = _cifar_arrays(copy, split)
        if size != images.shape[-1]:
            images = torch.nn.functional.interpolate(images.float(), size=(size, size), mode="bilinear",
                                                     antialias=True).round().clamp(0, 255).to(torch.uint8)
    else:
        samples = list_images(copy, split)
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            images = torch.stack(list(pool.map(lambda s: _decode_square(s[0], size), samples, chunksize=64)))
        labels = torch.tensor([t for _, t in samples], dtype=torch.int64)
    if len(_PRELOADED) >= 4:  # bounded: a few datasets at a few sizes
        _PRELOADED.pop(next(iter(_PRELOADED)))
    _PRELOADED[key] = (images, labels)
    return images, labels


def _cifar_arrays(copy: DatasetCopy, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.datasets import CIFAR10

    ds = CIFAR10(str(copy.root.parent), train=split == "train", download=False)
    return torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(ds.targets)


class ImageDataset(torch.utils.data.Dataset):
    """Images with a transform; an item asked for as ``(index, seed)`` is augmented with that seed.

    Seeding each image's augmentation from (run seed, epoch, index) makes a run's data
    a pure function of its seed: the same on resume, with any number of workers.
    """

    def __init__(self, transform, images: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                 samples: list | None = None, load_size: int | None = None):
        self.transform, self.images, self.samples, self.load_size = transform, images, samples, load_size
        self.labels = labels if labels is not None else torch.tensor([t for _, t in samples])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, item):
        index, seed = item if isinstance(item, tuple) else (item, None)
        image = self.images[index] if self.images is not None else load_image(self.samples[index][0], self.load_size)
        # one thread: on a 64 px image, waking a second one costs more than the work (DataLoader workers have one)
        with one_thread(), torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.default_generator.manual_seed(seed)  # CPU only: torch.manual_seed costs 100x more
            return self.transform(image), self.labels[index]


def make_datasets(copy: DatasetCopy, image_size: int, train_transform, preload_images: bool):
    """(train, val) datasets: the training images through ``train_transform`` (the recipe's augmentation), the
    validation images through the paper's evaluation (``eval_transform``). Preloaded images are stored at the
    eval resize (image_size / 0.875)."""
    load_size = eval_resize(image_size)
    if preload_images:
        check_memory_for_preload(copy, image_size)
        train = ImageDataset(train_transform, *preload(copy, "train", load_size))
        images, labels = preload(copy, "val", load_size)
        # already resized: the eval transform's centre crop, done once
        top = (load_size - image_size) // 2
        crop = images[:, :, top:top + image_size, top:top + image_size].contiguous()
        val = ImageDataset(normalize_transform(), crop, labels)
    elif copy.root.name == CIFAR_PICKLE_FOLDER:
        train = ImageDataset(train_transform, *_cifar_arrays(copy, "train"))
        val = ImageDataset(eval_transform(image_size, load_size), *_cifar_arrays(copy, "val"))
    else:
        train = ImageDataset(train_transform, samples=list_images(copy, "train"), load_size=load_size)
        val = ImageDataset(eval_transform(image_size, load_size), samples=list_images(copy, "val"),
                           load_size=load_size)
    return train, val


def preload_bytes(copy: DatasetCopy, image_size: int) -> int:
    """Bytes that preloading ``copy`` takes at ``image_size``: every image as uint8 at the eval resize, and the
    validation images' centre crops."""
    load = eval_resize(image_size)
    return 3 * ((copy.train_images + copy.val_images) * load * load + copy.val_images * image_size * image_size)


def check_memory_for_preload(copy: DatasetCopy, image_size: int, available_mb: float | None = None) -> None:
    """Stop before preloading what the machine cannot hold (the operating system would kill the process, and on
    a laptop freeze the desktop first), with what to lower."""
    from .memory import available_mb as free_now

    free = free_now() if available_mb is None else available_mb
    need = preload_bytes(copy, image_size) / 2**20
    if free is not None and need > 0.8 * free:
        raise ValueError(f"image_size={image_size} needs about {need / 1024:,.1f} GB to hold {copy.name}'s "
                         f"{copy.train_images + copy.val_images:,} images in memory, and this machine has "
                         f"{free / 1024:,.1f} GB free; use a smaller image_size (the profiles use 32 to 160)")


# -- the evaluation pipeline: the same for every recipe, so it lives with the data ---------------------------------

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def eval_resize(image_size: int) -> int:
    """The paper's evaluation: resize to image_size / 0.875, then centre-crop image_size."""
    return int(round(image_size / 0.875))


def eval_transform(image_size: int, resize: int):
    """Resize the shorter side to ``resize`` (image_size / 0.875), centre-crop, normalise."""
    from torchvision.transforms import v2

    return v2.Compose([v2.ToImage(), v2.Resize(resize, antialias=True), v2.CenterCrop(image_size),
                       v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def normalize_transform():
    """To float and normalise only (images already cropped to size)."""
    from torchvision.transforms import v2

    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
