"""``train(step)``: a run planned (``plan.plan_run``), then executed on the ``Trainer``, with a results record.

``execute(plan)`` finds the data, takes the run folder, builds the network and the ``Trainer``,
trains (or loads a finished run) and writes ``result.json``; ``train(...)`` is ``execute(plan_run(...))``.
"""
from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from ..model.counting import count_flops, count_params
from ..model.network import Network
from . import checkpoint as ckpt
from . import results
from .data import eval_resize, locate, make_datasets
from .distributed import barrier, init_distributed, main_first
from .engine import Trainer
from .plan import ENV_RUNS, RunPlan, copy_identity, plan_run
from .recipes import eval_transform, train_transform
from .runtime import amp_name, cpu_threads


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
    ``plan_run`` with the same arguments (without ``progress`` and ``verbose``) shows what this will do.
    """
    plan = plan_run(step, profile=profile, dataset=dataset, regime=regime, data_dir=data_dir, out_dir=out_dir,
                    seed=seed, resume=resume, download=download, ema=ema, recipe=recipe, epochs=epochs,
                    image_size=image_size, batch_size=batch_size, micro_batch=micro_batch, compile=compile,
                    device=device, **overrides)
    return execute(plan, progress=progress, verbose=verbose)


def execute(plan: RunPlan, progress: bool = True, verbose: bool = True) -> RunResult:
    """Run ``plan``: the data, the run folder (one process at a time), the network, the Trainer, the record."""
    st, prof, recipe = plan.step, plan.profile, plan.recipe
    dist = init_distributed(plan.device.type)
    dev = torch.device("cuda", dist.local_rank) if dist.enabled and plan.device.type == "cuda" else plan.device
    # rank 0 unpacks or downloads the data first; its error, if any, ends every rank
    copy = main_first(dist, lambda: locate(plan.dataset, plan.data_dir, download_missing=plan.download,
                                           progress=progress and dist.is_main))
    data = copy_identity(copy.describe())
    own_copy = copy.origin != "offline-pack"  # another copy of the dataset gets its own run folder
    variant = {**plan.variant, **({"data": data} if own_copy else {})}
    run_dir = plan.run_dir(data if own_copy else None)
    result_path = run_dir / results.RESULT_NAME
    lock = ExitStack()
    main_first(dist, lambda: lock.enter_context(ckpt.lock_run_folder(run_dir)), on_every_rank=False)
    with lock:
        if result_path.exists():
            record = results.read_record(result_path)
            if copy_identity(record["dataset"]) != data:  # a folder written before copies had their own
                raise ValueError(f"{run_dir} holds a run on another copy of {plan.dataset} "
                                 f"({copy_identity(record['dataset'])}, not {data}); delete that folder to train "
                                 "again, or use another output folder")
            if verbose and dist.is_main:
                print(f"already trained: {_shown(result_path, plan)} (delete that folder to train again)")
            return RunResult(record if dist.is_main else None, run_dir)  # as a trained run: rank 0's
        if dist.is_main:
            ckpt.remove_stale_temporaries(run_dir)  # of a run killed while saving; no one else writes here

        train_set, val_set = make_datasets(copy, prof.image_size, train_transform(recipe, prof.image_size),
                                           eval_transform(prof.image_size, eval_resize(prof.image_size)),
                                           prof.preload)
        spec = {"regime": st.regime, "step": st.index, "step_name": st.name, "profile": prof.name,
                "dataset": plan.dataset, "image_size": prof.image_size, "epochs": plan.epochs,
                "batch_size": prof.batch_size, "seed": plan.seed, "recipe": _plain(recipe.as_dict()),
                "config": _plain(asdict(plan.config)), "overrides": _plain(variant), "data": data}
        torch.manual_seed(plan.seed)
        model = Network(plan.config, plan.num_classes)
        if verbose and dist.is_main and prof.name == "smoke":
            print("SMOKE TEST: a tiny network on 200 images for a few seconds; it proves the code runs, its "
                  "accuracy means nothing. Set CONVNEXT_LESSON_PROFILE=cpu (or use a GPU) for a real run.")
        if verbose and dist.is_main:
            print(f"step {st.index} ({st.name}), {st.recipe} recipe, profile {prof.name}: {plan.dataset} ({copy.origin}"
                  f"{', ' + copy.file if copy.file else ''}) at {prof.image_size} px, {plan.epochs} epochs, batch "
                  f"{prof.batch_size}, seed {plan.seed}, {count_params(model) / 1e6:.2f}M params, device {dev}"
                  + (", the short-run start (Kaiming init, no layer scale)" if prof.short_run_start and
                     (st.config.init, st.config.layer_scale) != (plan.config.init, plan.config.layer_scale) else "")
                  + (f" x {dist.world_size} processes" if dist.enabled else ""))
        trainer = Trainer(model, train_set, val_set, recipe, epochs=plan.epochs, batch_size=prof.batch_size,
                          seed=plan.seed, run_dir=run_dir, spec=spec, num_classes=plan.num_classes,
                          micro_batch=prof.micro_batch, device=dev, dist=dist, workers=prof.workers,
                          channels_last=prof.channels_last, compile=prof.compile, amp=amp_name(plan.amp),
                          max_steps_per_epoch=prof.max_steps_per_epoch, progress=progress, verbose=verbose)
        with cpu_threads(prof.threads):
            history = trainer.fit(resume=plan.resume)
            record = None
            if dist.is_main:
                record = make_record(plan, copy, variant, trainer, history)
                results.write_record(record, result_path)
                if verbose:
                    print(f"result: {_shown(result_path, plan)}")
            barrier(dist)
    return RunResult(record, run_dir, trainer.raw_model.eval())


def _shown(path: Path, plan: RunPlan) -> str:
    """A run's path as printed: relative to $CONVNEXT_LESSON_RUNS when that chose the folder (no machine paths)."""
    return f"${ENV_RUNS}/{path.relative_to(plan.out_dir)}" if plan.out_dir_from_env else str(path)


def _plain(obj):
    """JSON-safe: tuples become lists (so a checkpoint's spec compares equal after loading)."""
    return json.loads(json.dumps(obj, default=str))


@lru_cache(maxsize=64)
def _gflops(cfg, image_size: int, num_classes: int) -> float:
    return count_flops(Network(cfg, num_classes), image_size)


def make_record(plan: RunPlan, copy, variant: dict, trainer: Trainer, history: list[dict]) -> dict:
    st, prof, cfg, k = plan.step, plan.profile, plan.config, plan.num_classes
    best = max(history, key=lambda m: m["val_top1"])
    last = history[-1]
    samples = sum(m["images_per_s"] * m["train_time_s"] for m in history)
    train_time = sum(m["train_time_s"] for m in history)
    return {
        "schema_version": results.SCHEMA_VERSION, "kind": results.KIND,
        "step": st.index, "step_name": st.name, "step_label": st.label, "regime": st.regime,
        "recipe": st.recipe, "recipe_settings": _plain(plan.recipe.as_dict()),
        "profile": prof.name, "profile_settings": _plain(prof.as_dict()),
        "dataset": copy.describe(),
        "image_size": prof.image_size, "epochs": len(history), "batch_size": prof.batch_size,
        "micro_batch": trainer.micro, "accumulation": trainer.accum, "world_size": trainer.dist.world_size,
        "seed": plan.seed, "config": _plain(asdict(cfg)), "overrides": _plain(variant),
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
        "amp": amp_name(trainer.amp_dtype), **trainer.cuda_settings, "channels_last": prof.channels_last, "compiled": prof.compile,
        "started_at": trainer.started_at,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "resumes": trainer.resumes,
        "history": history,
    }
