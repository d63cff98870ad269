"""Fine-tuning a network with a new head for a profile-sized run (notebook 10)."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..model.counting import trainable_params


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
    from .runtime import amp_dtype_for, autocast

    return autocast(device, amp_dtype_for(device))


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
    from .runtime import amp_dtype_for, grad_scaler

    scaler = grad_scaler(amp_dtype_for(dev))
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
