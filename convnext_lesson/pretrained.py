"""Pretrained ConvNeXt-T: published weights, ImageNet classes for Imagenette, other layouts, fine-tuning.

- ``weights_available``: can torchvision's ImageNet weights be had here (cached, or a quick
  connection test)? Never under the ``smoke`` profile, so tests and CI never download.
- ``imagenette_to_imagenet``: Imagenette's ten classes are ImageNet classes; their WordNet ids
  map to indices of the 1000 ImageNet outputs through the class names in torchvision's
  weights metadata (``weights.meta["categories"]``, which lists names, not WordNet ids).
- Weight layouts of timm (``to_timm_state_dict``, ``load_timm_weights``) and Hugging Face
  ``ConvNextForImageClassification`` (``to_hf_state_dict``, ``load_hf_weights``), both via the
  official facebookresearch/ConvNeXt layout of ``weights.py``. The names follow
  ``timm/models/convnext.py`` (``ConvNeXt``, and its ``checkpoint_filter_fn`` that renames
  official checkpoints) and ``transformers/models/convnext/modeling_convnext.py``. In all
  three layouts the 1x1 convs are ``Linear`` weights (out, in) and the layer scale is a
  vector (C,), so porting between them only renames.
- ``replace_head`` and ``finetune``: a new classifier for a new dataset, and a short,
  profile-sized fine-tuning loop (written out plainly: the point is to read it).
"""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .weights import (describe_mismatch, load_official_weights, rename, to_official_state_dict,
                      to_torchvision_state_dict)

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
    from .profiles import get_profile

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
# Layouts: official -> timm, official -> Hugging Face (key renames; shapes are the same)

_OFFICIAL_TO_TIMM = [
    (r"^downsample_layers\.0\.(\d)\.", r"stem.\1."),
    (r"^downsample_layers\.(\d+)\.(\d)\.", r"stages.\1.downsample.\2."),
    (r"^stages\.(\d+)\.(\d+)\.dwconv\.", r"stages.\1.blocks.\2.conv_dw."),
    (r"^stages\.(\d+)\.(\d+)\.norm\.", r"stages.\1.blocks.\2.norm."),
    (r"^stages\.(\d+)\.(\d+)\.pwconv(\d)\.", r"stages.\1.blocks.\2.mlp.fc\3."),
    (r"^stages\.(\d+)\.(\d+)\.gamma$", r"stages.\1.blocks.\2.gamma"),
    (r"^norm\.", "head.norm."),
    (r"^head\.", "head.fc."),
]

_OFFICIAL_TO_HF = [
    (r"^downsample_layers\.0\.0\.", "convnext.embeddings.patch_embeddings."),
    (r"^downsample_layers\.0\.1\.", "convnext.embeddings.layernorm."),
    (r"^downsample_layers\.(\d+)\.(\d)\.", r"convnext.encoder.stages.\1.downsampling_layer.\2."),
    (r"^stages\.(\d+)\.(\d+)\.dwconv\.", r"convnext.encoder.stages.\1.layers.\2.dwconv."),
    (r"^stages\.(\d+)\.(\d+)\.norm\.", r"convnext.encoder.stages.\1.layers.\2.layernorm."),
    (r"^stages\.(\d+)\.(\d+)\.pwconv(\d)\.", r"convnext.encoder.stages.\1.layers.\2.pwconv\3."),
    (r"^stages\.(\d+)\.(\d+)\.gamma$", r"convnext.encoder.stages.\1.layers.\2.layer_scale_parameter"),
    (r"^norm\.", "convnext.layernorm."),
    (r"^head\.", "classifier."),
]

LAYOUTS = {"timm": _OFFICIAL_TO_TIMM, "hf": _OFFICIAL_TO_HF}


def official_to(layout: str, key: str) -> str:
    """The name of an official-layout tensor in ``layout`` ("timm" or "hf")."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    new = rename(LAYOUTS[layout], key)
    if new is None:
        raise ValueError(f"{key!r} is not a tensor name of the official ConvNeXt layout")
    return new


def official_to_timm_key(key: str) -> str:
    return official_to("timm", key)


def official_to_hf_key(key: str) -> str:
    return official_to("hf", key)


def to_layout_state_dict(model: nn.Module, layout: str) -> dict[str, torch.Tensor]:
    """Our ConvNeXt's weights in the timm or Hugging Face layout."""
    return {official_to(layout, k): v for k, v in to_official_state_dict(model).items()}


def load_layout_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor], layout: str) -> nn.Module:
    """Load a timm or Hugging Face ConvNeXt state dict into our network (in place); a clear error if it does not fit."""
    wanted = {official_to(layout, k): k for k in to_official_state_dict(model)}
    missing = sorted(set(wanted) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(wanted))
    if missing or unexpected:
        raise ValueError(f"these weights are not a {layout} ConvNeXt state dict for this network (depths "
                         f"{model.config.depths}, widths {model.config.widths}, {model.num_classes} classes): "
                         + describe_mismatch(missing, unexpected))
    return load_official_weights(model, {official: state_dict[theirs] for theirs, official in wanted.items()})


