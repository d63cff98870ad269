"""Fine-tuning a network with a new head (notebook 10): a profile-sized run on the same Trainer as every run.

The profile's run with the changes of ``FINETUNE_CHANGES``; AdamW at ``LR`` for the backbone and 10x that for
the new head (the parameter groups handed to the Trainer), warmup then cosine decay, label smoothing, light
augmentation. As every run on the Trainer it has checkpoints (each epoch, and on Ctrl-C), exact resume,
mixed precision, channels-last and several processes under torchrun; without ``out_dir`` its folder is
temporary, so a notebook leaves nothing behind.
"""
from __future__ import annotations

import hashlib
import json
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..model.counting import count_params, trainable_params
from .images import make_datasets
from .engine import Trainer, steps_per_epoch
from .profiles import Profile, get_profile
from .recipes import Recipe, get_recipe, param_groups, train_transform
from .run import find_data, hold_run_folder
from ..model.threads import cpu_threads
from .runtime import start_runtime

# Fine-tuning the full-size ConvNeXt-T: each profile's run with these changes. smoke: seconds at 32 px (proves
# the code runs, nothing more). cpu, colab, full: sized by estimate, not yet measured on an idle laptop, a T4 or
# an A100/H100 (cpu: 40 steps of 32 images at 64 px, meant to take minutes; a step of the full network is slow
# on a CPU).
FINETUNE_CHANGES = {
    "smoke": {"epochs": 1, "max_steps_per_epoch": 3},
    "cpu": {"epochs": 1, "batch_size": 32, "max_steps_per_epoch": 40},
    "colab": {"image_size": 160, "epochs": 2, "batch_size": 64},
    "full": {"image_size": 224, "epochs": 3, "batch_size": 128},
}
VAL_IMAGES = {"smoke": 64, "cpu": 500}  # validation images scored, an even spread over the classes (others: all)
LR, HEAD_LR_FACTOR = 1e-4, 10  # the backbone's learning rate; the new head learns 10x faster


@dataclass
class FinetuneResult:
    history: list[dict]  # epoch 0: before training
    size: Profile  # the profile the run was sized by (with the fine-tuning changes)
    profile: str
    device: str

    @property
    def top1(self) -> float:
        return self.history[-1]["val_top1"]


def finetune_size(profile: str | Profile | None = None, **changes) -> tuple[str, Profile]:
    """(profile name, that profile with the fine-tuning changes and ``changes``)."""
    base = get_profile(profile)
    return base.name, base.replace(**{**FINETUNE_CHANGES.get(base.name, {}), **changes})


def finetune_recipe() -> Recipe:
    """The modern recipe made gentle for a short fine-tune: AdamW at ``LR``, warmup over 10% of the steps, then
    cosine to 0; label smoothing 0.1, no weight decay on norms, biases and layer scale; random-resized crops
    (35-100% of the area) and flips only: no RandAugment, erasing, mixing or stochastic depth."""
    return get_recipe("modern").replace(lr=LR, warmup_fraction=0.1, min_lr=0.0, crop_scale=(0.35, 1.0),
                                        randaugment=None, random_erasing=0.0, mix_prob=0.0, drop_path=0.0)


def head_param_groups(model: nn.Module, recipe: Recipe) -> list[dict]:
    """The recipe's weight-decay groups, each split into backbone (``recipe.lr``) and new head (x ``HEAD_LR_FACTOR``);
    frozen parameters (``requires_grad=False``) are left out."""
    head = {id(p) for p in model.head.fc.parameters()}
    groups = []
    for group in param_groups(model, recipe.weight_decay, recipe.decay_norm_and_bias):
        for is_head in (False, True):
            params = [p for p in group["params"] if (id(p) in head) == is_head]
            if params:
                groups.append({"params": params, "weight_decay": group["weight_decay"],
                               "lr": recipe.lr * (HEAD_LR_FACTOR if is_head else 1)})
    return groups


def weights_digest(model: nn.Module) -> str:
    """A digest of the starting weights and of which are frozen: what tells one fine-tuning run from another."""
    h = hashlib.sha1()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    h.update(json.dumps([n for n, p in model.named_parameters() if p.requires_grad]).encode())
    return h.hexdigest()[:12]


