"""``train(step)``: one roadmap step, trained the way its profile says, with a results record.

This is the glue: it resolves the profile, the step's network (scaled by the
profile), the recipe (scaled to the run), the dataset copy, and the run folder,
then hands them to the ``Trainer`` and writes ``result.json``.

Run folders: ``<out_dir>/<regime>-<profile>-<dataset>/step<NN>-<name>-seed<S>[-<overrides hash>]/``
holding ``checkpoint.pt`` (the latest state) and, once finished, ``result.json``.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from . import results
from .counting import count_flops, count_params
from .data import eval_resize, get_dataset_info, locate, make_datasets
from .distributed import barrier, init_distributed
from .engine import Trainer, amp_dtype_for
from .model import Network
from .profiles import get_profile, scale_config
from .recipes import ema_decay_for, eval_transform, get_recipe, train_transform
from .roadmap import get_step

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
    """
    st = get_step(step, regime)
    prof = get_profile(profile)
    changes = {k: v for k, v in dict(epochs=epochs, image_size=image_size, batch_size=batch_size,
                                     micro_batch=micro_batch, compile=compile).items() if v is not None}
    prof = prof.replace(**changes) if changes else prof
    dataset = dataset or prof.dataset
    info = get_dataset_info(dataset)
    for name, value in (("epochs", prof.epochs), ("image_size", prof.image_size), ("batch_size", prof.batch_size)):
        if int(value) < 1:
            raise ValueError(f"{name}={value} must be a positive integer")

    run_epochs = prof.epochs_for(st.recipe)
    recipe_changes = dict(recipe or {})
    recipe = get_recipe(st.recipe).scaled(run_epochs, prof.batch_size)
    recipe = recipe.replace(**recipe_changes) if recipe_changes else recipe
    cfg = scale_config(st.config, prof.width_mult, prof.depth_mult)
    if recipe.drop_path and not cfg.drop_path:
        cfg = cfg.replace(drop_path=round(recipe.drop_path, 6))
    cfg = cfg.replace(**overrides) if overrides else cfg
    model_min = 4 * 2 ** (len(cfg.depths) - 1)
    if prof.image_size < model_min:
        raise ValueError(f"image_size={prof.image_size} is too small: the network needs at least {model_min} px")

    runs_from_env = out_dir is None and bool(os.environ.get(ENV_RUNS))
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir()
    # what makes this run differ from the profile's plain step: its own folder, its own checkpoint
    sizing = {k: v for k, v in changes.items() if k != "compile"}
    variant = {**overrides, **({"recipe": recipe_changes} if recipe_changes else {}),
               **({"profile": sizing} if sizing else {})}
    run_dir = run_dir_for(out_dir, regime, prof.name, dataset, st, seed, variant)
    result_path = run_dir / results.RESULT_NAME
    if result_path.exists():
        record = results.read_record(result_path)
        if verbose:
            print(f"already trained: {_shown(result_path, out_dir, runs_from_env)} (delete that folder to train again)")
        return RunResult(record, run_dir)

    dev = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dist = init_distributed(dev.type)
    if dist.enabled and dev.type == "cuda":
        dev = torch.device("cuda", dist.local_rank)
    if not dist.is_main:
        barrier(dist)  # rank 0 unpacks or downloads the data first
    if download is None:  # Colab sessions start bare and are online: fetch the official archive there
        from .notebook import in_colab
        download = in_colab()
    copy = locate(dataset, data_dir, download_missing=download, progress=progress and dist.is_main)
    if dist.is_main:
        barrier(dist)

    train_set, val_set = make_datasets(copy, prof.image_size, train_transform(recipe, prof.image_size),
                                       eval_transform(prof.image_size, eval_resize(prof.image_size)), prof.preload)
    rank_batch = prof.batch_size // dist.world_size
    steps = len(train_set) // dist.world_size // max(rank_batch, 1)
    if prof.max_steps_per_epoch:
        steps = min(steps, prof.max_steps_per_epoch)
    ema_decay = ema_decay_for(max(1, steps * run_epochs)) if ema else None
    if ema_decay:
        recipe = recipe.replace(ema_decay=ema_decay)

    spec = {"regime": regime, "step": st.index, "step_name": st.name, "profile": prof.name, "dataset": dataset,
            "image_size": prof.image_size, "epochs": run_epochs, "batch_size": prof.batch_size, "seed": seed,
            "recipe": _plain(recipe.as_dict()), "config": _plain(asdict(cfg)), "overrides": _plain(variant)}
    torch.manual_seed(seed)
    model = Network(cfg, info.num_classes)
    if verbose and dist.is_main and prof.name == "smoke":
        print("SMOKE TEST: a tiny network on 200 images for a few seconds; it proves the code runs, its accuracy "
              "means nothing. Set CONVNEXT_LESSON_PROFILE=cpu (or use a GPU) for a real run.")
    if verbose and dist.is_main:
        print(f"step {st.index} ({st.name}), {st.recipe} recipe, profile {prof.name}: {dataset} ({copy.origin}"
              f"{', ' + copy.file if copy.file else ''}) at {prof.image_size} px, {run_epochs} epochs, batch "
              f"{prof.batch_size}, seed {seed}, {count_params(model) / 1e6:.2f}M params, device {dev}"
              + (f" x {dist.world_size} processes" if dist.enabled else ""))
    trainer = Trainer(model, train_set, val_set, recipe, epochs=run_epochs, batch_size=prof.batch_size, seed=seed,
                      run_dir=run_dir, spec=spec, num_classes=info.num_classes, micro_batch=prof.micro_batch,
                      device=dev, dist=dist, workers=prof.workers, channels_last=prof.channels_last,
                      compile=prof.compile, ema_decay=ema_decay, max_steps_per_epoch=prof.max_steps_per_epoch,
                      progress=progress, verbose=verbose)
    threads = torch.get_num_threads()
    if prof.threads:
        torch.set_num_threads(prof.threads)
    try:
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
