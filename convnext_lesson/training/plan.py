"""What a training run will do, decided before any data is read: ``plan_run`` builds it, ``run.execute`` runs it.

``plan_run(step, profile=..., ...)`` checks every argument and resolves the profile, the step's network
(scaled by the profile), the recipe (scaled to the run), the steps per epoch, the device and its precision
into one ``RunPlan``: a value to print and test, built without data or a GPU.

Run folders: ``<out_dir>/<regime>-<profile>-<dataset>/step<NN>-<name>-seed<S>[-<variant hash>]/``
holding ``checkpoint.pt`` (the latest state) and, once finished, ``result.json``; the hash
covers whatever makes the run differ from the profile's plain step. Beside each folder,
``.<folder name>.lock`` lets one process at a time train it.
"""
from __future__ import annotations

import hashlib
import json
import numbers
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..model.config import NetConfig
from ..model.cpu_kernels import KERNEL_CHOICES
from ..model.roadmap import REGIMES, Step, get_step
from .datasets import DATASETS, get_dataset_info
from .engine import steps_per_epoch
from .profiles import PROFILES, Profile, get_profile, scale_config
from .recipes import Recipe, describe, ema_decay_for, get_recipe
from .runtime import AMP_CHOICES, amp_dtype_for, amp_name, check_device, in_colab, resolve_amp

ENV_RUNS = "CONVNEXT_LESSON_RUNS"
CPU_KERNEL_CHOICES = ("auto", *KERNEL_CHOICES)
# Profile fields that change how fast a run goes, not what it trains (threads move a CPU run's low bits: its
# record says how many it used).
_SPEED_ONLY = ("name", "description", "workers", "threads", "channels_last", "compile", "cpu_kernels")
MAX_SEED = 2**63  # a seed fits a signed 64-bit integer (torch.manual_seed, mix_seed's streams)


@dataclass(frozen=True)
class RunPlan:
    """Everything ``train`` will do, as one value; ``print(plan)`` says it in words."""

    step: Step
    profile: Profile  # after the call's sizing changes
    dataset: str
    num_classes: int
    config: NetConfig  # the step's network scaled by the profile, with its drop path and the call's changes
    recipe: Recipe  # scaled to the run, with the call's changes and the EMA decay (None: no EMA)
    epochs: int
    steps_per_epoch: int  # as the Trainer counts them, from the dataset's published size
    seed: int
    device: torch.device
    amp: torch.dtype | None  # mixed precision on this device (runtime.resolve_amp of the call's choice)
    out_dir: Path
    variant: dict  # what makes the run differ from the profile's plain step (the data copy is added on execution)
    data_dir: str | os.PathLike | None = None
    download: bool = False  # fetch the official archive when no copy is found
    resume: bool = False
    out_dir_from_env: bool = False  # $CONVNEXT_LESSON_RUNS chose out_dir (paths are printed relative to it)
    cpu_kernels: str = "auto"  # how a CPU computes depthwise and pointwise convs (speed: same folder, recorded)

    def run_dir(self, data: str | None = None) -> Path:
        """The run folder; ``data``: the identity of a dataset copy other than the offline pack (its own folder)."""
        variant = {**self.variant, "data": data} if data else self.variant
        return run_dir_for(self.out_dir, self.step.regime, self.profile.name, self.dataset, self.step, self.seed,
                           variant)

    def __str__(self) -> str:
        s, p = self.step, self.profile
        changed = s.config.diff(self.config)
        network = f"step {s.index}'s design" + (" with " + ", ".join(f"{k} {new}" for k, (_, new) in changed.items())
                                                 if changed else "")
        speed = ", ".join(filter(None, (f"{p.threads} CPU thread(s)" if p.threads else "",
                                        "channels-last" if p.channels_last else "", "compiled" if p.compile else "",
                                        f"CPU kernels: {self.cpu_kernels}"
                                        if self.device.type == "cpu" and self.cpu_kernels != "auto" else "")))
        lines = [f"step {s.index} ({s.name}) of the {s.regime} roadmap, profile {p.name}, seed {self.seed}",
                 f"  network: {network}; {self.num_classes} classes",
                 f"  data: {self.dataset} at {p.image_size} px, {self.epochs} epochs of {self.steps_per_epoch} steps, "
                 f"batch {p.batch_size}" + (f" in micro-batches of {p.micro_batch}" if p.micro_batch else ""),
                 *("  " + line for line in describe(self.recipe).splitlines()),
                 f"  device {self.device}, precision {amp_name(self.amp)}" + (f", {speed}" if speed else ""),
                 f"  run folder: {self.run_dir()}" + ("" if not self.resume else " (resumed if unfinished)")]
        return "\n".join(lines)


