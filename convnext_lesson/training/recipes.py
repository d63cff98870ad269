"""The two training recipes of the paper, and how they shrink to short runs on small data.

``original`` is ResNet-50's recipe (step 0): SGD with momentum, the learning rate
divided by 10 twice, random-resized crops and flips. ``modern`` is the paper's
section 4 (steps 1-16): AdamW, linear warmup then cosine decay, RandAugment,
Mixup/CutMix, Random Erasing, label smoothing, stochastic depth, optionally EMA.
One recipe is held fixed across steps, as in the paper.

The paper's values (``get_recipe(name)``) are sized for batch 256/4096 and 90/300
epochs of ImageNet. ``Recipe.scaled(epochs, batch_size)`` adapts them by one rule:

* learning rate: linear in the batch (SGD: 0.1 x batch/256; AdamW: 4e-3 x batch/4096,
  but at least ``lr_floor`` = 2e-3: AdamW's update size does not shrink with the batch
  the way SGD's does, and short runs need the steps. Measured on the cpu profile,
  step 1, 5 epochs at batch 64: 60.1% top-1 with 1e-3, 65.0% with 2e-3);
* warmup and the step milestones: the same fractions of the run as in the paper
  (20 of 300 epochs; epochs 30 and 60 of 90), counted in iterations;
* augmentation and regularisation strength ``s = min(1, epochs / full_strength_epochs)``:
  Mixup/CutMix and Random Erasing are applied with probability x s, RandAugment's
  number of ops and magnitude and stochastic depth scale by s (RandAugment is off
  below s = 0.25), and the random crop's smallest area moves from 0.6 (s = 0) to the
  paper's 0.08 (s = 1). A run of a few epochs underfits, and the paper's
  regularisation, sized for 300 epochs, only slows it. Measured on the cpu profile,
  step 16, 10 epochs: 52.8% top-1 with RandAugment (2 ops, magnitude 1 of 30: measured
  before RandAugment moved to timm's 0-10 scale and erasing to noise) and crops
  down to 0.32 of the area; 56.1% without RandAugment, Mixup, CutMix and erasing and
  with crops down to 0.6 (54.9% with those off but crops down to 0.32).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

# the evaluation pipeline is the data's (the same for every recipe); named here too for the notebooks
from .images import IMAGENET_MEAN, IMAGENET_STD, eval_transform, normalize_transform  # noqa: F401

RECIPES = ("original", "modern")
RANDAUGMENT_BINS = 11  # magnitudes 0..10, timm's scale
WEAK_CROP_SCALE = 0.6  # smallest crop area when strength is 0 (short runs: light crops, see above)


@dataclass(frozen=True)
class Recipe:
    name: str
    optimizer: str  # "sgd" or "adamw"
    lr: float  # at base_batch (after ``scaled``: the learning rate used)
    base_batch: int
    lr_floor: float
    momentum: float
    betas: tuple[float, float]
    weight_decay: float
    decay_norm_and_bias: bool  # False: no weight decay on norms, biases and layer scale
    schedule: str  # "step" or "cosine"
    warmup_fraction: float
    milestones: tuple[float, ...]  # "step": fractions of the run where lr is multiplied by gamma
    gamma: float
    min_lr: float  # "cosine": the final learning rate
    crop_scale: tuple[float, float]
    interpolation: str  # "bilinear" or "bicubic" (train crops)
    randaugment: tuple[int, int] | None  # (number of ops, magnitude)
    mixup_alpha: float
    cutmix_alpha: float
    mix_prob: float  # probability that a batch is mixed (Mixup or CutMix, half each)
    random_erasing: float
    label_smoothing: float
    drop_path: float  # stochastic depth of the last block
    ema_decay: float | None  # None: no EMA
    full_strength_epochs: int  # runs at least this long get the full augmentation and regularisation
    epochs: int | None = None  # set by ``scaled``
    batch_size: int | None = None
    strength: float = 1.0

    def __post_init__(self):
        for name in ("mix_prob", "random_erasing"):  # probabilities
            value = getattr(self, name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not 0 <= value <= 1:
                raise ValueError(f"recipe setting {name}={value!r} is not valid: use a probability between 0 and 1")
        for name in ("drop_path", "label_smoothing"):  # rates below 1
            value = getattr(self, name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not 0 <= value < 1:
                raise ValueError(f"recipe setting {name}={value!r} is not valid: use a number in [0, 1)")
        if isinstance(self.lr, (int, float)) and not self.lr > 0:
            raise ValueError(f"recipe setting lr={self.lr!r} is not valid: use a positive learning rate")

    def scaled(self, epochs: int, batch_size: int) -> "Recipe":
        """The recipe for a run of ``epochs`` at ``batch_size`` (see the module docstring)."""
        for name, value in (("epochs", epochs), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        s = min(1.0, epochs / self.full_strength_epochs)
        lr = max(self.lr * batch_size / self.base_batch, self.lr_floor)
        crop_min = WEAK_CROP_SCALE + s * (self.crop_scale[0] - WEAK_CROP_SCALE)
        ops = round(self.randaugment[0] * s) if self.randaugment else 0
        ra = (ops, max(1, round(self.randaugment[1] * s))) if ops else None
        return replace(self, lr=lr, crop_scale=(round(crop_min, 4), self.crop_scale[1]), randaugment=ra,
                       mix_prob=self.mix_prob * s, random_erasing=self.random_erasing * s,
                       drop_path=self.drop_path * s, epochs=epochs, batch_size=batch_size, strength=s)

    def replace(self, **changes) -> "Recipe":
        """A copy with some settings changed (an ablation: ``mix_prob=0``); unknown names are an error."""
        valid = set(self.__dataclass_fields__)
        unknown = sorted(set(changes) - valid)
        if unknown:
            raise ValueError(f"unknown recipe setting(s) {unknown}; valid settings: {', '.join(sorted(valid))}")
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


_RECIPES = {
    "original": Recipe(
        "original", "sgd", lr=0.1, base_batch=256, lr_floor=0.0, momentum=0.9, betas=(0.9, 0.999),
        weight_decay=1e-4, decay_norm_and_bias=True, schedule="step", warmup_fraction=0.0,
        milestones=(1 / 3, 2 / 3), gamma=0.1, min_lr=0.0, crop_scale=(0.08, 1.0), interpolation="bilinear",
        randaugment=None, mixup_alpha=0.0, cutmix_alpha=0.0, mix_prob=0.0, random_erasing=0.0,
        label_smoothing=0.0, drop_path=0.0, ema_decay=None, full_strength_epochs=30),
    "modern": Recipe(
        "modern", "adamw", lr=4e-3, base_batch=4096, lr_floor=2e-3, momentum=0.9, betas=(0.9, 0.999),
        weight_decay=0.05, decay_norm_and_bias=False, schedule="cosine", warmup_fraction=20 / 300,
        milestones=(), gamma=1.0, min_lr=1e-6, crop_scale=(0.08, 1.0), interpolation="bicubic",
        randaugment=(2, 9), mixup_alpha=0.8, cutmix_alpha=1.0, mix_prob=1.0, random_erasing=0.25,
        label_smoothing=0.1, drop_path=0.1, ema_decay=None, full_strength_epochs=100),
}


def get_recipe(name: str) -> Recipe:
    """A recipe with the paper's values (``original`` or ``modern``)."""
    if name not in _RECIPES:
        raise ValueError(f"unknown recipe {name!r}; valid recipes: {', '.join(RECIPES)}")
    return _RECIPES[name]


