"""Reading a copy's images: a reader per format, the datasets of a run, and the evaluation pipeline.

A copy (``data.locate``) is either image folders (``<split>/<class>/<image>``: Imagenette, Imagewoof, the packs)
or the official CIFAR-10 archive's pickled arrays; ``reader(copy)`` is the only place that tells them apart.
Both give the same things: every image of a split decoded into one uint8 tensor (``arrays``, for preloading), and
a dataset that decodes image by image (``dataset``).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import torch

from ..model.threads import one_thread
from .datasets import CIFAR_PICKLE_FOLDER, DATASETS, DataError, DatasetCopy

# -- image folders -------------------------------------------------------------------------------------------------

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


class FolderReader:
    """Image folders: files listed in sorted class order, decoded with PIL."""

    def __init__(self, copy: DatasetCopy):
        self.copy = copy

    def arrays(self, split: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        samples = list_images(self.copy, split)
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:  # PIL releases the GIL
            images = torch.stack(list(pool.map(lambda s: _decode_square(s[0], size), samples, chunksize=64)))
        return images, torch.tensor([t for _, t in samples], dtype=torch.int64)

    def dataset(self, split: str, transform, load_size: int) -> ImageDataset:
        return ImageDataset(transform, samples=list_images(self.copy, split), load_size=load_size)


# -- CIFAR-10's pickles ----------------------------------------------------------------------------------------------

class CifarReader:
    """The official CIFAR-10 archive: every split one array of 32 x 32 images, read by torchvision."""

    def __init__(self, copy: DatasetCopy):
        self.copy = copy

    def _native(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        from torchvision.datasets import CIFAR10

        ds = CIFAR10(str(self.copy.root.parent), train=split == "train", download=False)
        return torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(ds.targets)

    def arrays(self, split: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = self._native(split)
        if size != images.shape[-1]:
            images = torch.nn.functional.interpolate(images.float(), size=(size, size), mode="bilinear",
                                                     antialias=True).round().clamp(0, 255).to(torch.uint8)
        return images, labels

    def dataset(self, split: str, transform, load_size: int) -> ImageDataset:
        return ImageDataset(transform, *self._native(split))  # small images: held in memory as they are


def reader(copy: DatasetCopy) -> FolderReader | CifarReader:
    """The reader for ``copy``'s format."""
    return CifarReader(copy) if copy.root.name == CIFAR_PICKLE_FOLDER else FolderReader(copy)


# -- datasets --------------------------------------------------------------------------------------------------------

_PRELOADED: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def preload(copy: DatasetCopy, split: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image of a split decoded once into memory: (uint8 N x 3 x size x size, int64 labels).

    Decoding a JPEG costs more than a small network's step on a CPU (and Colab has two
    cores to feed a GPU), so images are decoded once and the tensors are augmented.
    Non-square images keep their central square. Kept per process, so many short runs
    (tests, a ladder) decode once.
    """
    key = (str(copy.root), split, size)
    if key not in _PRELOADED:
        if len(_PRELOADED) >= 4:  # bounded: a few datasets at a few sizes
            _PRELOADED.pop(next(iter(_PRELOADED)))
        _PRELOADED[key] = reader(copy).arrays(split, size)
    return _PRELOADED[key]


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
    if not preload_images:
        read = reader(copy)
        return (read.dataset("train", train_transform, load_size),
                read.dataset("val", eval_transform(image_size, load_size), load_size))
    check_memory_for_preload(copy, image_size)
    train = ImageDataset(train_transform, *preload(copy, "train", load_size))
    images, labels = preload(copy, "val", load_size)
    # already resized: eval_transform's own centre crop (the same pixels), done once for the whole split
    from torchvision.transforms.v2.functional import center_crop

    return train, ImageDataset(normalize_transform(), center_crop(images, [image_size]).contiguous(), labels)


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