def to_timm_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Loads into timm's ``convnext_tiny`` (``timm.create_model("convnext_tiny").load_state_dict``)."""
    return to_layout_state_dict(model, "timm")


def load_timm_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    return load_layout_weights(model, state_dict, "timm")


def to_hf_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Loads into Hugging Face's ``ConvNextForImageClassification`` (with a matching ``ConvNextConfig``)."""
    return to_layout_state_dict(model, "hf")


def load_hf_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    return load_layout_weights(model, state_dict, "hf")


def layout_table(model: nn.Module) -> list[dict[str, tuple[str, tuple]]]:
    """One row per tensor: its (name, shape) in our layout, torchvision's, the official one, timm's and HF's."""
    ours = model.state_dict()
    tv, official = to_torchvision_state_dict(model), to_official_state_dict(model)
    rows = []
    for k, tk, ok in zip(ours, tv, official):  # all three keep the order of our state dict
        rows.append({"ours": (k, tuple(ours[k].shape)), "torchvision": (tk, tuple(tv[tk].shape)),
                     "official": (ok, tuple(official[ok].shape)),
                     "timm": (official_to("timm", ok), tuple(official[ok].shape)),
                     "hf": (official_to("hf", ok), tuple(official[ok].shape))})
    return rows


# ---------------------------------------------------------------------------------------------------------------
# A new head, and fine-tuning


def replace_head(model: nn.Module, num_classes: int, rows=None) -> nn.Module:
    """Give ``model`` a new ``num_classes``-way classifier (in place). With ``rows`` (indices of the old
    classifier's outputs, one per new class) the new classifier starts as those rows of the old one:
    for classes the old head already knew, a working classifier before any training."""
    old = model.head.fc
    new = nn.Linear(old.in_features, num_classes).to(old.weight.device)
    with torch.no_grad():
        if rows is not None:
            rows = list(rows)
            if len(rows) != num_classes:
                raise ValueError(f"rows has {len(rows)} entries; one per new class ({num_classes}) is needed")
            new.weight.copy_(old.weight[rows])
            new.bias.copy_(old.bias[rows])
        else:
            nn.init.trunc_normal_(new.weight, std=0.02)
            nn.init.zeros_(new.bias)
    model.head.fc = new
    model.num_classes = num_classes
    return model


def trainable_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass(frozen=True)
class FinetuneSize:
    dataset: str
    image_size: int
    epochs: int
    batch_size: int
    max_steps_per_epoch: int | None  # None: whole epochs
    val_images: int | None  # None: the whole validation split
    lr: float = 1e-4  # backbone; the new head learns 10x faster
    weight_decay: float = 0.05


# Fine-tuning the full-size ConvNeXt-T, per profile. smoke: seconds at 32 px (proves the code runs, nothing
# more). cpu, colab, full: sized by estimate, not yet measured on an idle laptop, a T4 or an A100/H100 (cpu:
# 40 steps of 32 images at 64 px, meant to take minutes; an optimizer step of the full network is slow on a CPU).
FINETUNE_SIZES = {
    "smoke": FinetuneSize("imagenette-tiny", 32, 1, 16, 3, 64),
    "cpu": FinetuneSize("imagenette", 64, 1, 32, 40, 500),
    "colab": FinetuneSize("imagenette", 160, 2, 64, None, None),
    "full": FinetuneSize("imagenette", 224, 3, 128, None, None),
}


@dataclass
class FinetuneResult:
    history: list[dict]  # epoch 0: before training
    size: FinetuneSize
    profile: str
    device: str

    @property
    def top1(self) -> float:
        return self.history[-1]["val_top1"]


def finetune_size(profile: str | None = None, **changes) -> tuple[str, FinetuneSize]:
    """(profile name, the fine-tuning size of that profile with ``changes``)."""
    from .profiles import get_profile

    name = get_profile(profile).name
    size = FINETUNE_SIZES[name]
    return name, (replace(size, **changes) if changes else size)


def _loaders(size: FinetuneSize, seed: int):
    from .data import locate, make_datasets
    from .recipes import eval_transform, get_recipe, train_transform

    copy = locate(size.dataset, download_missing=True)  # the tiny sample (smoke) ships with the project
    # light augmentation for a short fine-tune: random-resized crop (area 35-100%) and flip only
    recipe = get_recipe("modern").replace(crop_scale=(0.35, 1.0), randaugment=None, random_erasing=0.0)
    train_set, val_set = make_datasets(copy, size.image_size, train_transform(recipe, size.image_size),
                                       eval_transform(size.image_size, round(size.image_size / 0.875)), True)
    if size.val_images and size.val_images < len(val_set):  # an even spread over the classes
        step = len(val_set) / size.val_images
        val_set = torch.utils.data.Subset(val_set, [int(i * step) for i in range(size.val_images)])
    g = torch.Generator().manual_seed(seed)
    train = torch.utils.data.DataLoader(train_set, batch_size=size.batch_size, shuffle=True, drop_last=True,
                                        generator=g)
    val = torch.utils.data.DataLoader(val_set, batch_size=max(size.batch_size, 64))
    return copy, train, val


