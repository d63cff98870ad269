"""``train(step)``: one roadmap step, trained the way its profile says, with a results record.

This is the glue: it resolves the profile, the step's network (scaled by the
profile), the recipe (scaled to the run), the dataset copy, and the run folder,
then hands them to the ``Trainer`` and writes ``result.json``.

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
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from ..model.counting import count_flops, count_params
from ..model.network import Network
from ..model.roadmap import get_step
from . import checkpoint as ckpt
from . import results
from .data import eval_resize, get_dataset_info, locate, make_datasets
from .distributed import barrier, init_distributed, main_first
from .engine import Trainer, amp_dtype_for
from .profiles import PROFILES, get_profile, scale_config
from .recipes import ema_decay_for, eval_transform, get_recipe, train_transform
from .runtime import in_colab

ENV_RUNS = "CONVNEXT_LESSON_RUNS"


@dataclass
class RunResult:
    """What ``train`` returns: the record, the per-epoch history, the run folder and the trained model."""

    record: dict
    run_dir: Path
    model: nn.Module | None = field(default=None, repr=False)

    @property
    def history(self) -> list[dict]:
        return self.record["history"]

    @property
    def top1(self) -> float:
        return self.record["top1"]

    def __str__(self) -> str:
        r = self.record
        return (f"step {r['step']} ({r['step_name']}), profile {r['profile']}, {r['dataset']['name']} at "
                f"{r['image_size']} px, {r['epochs']} epochs: top-1 {r['top1']:.1f}% (best {r['best_top1']:.1f}%), "
                f"{r['wall_time_s']:.0f} s on {r['device']}")


def default_out_dir() -> Path:
    return Path(os.environ.get(ENV_RUNS) or "runs")


def run_dir_for(out_dir, regime: str, profile: str, dataset: str, step, seed: int, overrides: dict) -> Path:
    name = f"step{step.index:02d}-{step.name}-seed{seed}"
    if overrides:  # a variant of the step gets its own folder
        name += "-" + hashlib.sha1(json.dumps(overrides, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return Path(out_dir) / f"{regime}-{profile}-{dataset}" / name


# Profile fields that only change how fast a run goes, not what it computes.
_SPEED_ONLY = ("name", "description", "workers", "threads", "channels_last", "compile")
MAX_SEED = 2**63  # a seed fits a signed 64-bit integer (torch.manual_seed, mix_seed's streams)


def check_integer(name: str, value, low: int = 1, high: int | None = None) -> None:
    """``value`` must be an int (not a bool, not 1.5) with ``low <= value`` (``< high``)."""
    integer = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not integer or value < low or (high is not None and value >= high):
        bound = f"2**{high.bit_length() - 1}" if high and high & (high - 1) == 0 else high  # 2**63, not 19 digits
        valid = f"an integer >= {low}" if high is None else f"an integer with {low} <= {name} < {bound}"
        raise ValueError(f"{name}={value!r} is not valid: use {valid}")


def check_device(device) -> torch.device:
    """The device to train on (default: cuda if there is one); a clear error for one this machine lacks."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {device!r} is not valid: use cpu, cuda or cuda:<index> (mps on a Mac)")
    count = torch.cuda.device_count() if dev.type == "cuda" and torch.cuda.is_available() else 0
    if dev.type == "cuda" and count == 0:
        build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
        raise ValueError(f"device {device!r} is not available: no CUDA GPU found (torch {torch.__version__}, "
                         f"{build}); use device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= count:
        raise ValueError(f"device {device!r} is not available: this machine has {count} GPU(s), valid: "
                         + ", ".join(f"cuda:{i}" for i in range(count)))
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' is not available here; use cpu")
    return dev


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


def train(step: int | str = 16, profile: str | None = None, dataset: str | None = None, regime: str = "resnet50",
          data_dir=None, out_dir=None, seed: int = 0, resume: bool = False, download: bool | None = None,
          ema: bool = False, recipe: dict | None = None, epochs: int | None = None, image_size: int | None = None,
          batch_size: int | None = None, micro_batch: int | None = None, compile: bool | None = None,
          device: str | None = None, progress: bool = True, verbose: bool = True, **overrides) -> RunResult:
    """Train roadmap ``step`` under ``profile`` (default: ``$CONVNEXT_LESSON_PROFILE`` or the hardware's).

    ``dataset`` defaults to the profile's; ``epochs``, ``image_size``, ``batch_size``,
    ``micro_batch`` and ``compile`` override the profile; ``recipe`` changes settings
    of the scaled recipe (``{"mix_prob": 0.0}``); other keyword arguments change the
    step's config (``kernel_size=9``). A finished run is loaded, not
    trained again; an unfinished one is continued with ``resume=True``. ``download``: fetch the
    official archive when no copy is found (default: only on Colab).

    Whatever changes what a run computes (config, recipe or sizing changes, ``ema``, a dataset
    copy other than the offline pack) gives it its own run folder, which one process at a time trains.
    """
    # Every argument is checked before any data is touched.
    st = get_step(step, regime)
    base = get_profile(profile)
    changes = {k: v for k, v in dict(epochs=epochs, image_size=image_size, batch_size=batch_size,
                                     micro_batch=micro_batch, compile=compile).items() if v is not None}
    prof = base.replace(**changes) if changes else base
    for name in ("epochs", "image_size", "batch_size"):
        check_integer(name, getattr(prof, name))
    if prof.micro_batch is not None:
        check_integer("micro_batch", prof.micro_batch)
    check_integer("seed", seed, 0, MAX_SEED)
    dataset = dataset or prof.dataset
    info = get_dataset_info(dataset)

    run_epochs = prof.epochs_for(st.recipe)
    scaled_recipe = get_recipe(st.recipe).scaled(run_epochs, prof.batch_size)
    recipe_changes = _recipe_changes(scaled_recipe, dict(recipe or {}))
    recipe = scaled_recipe.replace(**recipe_changes) if recipe_changes else scaled_recipe
    cfg = scale_config(st.config, prof.width_mult, prof.depth_mult)
    if recipe.drop_path and not cfg.drop_path:
        cfg = cfg.replace(drop_path=round(recipe.drop_path, 6))
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    cfg = cfg.replace(**overrides) if overrides else cfg  # unknown fields, wrong types: NetConfig says which
    model_min = 4 * 2 ** (len(cfg.depths) - 1)
    if prof.image_size < model_min:
        raise ValueError(f"image_size={prof.image_size} is too small: the network needs at least {model_min} px")
    dev = check_device(device)
    runs_from_env = out_dir is None and bool(os.environ.get(ENV_RUNS))
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir()
    check_out_dir(out_dir)

    dist = init_distributed(dev.type)
    if dist.enabled and dev.type == "cuda":
        dev = torch.device("cuda", dist.local_rank)
    if download is None:  # Colab sessions start bare and are online: fetch the official archive there
        download = in_colab()
    # rank 0 unpacks or downloads the data first; its error, if any, ends every rank
    copy = main_first(dist, lambda: locate(dataset, data_dir, download_missing=download,
                                           progress=progress and dist.is_main))

    # what makes this run differ from the profile's plain step: its own folder, its own checkpoint
    sizing = {k: v for k, v in changes.items() if k != "compile"}
    registered = PROFILES.get(base.name)
    if registered is not None and base != registered:  # a changed Profile object under a profile's name
        sizing = {k: v for k, v in base.as_dict().items()
                  if k not in _SPEED_ONLY and v != getattr(registered, k)} | sizing
    data = copy_identity(copy.describe())
    variant = {**overrides, **({"recipe": recipe_changes} if recipe_changes else {}),
               **({"profile": sizing} if sizing else {}), **({"ema": True} if ema else {}),
               **({"data": data} if copy.origin != "offline-pack" else {})}
    run_dir = run_dir_for(out_dir, regime, prof.name, dataset, st, seed, variant)
    result_path = run_dir / results.RESULT_NAME
    threads = torch.get_num_threads()
    lock = ExitStack()
    main_first(dist, lambda: lock.enter_context(ckpt.lock_run_folder(run_dir)), on_every_rank=False)
    try:
        if result_path.exists():
            record = results.read_record(result_path)
            if copy_identity(record["dataset"]) != data:  # a folder written before copies had their own
                raise ValueError(f"{run_dir} holds a run on another copy of {dataset} "
                                 f"({copy_identity(record['dataset'])}, not {data}); delete that folder to train "
                                 "again, or use another output folder")
            if verbose and dist.is_main:
                print(f"already trained: {_shown(result_path, out_dir, runs_from_env)} (delete that folder to train "
                      "again)")
            return RunResult(record if dist.is_main else None, run_dir)  # as a trained run: rank 0's
        if dist.is_main:
            ckpt.remove_stale_temporaries(run_dir)  # of a run killed while saving; no one else writes here

        train_set, val_set = make_datasets(copy, prof.image_size, train_transform(recipe, prof.image_size),
                                           eval_transform(prof.image_size, eval_resize(prof.image_size)),
                                           prof.preload)
        rank_batch = prof.batch_size // dist.world_size
        steps = len(train_set) // dist.world_size // max(rank_batch, 1)
        if prof.max_steps_per_epoch:
            steps = min(steps, prof.max_steps_per_epoch)
        ema_decay = ema_decay_for(max(1, steps * run_epochs)) if ema else None
        if ema_decay:
            recipe = recipe.replace(ema_decay=ema_decay)

        spec = {"regime": regime, "step": st.index, "step_name": st.name, "profile": prof.name, "dataset": dataset,
                "image_size": prof.image_size, "epochs": run_epochs, "batch_size": prof.batch_size, "seed": seed,
                "recipe": _plain(recipe.as_dict()), "config": _plain(asdict(cfg)), "overrides": _plain(variant),
                "data": data}
        torch.manual_seed(seed)
        model = Network(cfg, info.num_classes)
        if verbose and dist.is_main and prof.name == "smoke":
            print("SMOKE TEST: a tiny network on 200 images for a few seconds; it proves the code runs, its "
                  "accuracy means nothing. Set CONVNEXT_LESSON_PROFILE=cpu (or use a GPU) for a real run.")
        if verbose and dist.is_main:
            print(f"step {st.index} ({st.name}), {st.recipe} recipe, profile {prof.name}: {dataset} ({copy.origin}"
                  f"{', ' + copy.file if copy.file else ''}) at {prof.image_size} px, {run_epochs} epochs, batch "
                  f"{prof.batch_size}, seed {seed}, {count_params(model) / 1e6:.2f}M params, device {dev}"
                  + (f" x {dist.world_size} processes" if dist.enabled else ""))
        trainer = Trainer(model, train_set, val_set, recipe, epochs=run_epochs, batch_size=prof.batch_size,
                          seed=seed, run_dir=run_dir, spec=spec, num_classes=info.num_classes,
                          micro_batch=prof.micro_batch, device=dev, dist=dist, workers=prof.workers,
                          channels_last=prof.channels_last, compile=prof.compile, ema_decay=ema_decay,
                          max_steps_per_epoch=prof.max_steps_per_epoch, progress=progress, verbose=verbose)
        if prof.threads:
            torch.set_num_threads(prof.threads)
        history = trainer.fit(resume=resume)
        record = None
        if dist.is_main:
            record = make_record(st, prof, recipe, copy, cfg, variant, trainer, history, seed)
            results.write_record(record, result_path)
            if verbose:
                print(f"result: {_shown(result_path, out_dir, runs_from_env)}")
        barrier(dist)
    finally:
        torch.set_num_threads(threads)
        lock.close()
    trained = trainer.raw_model.eval()
    return RunResult(record, run_dir, trained)


def _shown(path: Path, out_dir: Path, from_env: bool) -> str:
    """A run's path as printed: relative to $CONVNEXT_LESSON_RUNS when that chose the folder (no machine paths)."""
    return f"${ENV_RUNS}/{path.relative_to(out_dir)}" if from_env else str(path)


def _plain(obj):
    """JSON-safe: tuples become lists (so a checkpoint's spec compares equal after loading)."""
    return json.loads(json.dumps(obj, default=str))


@lru_cache(maxsize=64)
def _gflops(cfg, image_size: int, num_classes: int) -> float:
    return count_flops(Network(cfg, num_classes), image_size)


def make_record(st, prof, recipe, copy, cfg, overrides, trainer: Trainer, history: list[dict], seed: int) -> dict:
    from datetime import datetime, timezone

    k = trainer.raw_model.num_classes
    best = max(history, key=lambda m: m["val_top1"])
    last = history[-1]
    samples = sum(m["images_per_s"] * m["train_time_s"] for m in history)
    train_time = sum(m["train_time_s"] for m in history)
    amp = {None: "none", torch.bfloat16: "bf16", torch.float16: "fp16"}[amp_dtype_for(trainer.device)]
    record = {
        "schema_version": results.SCHEMA_VERSION, "kind": results.KIND,
        "step": st.index, "step_name": st.name, "step_label": st.label, "regime": st.regime,
        "recipe": st.recipe, "recipe_settings": _plain(recipe.as_dict()),
        "profile": prof.name, "profile_settings": _plain(prof.as_dict()),
        "dataset": copy.describe(),
        "image_size": prof.image_size, "epochs": len(history), "batch_size": prof.batch_size,
        "micro_batch": trainer.micro, "accumulation": trainer.accum, "world_size": trainer.dist.world_size,
        "seed": seed, "config": _plain(asdict(cfg)), "overrides": _plain(overrides),
        "params": count_params(trainer.raw_model),
        "gflops": {"trained_resolution": _gflops(cfg, prof.image_size, k), "at_224": _gflops(cfg, 224, k),
                   "convention": "paper"},
        "top1": last["val_top1"], "top5": last["val_top5"],
        "best_top1": best["val_top1"], "best_top5": best["val_top5"], "best_epoch": best["epoch"],
        "ema": ({"decay": trainer.ema_decay, "top1": last["ema_val_top1"], "top5": last["ema_val_top5"]}
                if trainer.ema is not None else None),
        "paper_top1": st.paper_top1, "paper_gflops": st.paper_gflops,
        "wall_time_s": trainer.wall_time, "images_per_s": samples / max(train_time, 1e-9),
        "peak_memory_mb": max(m["peak_memory_mb"] for m in history),
        **results.environment(trainer.device),
        "amp": amp, "channels_last": prof.channels_last, "compiled": prof.compile,
        "started_at": trainer.started_at,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "resumes": trainer.resumes,
        "history": history,
    }
    return record
