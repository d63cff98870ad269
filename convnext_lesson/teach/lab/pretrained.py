"""Notebook 10's toolbox for published weights: can they be had here, and which ImageNet class is which.

- ``weights_available``: can torchvision's ImageNet weights be had here (cached, or a quick
  connection test)? Never under the ``smoke`` profile, so tests and CI never download.
- ``imagenette_to_imagenet``: Imagenette's ten classes are ImageNet classes; their WordNet ids
  map to indices of the 1000 ImageNet outputs through the class names in torchvision's
  weights metadata (``weights.meta["categories"]``, which lists names, not WordNet ids).
- ``photo_grid`` and ``plot_finetune``: the notebook's two pictures.

The rest of what the notebook uses lives where it belongs and is gathered here under one name:
the timm and Hugging Face layouts (``model.weights``), the new head (``model.network.replace_head``)
and fine-tuning (``train.finetune``).
"""
from __future__ import annotations

import socket
import threading
from pathlib import Path

import torch

from ...model.counting import trainable_params  # noqa: F401 (gathered for notebook 10)
from ...model.network import replace_head  # noqa: F401
from ...model.weights import (LAYOUTS, layout_table, load_hf_weights, load_layout_weights,  # noqa: F401
                             load_timm_weights, official_to, official_to_hf_key, official_to_timm_key,
                             to_hf_state_dict, to_layout_state_dict, to_timm_state_dict)
from ...training.finetune import FinetuneResult, finetune, finetune_size  # noqa: F401
from ...training.profiles import get_profile

# Imagenette's classes: WordNet id -> ImageNet class name (fastai/imagenette README; also the PROVENANCE.txt of
# the shipped sample). The names are spelled as in torchvision's ImageNet category list.
IMAGENETTE_CLASSES = {
    "n01440764": "tench", "n02102040": "English springer", "n02979186": "cassette player",
    "n03000684": "chain saw", "n03028079": "church", "n03394916": "French horn", "n03417042": "garbage truck",
    "n03425413": "gas pump", "n03445777": "golf ball", "n03888257": "parachute",
}
# Imagewoof's ten dog breeds (fastai/imagenette README), for completeness.
IMAGEWOOF_CLASSES = {
    "n02086240": "Shih-Tzu", "n02087394": "Rhodesian ridgeback", "n02088364": "beagle",
    "n02089973": "English foxhound", "n02093754": "Border terrier", "n02096294": "Australian terrier",
    "n02099601": "golden retriever", "n02105641": "Old English sheepdog", "n02111889": "Samoyed",
    "n02115641": "dingo",
}
DOWNLOAD_HOST = "download.pytorch.org"


# ---------------------------------------------------------------------------------------------------------------
# Getting the weights


def is_online(host: str = DOWNLOAD_HOST, port: int = 443, timeout: float = 2.0) -> bool:
    """Can a TCP connection to ``host`` be opened within ``timeout`` seconds (name lookup included)?"""
    opened = []

    def probe():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                opened.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)  # a hanging name lookup cannot hold us longer
    thread.start()
    thread.join(timeout + 0.5)
    return bool(opened)


def cached_weights_file(weights) -> Path:
    """Where ``torch.hub`` keeps a torchvision weights file once downloaded."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


def weights_available(weights, profile: str | None = None) -> tuple[bool, str]:
    """(can we use these torchvision weights here, why). Never under ``smoke``: tests never download."""
    name = get_profile(profile).name
    if name == "smoke":
        return False, "the smoke profile never downloads (tests and CI run offline)"
    if cached_weights_file(weights).is_file():
        return True, "found in the torch hub cache"
    if is_online():
        return True, f"online ({DOWNLOAD_HOST} answered): downloading once into the torch hub cache"
    return False, f"offline: no connection to {DOWNLOAD_HOST} within 2 s, and no cached copy"


# ---------------------------------------------------------------------------------------------------------------
# ImageNet classes


def imagenette_to_imagenet(wnids, categories) -> list[int]:
    """ImageNet output index of each Imagenette/Imagewoof WordNet id, found by class name in ``categories``
    (torchvision's ``weights.meta["categories"]``, the 1000 names in output order)."""
    known = {**IMAGENETTE_CLASSES, **IMAGEWOOF_CLASSES}
    indices = []
    for wnid in wnids:
        if wnid not in known:
            raise ValueError(f"unknown WordNet id {wnid!r}: only Imagenette's and Imagewoof's classes are listed "
                             f"({', '.join(sorted(known))})")
        found = [i for i, name in enumerate(categories) if name == known[wnid]]
        if len(found) != 1:
            raise ValueError(f"{wnid} ({known[wnid]!r}) appears {len(found)} times in the category list; "
                             "expected exactly once")
        indices.append(found[0])
    return indices


# ---------------------------------------------------------------------------------------------------------------
# Pictures


def photo_grid(images, titles, colors=None, heading: str = "", columns: int = 5):
    """A grid of photographs (PIL images or HxWx3 arrays), one title each; show it with ``notebook.show_photos``."""
    import matplotlib.pyplot as plt

    if len(titles) != len(images):
        raise ValueError(f"{len(images)} images but {len(titles)} titles")
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.5 * rows), squeeze=False, layout="constrained")
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(images):
            ax.imshow(images[k])
            ax.set_title(titles[k], fontsize=7, color=colors[k] if colors else "black")
    if heading:
        fig.suptitle(heading, fontsize=9)
    return fig


def plot_finetune(runs: dict):
    """Validation top-1 per epoch of fine-tuning runs (``{label: FinetuneResult}``), epoch 0 before training."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for label, result in runs.items():
        ax.plot([m["epoch"] for m in result.history], [m["val_top1"] for m in result.history], "o-", label=label)
    first = next(iter(runs.values()))
    ax.set(xlabel="epoch (0: before training)", ylabel="val top-1 (%)",
           title=f"fine-tuning ConvNeXt-T: {first.size.dataset}, {first.size.image_size} px, profile {first.profile}")
    ax.set_xticks([m["epoch"] for m in first.history])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