# ---------------------------------------------------------------------------------------------------------------
# Optimizer and schedule


def param_groups(model: nn.Module, weight_decay: float, decay_norm_and_bias: bool) -> list[dict]:
    """Weight decay on conv and linear weights only: not on norms, biases or layer scale (ConvNeXt's rule)."""
    if decay_norm_and_bias:
        return [{"params": [p for p in model.parameters() if p.requires_grad], "weight_decay": weight_decay}]
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 or name.endswith("layer_scale") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, recipe: Recipe, fused: bool = False,
                   groups: list[dict] | None = None) -> torch.optim.Optimizer:
    """SGD with momentum or AdamW (``fused``: AdamW's single-kernel GPU implementation) on ``groups``
    (default: ``param_groups`` of the recipe's weight decay)."""
    if groups is None:
        groups = param_groups(model, recipe.weight_decay, recipe.decay_norm_and_bias)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum)
    extra = {"fused": True} if fused else {}  # one kernel for all parameters on a GPU
    return torch.optim.AdamW(groups, lr=recipe.lr, betas=recipe.betas, **extra)


def make_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe, total_steps: int):
    """Stepped once per iteration: warmup + cosine (modern) or step decay (original)."""
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, MultiStepLR, SequentialLR

    if recipe.schedule == "step":
        milestones = sorted({max(1, round(f * total_steps)) for f in recipe.milestones})
        return MultiStepLR(optimizer, milestones, gamma=recipe.gamma)
    warmup = min(total_steps - 1, round(recipe.warmup_fraction * total_steps))
    cosine = CosineAnnealingLR(optimizer, T_max=max(1, total_steps - warmup), eta_min=recipe.min_lr)
    if warmup < 1:
        return cosine
    linear = LinearLR(optimizer, start_factor=1 / (warmup + 1), end_factor=1.0, total_iters=warmup)
    return SequentialLR(optimizer, [linear, cosine], milestones=[warmup])


