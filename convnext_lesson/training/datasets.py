"""The course's datasets: what each one is (classes, image counts, archives, checksums), and a copy of one."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


class DataError(ValueError):
    """A dataset that is missing, incomplete or unreadable; the message says how to fix it."""


@dataclass(frozen=True)
class Archive:
    file: str
    algorithm: str  # "md5" or "sha256"
    checksum: str
    url: str | None = None  # None: not downloadable (an offline pack)
    note: str = ""


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    folder: str  # the top folder of the unpacked layout
    splits: tuple[str, str]  # (train, val) folder names
    num_classes: int
    counts: tuple[int, int] | None  # expected (train, val) images
    official: Archive | None
    packs: tuple[Archive, ...] = ()
    licence: str = ""
    extensions: tuple[str, ...] = IMAGE_EXTENSIONS
    class_counts: tuple[tuple[int, ...], tuple[int, ...]] | None = None  # (train, val) images per sorted class
    official_folder: str | None = None  # where the official archive unpacks, when not ``folder`` (CIFAR's pickles)
    class_names: tuple[str, ...] = ()  # for a copy without class folders (CIFAR's pickles)


# The official CIFAR-10 archive holds pickled arrays in this folder, not image files.
CIFAR_PICKLE_FOLDER = "cifar-10-batches-py"
_IMAGENET_TERMS = ("a subset of ImageNet: ImageNet's terms of access apply to the images (non-commercial research "
                   "and education); the fastai/imagenette repository is Apache-2.0")
# Imagewoof's MD5 is not published by fast.ai (its data/checks.txt holds the size, 92,612,825 bytes, and the MD5
# of the first MiB only); this full-file MD5 is the one catalyst's Imagewoof160 and other public code check.
_WOOF_NOTE = "MD5 from public code (catalyst-team/catalyst), not from fast.ai; fast.ai re-released these archives once"

DATASETS = {
    "imagenette": DatasetInfo(
        "imagenette", "Imagenette (10 easy ImageNet classes)", "imagenette2-160", ("train", "val"), 10, (9469, 3925),
        Archive("imagenette2-160.tgz", "md5", "e793b78cc4c9e9a4ccc0c1155377a412",
                "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz", "MD5 from torchvision's Imagenette"),
        (Archive("imagenette2-160-sq-q60-full.tar.gz", "sha256",
                 "5ead89323a2d4f62eb7f86565071e60b3dc24fc96873e26f72787a68c9c2d99a"),),
        _IMAGENET_TERMS, class_counts=((963, 955, 993, 858, 941, 956, 961, 931, 951, 960),
                                       (387, 395, 357, 386, 409, 394, 389, 419, 399, 390))),
    "imagenette-tiny": DatasetInfo(
        "imagenette-tiny", "Imagenette, tiny sample (20 images per class per split), shipped with the package",
        "imagenette2-160", ("train", "val"), 10, (200, 200), None,
        (Archive("imagenette2-160-sq-q60-tiny.tar.gz", "sha256",
                 "e9e02758335d0c107562e5ee6e730bba726160f8a51da1f579b01b2fc812544d"),),
        _IMAGENET_TERMS, class_counts=((20,) * 10, (20,) * 10)),
    "imagewoof": DatasetInfo(
        "imagewoof", "Imagewoof (10 dog breeds, hard)", "imagewoof2-160", ("train", "val"), 10, (9025, 3929),
        Archive("imagewoof2-160.tgz", "md5", "3d200a7be99704a0d7509be2a9fbfe15",
                "https://s3.amazonaws.com/fast-ai-imageclas/imagewoof2-160.tgz", _WOOF_NOTE),
        (Archive("imagewoof2-160-sq-q60-full.tar.gz", "sha256",
                 "392d70be4607eae9a617ee15a2338a8c9afedf165f434eaf6dc069723c38a3e7"),),
        _IMAGENET_TERMS, class_counts=((941, 942, 932, 580, 949, 943, 949, 928, 921, 940),
                                       (409, 408, 418, 224, 401, 407, 401, 422, 429, 410))),
    "imagewoof-tiny": DatasetInfo(
        "imagewoof-tiny", "Imagewoof, tiny sample (20 images per class per split)", "imagewoof2-160",
        ("train", "val"), 10, (200, 200), None,
        (Archive("imagewoof2-160-sq-q60-tiny.tar.gz", "sha256",
                 "32784a2c9b8cdaf61e01e5b5f35e03c165be6dfafdb6d51ccd18e89fb67e5045"),),
        _IMAGENET_TERMS, class_counts=((20,) * 10, (20,) * 10)),
    "cifar10": DatasetInfo(
        "cifar10", "CIFAR-10 (10 classes, 32x32)", "cifar10-jpg-q75", ("train", "test"), 10, (50000, 10000),
        Archive("cifar-10-python.tar.gz", "md5", "c58f30108f718f92721af3b95e74349a",
                "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "URL and MD5 from torchvision's CIFAR10"),
        (Archive("cifar10-jpg-q75-full.tar.gz", "sha256",
                 "30d0d1ac38df36fe1f4dee7eb69f56666610aef6fea7bbeecc2066476d08cc93"),),
        "CIFAR-10 (Krizhevsky, 2009): free to use, cite the tech report", extensions=(".jpg", ".png"),
        class_counts=((5000,) * 10, (1000,) * 10), official_folder=CIFAR_PICKLE_FOLDER,
        class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")),
}


@dataclass
class DatasetCopy:
    """One copy of a dataset on disk, and where it came from (for the results record)."""

    name: str
    root: Path  # the folder holding the split folders (or the CIFAR pickles)
    origin: str  # "folder" (found unpacked), "offline-pack" or "official" (the published archive)
    file: str | None = None  # the archive it came from
    checksum: str | None = None  # "sha256:..." or "md5:..."
    train_images: int = 0
    val_images: int = 0
    num_classes: int = 0
    classes: list = field(default_factory=list)

    def describe(self) -> dict:
        d = asdict(self)
        d["root"] = str(self.root)
        d.pop("classes")
        return d


def get_dataset_info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}")
    return DATASETS[name]