@torch.no_grad()
def evaluate(model: nn.Module, loader, device) -> dict:
    model.eval()
    correct = total = 0
    loss = 0.0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        with _autocast(device):
            logits = model(x).float()
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        total += len(y)
    return {"val_loss": loss / total, "val_top1": 100.0 * correct / total}


def _autocast(device: torch.device):
    from contextlib import nullcontext

    from .engine import amp_dtype_for

    dtype = amp_dtype_for(device)
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def finetune(model: nn.Module, profile: str | None = None, seed: int = 0, device: str | None = None,
             verbose: bool = True, **size_changes) -> FinetuneResult:
    """Fine-tune ``model`` (its head already sized for the dataset) for a profile-sized run.

    AdamW, the new head at 10x the backbone's learning rate, linear warmup (10% of the steps)
    then cosine decay, label smoothing 0.1, no weight decay on norms, biases and layer scale.
    Parameters with ``requires_grad=False`` stay frozen. ``size_changes`` change the profile's
    ``FinetuneSize`` (``image_size=128``). Returns the validation top-1 before and after each epoch.
    """
    from .profiles import get_profile

    name, size = finetune_size(profile, **size_changes)
    dev = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    threads = torch.get_num_threads()
    if get_profile(name).threads:  # as in train(): the profile's CPU threads for the run
        torch.set_num_threads(get_profile(name).threads)
    try:
        return _finetune(model, name, size, dev, seed, verbose)
    finally:
        torch.set_num_threads(threads)


def _finetune(model, name, size, dev, seed, verbose) -> FinetuneResult:
    from .recipes import get_recipe, make_scheduler, param_groups

    torch.manual_seed(seed)
    data, train_loader, val_loader = _loaders(size, seed)
    if model.num_classes != data.num_classes:
        raise ValueError(f"the model has {model.num_classes} outputs and {data.name} has {data.num_classes} classes:"
                         f" call replace_head(model, {data.num_classes}) first")
    model = model.to(dev)
    head = {id(p) for p in model.head.fc.parameters()}
    groups = []
    for group in param_groups(model, size.weight_decay, decay_norm_and_bias=False):
        for is_head in (False, True):
            params = [p for p in group["params"] if (id(p) in head) == is_head]
            if params:
                groups.append({"params": params, "weight_decay": group["weight_decay"],
                               "lr": size.lr * (10 if is_head else 1)})
    optimizer = torch.optim.AdamW(groups, lr=size.lr)
    steps = len(train_loader) if size.max_steps_per_epoch is None else min(len(train_loader), size.max_steps_per_epoch)
    schedule = get_recipe("modern").replace(warmup_fraction=0.1, min_lr=0.0)
    scheduler = make_scheduler(optimizer, schedule, max(1, steps * size.epochs))
    from .engine import make_grad_scaler

    scaler = make_grad_scaler(dev.type == "cuda" and _amp_is_fp16(dev))
    if verbose:
        if name == "smoke":
            print("SMOKE TEST: a few batches of the tiny sample at low resolution; it proves the code runs, its "
                  "accuracy means nothing.")
        frozen = sum(p.numel() for p in model.parameters()) - trainable_params(model)
        print(f"fine-tuning, profile {name}: {data.name} at {size.image_size} px, {size.epochs} epoch(s) of {steps} "
              f"steps, batch {size.batch_size}, lr {size.lr:g} (head {10 * size.lr:g}), "
              f"{trainable_params(model) / 1e6:.2f}M trainable parameters"
              + (f" ({frozen / 1e6:.2f}M frozen)" if frozen else "") + f", device {dev.type}")
    history = [{"epoch": 0, **evaluate(model, val_loader, dev)}]
    if verbose:
        print(f"before fine-tuning: val top-1 {history[0]['val_top1']:.1f}% ({len(val_loader.dataset)} images)")
    for epoch in range(1, size.epochs + 1):
        model.train()
        started, loss_sum, seen = time.perf_counter(), 0.0, 0
        for _, (x, y) in zip(range(steps), train_loader):
            x, y = x.to(dev), y.to(dev)
            with _autocast(dev):
                loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            loss_sum, seen = loss_sum + loss.item() * len(y), seen + len(y)
        seconds = time.perf_counter() - started
        history.append({"epoch": epoch, "train_loss": loss_sum / seen, "train_time_s": seconds,
                        **evaluate(model, val_loader, dev)})
        if verbose:
            m = history[-1]
            print(f"epoch {epoch}/{size.epochs}: train loss {m['train_loss']:.3f} | val top-1 {m['val_top1']:.1f}% "
                  f"| {seen / seconds:.0f} img/s")
    model.eval()
    return FinetuneResult(history, size, name, str(dev))


def _amp_is_fp16(device: torch.device) -> bool:
    from .engine import amp_dtype_for

    return amp_dtype_for(device) == torch.float16
