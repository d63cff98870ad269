"""Looking at the training recipe (notebook 02): augmentations, learning rate, drop path, short-run scaling.

Its augmentations on real images, its learning rate per iteration, its stochastic-depth rates,
its scaling to short runs.

Everything here calls the package's real training code (``recipes.train_transform``,
``recipes.BatchMixer``, ``recipes.make_optimizer``/``make_scheduler``), so the
pictures show what ``cl.train`` does, not a re-implementation of it.
"""
from __future__ import annotations

import torch
from torch import nn

from ..training.recipes import IMAGENET_MEAN, IMAGENET_STD, Recipe, make_optimizer, make_scheduler
from .pretrained import IMAGENETTE_CLASSES

def class_name(folder: str) -> str:
    """A readable class name for a dataset folder name (Imagenette's WordNet ids; others as they are)."""
    return IMAGENETTE_CLASSES.get(folder, folder)


def sample_images(dataset: str | None = None, n: int = 4, split: str = "train", size: int | None = None,
                  download: bool = True):
    """``n`` real images of ``n`` different classes (the first image of evenly spaced classes).

    ``dataset`` defaults to the current profile's; a missing copy is downloaded (checked, with a
    progress bar) as notebook 00 does, so that a fresh Colab runtime has it before ``cl.train``.
    Returns (list of RGB PIL images, list of class indices, list of class names, the ``DatasetCopy``).
    """
    from ..training.data import list_images, load_image, locate
    from ..training.profiles import get_profile

    copy = locate(dataset or get_profile().dataset, download_missing=download)
    samples = list_images(copy, split)
    n = max(1, min(n, len(copy.classes)))
    wanted = [round(i * (len(copy.classes) - 1) / max(n - 1, 1)) for i in range(n)]
    images, targets = [], []
    for cls in wanted:
        path = next(p for p, t in samples if t == cls)
        images.append(load_image(path, size))
        targets.append(cls)
    return images, targets, [class_name(copy.classes[t]) for t in targets], copy


def to_uint8(image) -> torch.Tensor:
    """A PIL image as a (3, H, W) uint8 tensor (what the preloaded training data holds)."""
    from torchvision.transforms import v2

    return v2.functional.pil_to_tensor(image) if not isinstance(image, torch.Tensor) else image


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """Undo ImageNet normalisation: (3, H, W) normalised -> (H, W, 3) in [0, 1], ready for ``imshow``."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (x.detach().float().cpu() * std + mean).clamp(0, 1).permute(1, 2, 0)


def augment(transform, image, seed: int) -> torch.Tensor:
    """One draw of a (random) transform, reproducible: the RNG is seeded as the training data's is."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return transform(image)


def show_grid(rows: dict, titles: list | None = None, size: float = 1.9):
    """A grid of normalised image tensors: one row per entry of ``rows`` ({row label: [tensors]}).

    ``titles``: one title per column (over the first row), or a list of such lists, one per row.
    """
    import matplotlib.pyplot as plt

    n_cols = max(len(v) for v in rows.values())
    per_row = bool(titles) and isinstance(titles[0], (list, tuple))
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(size * n_cols + 1.2, size * len(rows)), squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(images):
                ax.imshow(denormalize(images[c]).numpy())
            if c == 0:
                ax.set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center")
            row_titles = titles[r] if per_row else (titles if r == 0 else None)
            if row_titles and c < len(row_titles):
                ax.set_title(row_titles[c], fontsize=9)
    fig.tight_layout()
    return fig


def soft_label_text(target: torch.Tensor, names: list[str] | None = None, top: int = 2, sep: str = " + ") -> str:
    """The largest entries of a soft label as text, e.g. ``0.63 tench + 0.37 church``."""
    values, indices = target.topk(min(top, target.numel()))
    parts = [f"{v:.2f} {names[i] if names else i}" for v, i in zip(values.tolist(), indices.tolist()) if v > 0.005]
    return sep.join(parts)


def steps_per_epoch(profile=None, dataset: str | None = None) -> int:
    """Optimizer steps per epoch of a profile's run, as the trainer counts them (``engine.steps_per_epoch``)."""
    from ..training.datasets import get_dataset_info
    from ..training.engine import steps_per_epoch as count
    from ..training.profiles import get_profile

    prof = get_profile(profile)
    train_images = get_dataset_info(dataset or prof.dataset).counts[0]  # what every copy holds (data.check_layout)
    return count(train_images, prof.batch_size, prof.max_steps_per_epoch)


def lr_per_iteration(recipe: Recipe, total_steps: int) -> list[float]:
    """The learning rate of every iteration of a run, from the package's real optimizer and scheduler.

    Entry ``t`` is the rate the optimizer uses for iteration ``t`` (the scheduler steps after
    each iteration, as in training).
    """
    import warnings

    if total_steps < 1:
        raise ValueError(f"total_steps={total_steps} must be positive")
    optimizer = make_optimizer(nn.Linear(1, 1), recipe)
    scheduler = make_scheduler(optimizer, recipe, total_steps)
    rates = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()": no gradients here
        for _ in range(total_steps):
            rates.append(optimizer.param_groups[0]["lr"])
            scheduler.step()
    return rates


def drop_path_rates(model: nn.Module) -> list[float]:
    """The stochastic-depth (drop path) rate of every residual block, in order (0 where it is off)."""
    from torchvision.ops import StochasticDepth

    from ..model.layers import Block

    rates = []
    for module in model.modules():
        if isinstance(module, Block):
            rates.append(float(module.drop_path.p) if isinstance(module.drop_path, StochasticDepth) else 0.0)
    return rates


def parameter_kind(model: nn.Module, name: str) -> str:
    """What a parameter is, as ``<layer type>.<parameter>``: ``Conv2d.weight``, ``BatchNorm2d.bias``, ..."""
    owner, _, attr = name.rpartition(".")
    return f"{type(model.get_submodule(owner)).__name__}.{attr}"


def decay_split(model: nn.Module, recipe: Recipe) -> dict[str, list[str]]:
    """Names of the parameters with and without weight decay, as ``recipes.param_groups`` splits them."""
    from ..training.recipes import param_groups

    groups = param_groups(model, recipe.weight_decay, recipe.decay_norm_and_bias)
    names = {id(p): n for n, p in model.named_parameters()}
    split = {"decay": [], "no_decay": []}
    for group in groups:
        key = "decay" if group["weight_decay"] > 0 else "no_decay"
        split[key] += [names[id(p)] for p in group["params"]]
    return split