def finetune(model: nn.Module, profile: str | Profile | None = None, seed: int = 0, device: str | None = None,
             verbose: bool = True, progress: bool = True, out_dir=None, resume: bool = False,
             **changes) -> FinetuneResult:
    """Fine-tune ``model`` (its head already sized for the dataset: ``replace_head``) for a profile-sized run.

    Parameters with ``requires_grad=False`` stay frozen. ``changes`` change the sized profile
    (``image_size=128``, ``max_steps_per_epoch=1``) or the number of validation images scored
    (``val_images=16``; None: all). ``out_dir``: where the run folder (checkpoints) goes, default a temporary
    one; ``resume=True`` continues (or loads) a run found there. Returns the validation top-1 before training
    (epoch 0) and after each epoch; ``model`` is fine-tuned in place.
    """
    name = get_profile(profile).name
    val_images = changes.pop("val_images", VAL_IMAGES.get(name))
    _, size = finetune_size(profile, **changes)
    recipe = finetune_recipe()
    runtime = start_runtime(device, "auto", size, progress, verbose)
    with cpu_threads(size.threads), ExitStack() as stack:
        copy, train_set, val_set = _finetune_data(model, size, recipe, runtime, val_images)
        # a kept run's folder and checkpoint are those of its starting weights; a temporary one needs no name
        start = weights_digest(model) if out_dir is not None else "temporary"
        folder = Path(out_dir) if out_dir is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        run_dir = folder / f"finetune-{name}-{copy.name}" / f"seed{seed}-{start}"
        hold_run_folder(runtime, run_dir, stack)
        spec = {"kind": "finetune", "profile": name, "dataset": copy.name, "image_size": size.image_size,
                "epochs": size.epochs, "batch_size": size.batch_size, "seed": seed, "val_images": len(val_set),
                "recipe_settings": json.loads(json.dumps(recipe.as_dict())), "start": start}
        steps = steps_per_epoch(len(train_set), size.batch_size, size.max_steps_per_epoch)
        trainer = Trainer(model, train_set, val_set, recipe, runtime, epochs=size.epochs, steps_per_epoch=steps,
                          batch_size=size.batch_size, micro_batch=size.micro_batch, seed=seed, run_dir=run_dir,
                          spec=spec, param_groups=head_param_groups(model, recipe))
        _announce(name, copy, size, trainer)
        history = [{"epoch": 0, **trainer.evaluate()}]
        if runtime.verbose:
            print(f"before fine-tuning: val top-1 {history[0]['val_top1']:.1f}% ({len(val_set)} images)")
        history += trainer.fit(resume=resume)
    model.eval()
    return FinetuneResult(history, size, name, str(runtime.device))


def _finetune_data(model: nn.Module, size: Profile, recipe: Recipe, runtime, val_images: int | None):
    """(copy, train set, val set); ``val_images`` of the validation set, an even spread over the classes."""
    # the tiny sample (smoke) ships with the package; a bigger profile's dataset is downloaded if missing
    copy = find_data(runtime, size.dataset, download=True)
    if model.num_classes != copy.num_classes:
        raise ValueError(f"the model has {model.num_classes} outputs and {copy.name} has {copy.num_classes} "
                         f"classes: call replace_head(model, {copy.num_classes}) first")
    train_set, val_set = make_datasets(copy, size.image_size, train_transform(recipe, size.image_size), size.preload)
    if val_images and val_images < len(val_set):
        every = len(val_set) / val_images
        val_set = torch.utils.data.Subset(val_set, [int(i * every) for i in range(val_images)])
    return copy, train_set, val_set


def _announce(name: str, copy, size: Profile, trainer: Trainer) -> None:
    if not trainer.verbose:
        return
    model = trainer.raw_model
    if name == "smoke":
        print("SMOKE TEST: a few batches of the tiny sample at low resolution; it proves the code runs, its "
              "accuracy means nothing.")
    frozen = count_params(model) - trainable_params(model)
    print(f"fine-tuning, profile {name}: {copy.name} at {size.image_size} px, {size.epochs} epoch(s) of "
          f"{trainer.steps_per_epoch} steps, batch {size.batch_size}, lr {LR:g} "
          f"(head {HEAD_LR_FACTOR * LR:g}), {trainable_params(model) / 1e6:.2f}M trainable parameters"
          + (f" ({frozen / 1e6:.2f}M frozen)" if frozen else "") + f", device {trainer.device.type}")