def ema_decay_for(total_steps: int) -> float:
    """EMA decay with a time constant of a tenth of the run (the paper's 0.9999 is ~1/10 of
    its 94k iterations), between 0.9 and 0.9999."""
    return min(0.9999, max(0.9, 1 - 1 / (0.1 * total_steps)))


# ---------------------------------------------------------------------------------------------------------------
# Data augmentation (torchvision transforms v2)


def train_transform(recipe: Recipe, image_size: int):
    """Per image: random-resized crop, flip, RandAugment, to float, normalise, Random Erasing."""
    from torchvision.transforms import v2

    interp = v2.InterpolationMode.BICUBIC if recipe.interpolation == "bicubic" else v2.InterpolationMode.BILINEAR
    ops = [v2.ToImage(),
           v2.RandomResizedCrop(image_size, scale=recipe.crop_scale, interpolation=interp, antialias=True),
           v2.RandomHorizontalFlip()]
    if recipe.randaugment:
        # timm's RandAugment (the paper's "rand-m9-mstd0.5") counts magnitude out of 10: 11 bins (0..10) make
        # torchvision's magnitude 9 the same strength; like timm, bilinear and the mean colour where pixels leave
        ops.append(v2.RandAugment(num_ops=recipe.randaugment[0], magnitude=recipe.randaugment[1],
                                  num_magnitude_bins=RANDAUGMENT_BINS, interpolation=v2.InterpolationMode.BILINEAR,
                                  fill=[round(255 * m) for m in IMAGENET_MEAN]))
    ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if recipe.random_erasing > 0:
        # per-pixel normal noise, as timm's "pixel" mode that the paper's code uses (--remode pixel)
        ops.append(v2.RandomErasing(p=recipe.random_erasing, value="random"))
    return v2.Compose(ops)


class BatchMixer:
    """Mixup or CutMix (half each) on a fraction ``mix_prob`` of the batches; labels become soft."""

    def __init__(self, recipe: Recipe, num_classes: int):
        from torchvision.transforms import v2

        self.prob = recipe.mix_prob
        choices = []
        if recipe.mixup_alpha > 0:
            choices.append(v2.MixUp(alpha=recipe.mixup_alpha, num_classes=num_classes))
        if recipe.cutmix_alpha > 0:
            choices.append(v2.CutMix(alpha=recipe.cutmix_alpha, num_classes=num_classes))
        self.mix = v2.RandomChoice(choices) if choices and self.prob > 0 else None

    def __call__(self, images: torch.Tensor, labels: torch.Tensor):
        if self.mix is None or (self.prob < 1 and torch.rand(()).item() >= self.prob):
            return images, labels
        return self.mix(images, labels)


def describe(recipe: Recipe) -> str:
    """One line per setting, for notebooks and logs."""
    lines = [f"{recipe.name} recipe" + (f", scaled to {recipe.epochs} epochs at batch {recipe.batch_size} "
                                        f"(strength {recipe.strength:.2f})" if recipe.epochs else "")]
    opt = (f"SGD momentum {recipe.momentum}" if recipe.optimizer == "sgd" else f"AdamW betas {recipe.betas}")
    lines.append(f"  optimizer: {opt}, lr {recipe.lr:.3g}, weight decay {recipe.weight_decay}"
                 + ("" if recipe.decay_norm_and_bias else " (not on norms, biases, layer scale)"))
    if recipe.schedule == "step":
        lines.append(f"  schedule: lr x{recipe.gamma} at {', '.join(f'{m:.0%}' for m in recipe.milestones)} of "
                     "the run")
    else:
        lines.append(f"  schedule: linear warmup for {recipe.warmup_fraction:.1%} of the run, then cosine to "
                     f"{recipe.min_lr}")
    ra = f"RandAugment {recipe.randaugment}" if recipe.randaugment else "no RandAugment"
    lines.append(f"  augmentation: random-resized crop {recipe.crop_scale}, flip, {ra}, Mixup {recipe.mixup_alpha} "
                 f"/ CutMix {recipe.cutmix_alpha} on {recipe.mix_prob:.0%} of batches, Random Erasing "
                 f"{recipe.random_erasing:.3g}")
    lines.append(f"  regularisation: label smoothing {recipe.label_smoothing}, stochastic depth {recipe.drop_path:.3g}"
                 f", EMA {recipe.ema_decay or 'off'}")
    return "\n".join(lines)