def default_out_dir() -> Path:
    return Path(os.environ.get(ENV_RUNS) or "runs")


def run_dir_for(out_dir, regime: str, profile: str, dataset: str, step, seed: int, overrides: dict) -> Path:
    name = f"step{step.index:02d}-{step.name}-seed{seed}"
    if overrides:  # a variant of the step gets its own folder
        name += "-" + hashlib.sha1(json.dumps(overrides, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return Path(out_dir) / f"{regime}-{profile}-{dataset}" / name


def check_integer(name: str, value, low: int = 1, high: int | None = None) -> None:
    """``value`` must be an int (not a bool, not 1.5) with ``low <= value`` (``< high``)."""
    integer = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not integer or value < low or (high is not None and value >= high):
        bound = f"2**{high.bit_length() - 1}" if high and high & (high - 1) == 0 else high  # 2**63, not 19 digits
        valid = f"an integer >= {low}" if high is None else f"an integer with {low} <= {name} < {bound}"
        raise ValueError(f"{name}={value!r} is not valid: use {valid}")


def check_out_dir(out_dir: Path) -> None:
    """Fail now, not after an epoch, when no run folder can be written under ``out_dir``."""
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    what = f"the output folder {out_dir} (out_dir, command line --out)"
    if not existing.is_dir():
        where = "is a file" if existing == out_dir else f"lies under the file {existing}"
        raise ValueError(f"{what} {where}; give a folder (it is created if missing)")
    try:  # a byte on disk: a read-only folder, or a full disk, fails here
        with tempfile.TemporaryFile(dir=existing) as probe:
            probe.write(b"0")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        raise ValueError(f"{what} cannot be written ({error.strerror or error}); give a writable folder with "
                         "free space") from error


def copy_identity(dataset: dict) -> str:
    """Which copy of a dataset a run used (``DatasetCopy.describe()`` or a record's ``dataset``): an archive by its
    checksum, an unpacked folder by (a digest of) where it lies."""
    if dataset.get("checksum"):
        return f"{dataset['origin']}:{dataset['checksum']}"
    return "folder:" + hashlib.sha1(str(dataset["root"]).encode()).hexdigest()[:12]


_SETTING_TYPES = {"float": numbers.Real, "int": numbers.Integral, "bool": bool, "str": str, "tuple": tuple}


def _recipe_changes(recipe, changes: dict) -> dict:
    """``changes`` to a recipe, lists as tuples, each checked against its setting's declared type."""
    recipe.replace(**changes)  # unknown settings: an error that lists the valid ones
    checked = {}
    for name, value in changes.items():
        value = tuple(value) if isinstance(value, list) else value
        declared = type(recipe).__dataclass_fields__[name].type  # a string, e.g. "tuple[int, int] | None"
        kind = _SETTING_TYPES[declared.split("|")[0].split("[")[0].strip()]
        fits = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if not (fits or (value is None and "None" in declared)):
            raise ValueError(f"recipe setting {name}={value!r} is not valid: use a value of type {declared}")
        checked[name] = value
    return checked


def short_run_start(cfg: NetConfig) -> NetConfig:
    """``cfg`` as a short run starts it: Kaiming's init and no layer scale. ConvNeXt's truncated-normal init and
    layer scale 1e-6 start every residual branch at 1e-8 to 3e-7 of its shortcut, and a run of a few thousand
    optimizer steps cannot grow them (the step-16 parts in ``teach/readings/step16_parts.py`` measure what that costs)."""
    return cfg.replace(init="kaiming", layer_scale=None)


def _option(default, help: str, flag: str | None = None, choices=None):
    return field(default=default, metadata={"help": help, "flag": flag, "choices": choices})


@dataclass(frozen=True)
class RunOptions:
    """What a run can be asked for besides its step and its config changes: the one list of them, read by
    ``plan_run``, spelled out as ``train``'s keywords (a test keeps the two equal) and by the command line (one
    flag each, with this help)."""

    profile: str | Profile | None = _option(None, "run size (default: $CONVNEXT_LESSON_PROFILE, else cpu without a "
                                                   "GPU, colab or full with one)", choices=tuple(PROFILES))
    dataset: str | None = _option(None, "default: the profile's", choices=tuple(DATASETS))
    regime: str = _option("resnet50", "which roadmap", choices=REGIMES)
    data_dir: str | os.PathLike | None = _option(None, "folder with an offline copy (unpacked, or the .tar.gz packs); "
                                                       "default: $CONVNEXT_LESSON_DATA and data/")
    out_dir: str | os.PathLike | None = _option(None, "folder for run folders (default: $CONVNEXT_LESSON_RUNS or "
                                                      "./runs)", flag="--out")
    seed: int = _option(0, "the run's seed")
    resume: bool = _option(False, "continue the run from its checkpoint")
    download: bool | None = _option(None, "download the official archive if no copy is found (default: only on "
                                          "Colab)")
    ema: bool = _option(False, "also keep and evaluate an EMA of the weights")
    recipe: dict | None = _option(None, "change a setting of the scaled recipe, e.g. mix_prob=0.0 (repeatable)")
    epochs: int | None = _option(None, "override the profile's epochs")
    image_size: int | None = _option(None, "override the profile's resolution")
    batch_size: int | None = _option(None, "override the profile's effective batch")
    micro_batch: int | None = _option(None, "images per process at once (gradient accumulation)")
    compile: bool | None = _option(None, "torch.compile the model")
    device: str | None = _option(None, "cpu, cuda, cuda:1, ... (default: cuda if available)")
    amp: str = _option("auto", "mixed precision: auto (bf16 on Ampere and later, fp16 on older GPUs, none on a "
                               "CPU), or a choice; none trains in full precision", choices=AMP_CHOICES)
    cpu_kernels: str | None = _option(None, "how a CPU computes depthwise and pointwise convolutions: library "
                                            "(PyTorch's convolutions), folded (the depthwise weight gradient as a "
                                            "forward convolution), course (that, and pointwise convolutions as "
                                            "matrix products), or auto (library or course, the faster as the run "
                                            "starts); default: the profile's", choices=CPU_KERNEL_CHOICES)


def plan_run(step: int | str = 16, **options) -> RunPlan:
    """The plan of ``train(...)`` with the same arguments (see ``run.train``): ``RunOptions``' fields, and any other
    keyword changes the step's config (``kernel_size=9``). Every argument is checked here."""
    names = RunOptions.__dataclass_fields__
    return _plan(step, RunOptions(**{k: v for k, v in options.items() if k in names}),
                 {k: v for k, v in options.items() if k not in names})


_SIZING = ("epochs", "image_size", "batch_size", "micro_batch", "compile")  # options that change the profile


def _plan(step: int | str, opts: RunOptions, overrides: dict) -> RunPlan:
    st = get_step(step, opts.regime)
    base = get_profile(opts.profile)
    changes = {k: getattr(opts, k) for k in _SIZING if getattr(opts, k) is not None}
    prof = base.replace(**changes) if changes else base
    for name in ("epochs", "image_size", "batch_size"):
        check_integer(name, getattr(prof, name))
    if prof.micro_batch is not None:
        check_integer("micro_batch", prof.micro_batch)
    check_integer("seed", opts.seed, 0, MAX_SEED)
    dataset = opts.dataset or prof.dataset
    info = get_dataset_info(dataset)

    run_epochs = prof.epochs_for(st.recipe)
    scaled_recipe = get_recipe(st.recipe).scaled(run_epochs, prof.batch_size)
    recipe_changes = _recipe_changes(scaled_recipe, dict(opts.recipe or {}))
    recipe = scaled_recipe.replace(**recipe_changes) if recipe_changes else scaled_recipe
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    cfg = _run_config(st, prof, recipe, overrides)
    dev = check_device(opts.device)
    amp_dtype = resolve_amp(opts.amp, dev)
    cpu_kernels = opts.cpu_kernels or prof.cpu_kernels
    if cpu_kernels not in CPU_KERNEL_CHOICES:
        raise ValueError(f"cpu_kernels={cpu_kernels!r} is not valid; choose one of {', '.join(CPU_KERNEL_CHOICES)}")
    out_dir = Path(opts.out_dir) if opts.out_dir is not None else default_out_dir()
    check_out_dir(out_dir)

    # a copy on disk holds the published number of images (data.check_layout), so the data need not be read
    steps = steps_per_epoch(info.counts[0], prof.batch_size, prof.max_steps_per_epoch)
    if opts.ema:
        recipe = recipe.replace(ema_decay=ema_decay_for(max(1, steps * run_epochs)))
    # what makes this run differ from the profile's plain step: its own folder, its own checkpoint
    sizing = {k: v for k, v in changes.items() if k != "compile"}
    registered = PROFILES.get(base.name)
    if registered is not None and base != registered:  # a changed Profile object under a profile's name
        sizing = {k: v for k, v in base.as_dict().items()
                  if k not in _SPEED_ONLY and v != getattr(registered, k)} | sizing
    variant = {**overrides, **({"recipe": recipe_changes} if recipe_changes else {}),
               **({"profile": sizing} if sizing else {}), **({"ema": True} if opts.ema else {}),
               **({"amp": amp_name(amp_dtype)} if amp_dtype != amp_dtype_for(dev) else {})}
    return RunPlan(step=st, profile=prof, dataset=dataset, num_classes=info.num_classes, config=cfg, recipe=recipe,
                   epochs=run_epochs, steps_per_epoch=steps, seed=opts.seed, device=dev, amp=amp_dtype,
                   out_dir=out_dir, variant=variant, data_dir=opts.data_dir,
                   # Colab sessions start bare and are online: fetch the official archive there
                   download=in_colab() if opts.download is None else opts.download, resume=opts.resume,
                   out_dir_from_env=opts.out_dir is None and bool(os.environ.get(ENV_RUNS)),
                   cpu_kernels=cpu_kernels)


def _run_config(st: Step, prof: Profile, recipe: Recipe, overrides: dict) -> NetConfig:
    """The step's network as this run trains it: scaled by the profile, started as the profile starts, with the
    recipe's stochastic depth and the call's changes; checked against the image size and the batch."""
    cfg = scale_config(st.config, prof.width_mult, prof.depth_mult)
    if prof.short_run_start:  # the small profiles' start, for every step at once (only step 16 changes by it)
        cfg = short_run_start(cfg)
    if recipe.drop_path and not cfg.drop_path:  # the recipe's stochastic depth, unless the step sets its own
        cfg = cfg.replace(drop_path=round(recipe.drop_path, 6))
    cfg = cfg.replace(**overrides) if overrides else cfg  # unknown fields, wrong types: NetConfig says which
    if prof.image_size < cfg.min_input_size:
        raise ValueError(f"image_size={prof.image_size} is too small: the network needs at least "
                         f"{cfg.min_input_size} px")
    per_step = prof.micro_batch or prof.batch_size
    if cfg.norm == "bn" and per_step < 2:  # BatchNorm's training statistics need two images or more
        raise ValueError(f"step {st.index} has BatchNorm, whose batch statistics need at least 2 images: "
                         f"{'micro_batch' if prof.micro_batch else 'batch_size'}={per_step} is too small; "
                         "use 2 or more (LayerNorm steps, 15 and 16, train with 1)")
    return cfg
