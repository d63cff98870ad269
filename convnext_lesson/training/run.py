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
from .data import locate
from .datasets import DatasetCopy
from .distributed import barrier, main_first
from .engine import Trainer
from .images import make_datasets
from .plan import ENV_RUNS, RunOptions, RunPlan, copy_identity, plan_run
from .recipes import train_transform
from ..model.threads import cpu_threads
from .runtime import Runtime, amp_name, start_runtime


@dataclass
class RunResult:
    """What ``train`` returns: the record, the per-epoch history, the run folder and the trained model.
    ``reference``: a committed reference run shown in place of the learner's (no model, another profile maybe)."""

    record: dict
    run_dir: Path
    model: nn.Module | None = field(default=None, repr=False)
    reference: bool = False

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
          device: str | None = None, amp: str = "auto", cpu_kernels: str | None = None, progress: bool = True,
          verbose: bool = True, **overrides) -> RunResult:
    """Train roadmap ``step`` under ``profile`` (default: ``$CONVNEXT_LESSON_PROFILE`` or the hardware's).

    ``dataset`` defaults to the profile's; ``epochs``, ``image_size``, ``batch_size``,
    ``micro_batch`` and ``compile`` override the profile; ``recipe`` changes settings
    of the scaled recipe (``{"mix_prob": 0.0}``); other keyword arguments change the
    step's config (``kernel_size=9``). A finished run is loaded, not
    trained again; an unfinished one is continued with ``resume=True``. ``download``: fetch the
    official archive when no copy is found (default: only on Colab). ``amp``: auto, bf16, fp16 or none.
    ``cpu_kernels``: auto, library, folded or course (how a CPU computes depthwise and pointwise convolutions;
    default: the profile's; ``model.cpu_kernels``).
    The keywords are ``plan.RunOptions``' fields, where each is described once.

    Whatever changes what a run computes (config, recipe or sizing changes, ``ema``, a dataset
    copy other than the offline pack) gives it its own run folder, which one process at a time trains.
    ``plan_run`` with the same arguments (without ``progress`` and ``verbose``) shows what this will do.
    """
    options = {k: v for k, v in locals().items() if k in RunOptions.__dataclass_fields__}
    return execute(plan_run(step, **options, **overrides), progress=progress, verbose=verbose)


def execute(plan: RunPlan, progress: bool = True, verbose: bool = True) -> RunResult:
    """Run ``plan``: the data, the run folder (one process at a time), the network, the Trainer, the record."""
    prof = plan.profile
    runtime = start_runtime(plan.device, amp_name(plan.amp), prof, progress, verbose, plan.cpu_kernels)
    copy = find_data(runtime, plan.dataset, plan.data_dir, plan.download)
    data = copy_identity(copy.describe())
    own_copy = copy.origin != "offline-pack"  # another copy of the dataset gets its own run folder
    variant = {**plan.variant, **({"data": data} if own_copy else {})}
    run_dir = plan.run_dir(data if own_copy else None)
    with ExitStack() as stack:
        hold_run_folder(runtime, run_dir, stack)
        if (run_dir / results.RESULT_NAME).exists():
            return _trained_before(plan, run_dir, data, runtime)
        if runtime.dist.is_main:
            ckpt.remove_stale_temporaries(run_dir)  # of a run killed while saving; no one else writes here
        description = describe_run(plan, copy, variant)
        train_set, val_set = make_datasets(copy, prof.image_size, train_transform(plan.recipe, prof.image_size),
                                           prof.preload)
        torch.manual_seed(plan.seed)
        model = Network(plan.config, plan.num_classes)
        _announce(plan, copy, model, runtime)
        trainer = Trainer(model, train_set, val_set, plan.recipe, runtime, epochs=plan.epochs,
                          steps_per_epoch=plan.steps_per_epoch, batch_size=prof.batch_size,
                          micro_batch=prof.micro_batch, seed=plan.seed, run_dir=run_dir, spec=run_spec(description))
        with cpu_threads(runtime.threads):
            history = trainer.fit(resume=plan.resume)
            record = None
            if runtime.dist.is_main:
                record = make_record(description, plan, trainer, history)
                results.write_record(record, run_dir / results.RESULT_NAME)
                if runtime.verbose:
                    print(f"result: {_shown(run_dir / results.RESULT_NAME, plan)}")
            barrier(runtime.dist)
    return RunResult(record, run_dir, trainer.raw_model.eval())


# -- the parts every run on the Trainer shares (``execute`` here, ``finetune.finetune``) ---------------------------

def find_data(runtime: Runtime, dataset: str, data_dir=None, download: bool = False) -> DatasetCopy:
    """The dataset's copy; rank 0 unpacks or downloads it first, and its error, if any, ends every rank."""
    return main_first(runtime.dist, lambda: locate(dataset, data_dir, download_missing=download,
                                                   progress=runtime.progress))


def hold_run_folder(runtime: Runtime, run_dir: Path, stack: ExitStack) -> None:
    """Rank 0 holds ``run_dir``'s lock until ``stack`` closes: one process (group) at a time trains a folder."""
    main_first(runtime.dist, lambda: stack.enter_context(ckpt.lock_run_folder(run_dir)), on_every_rank=False)


# -- execute's own parts ---------------------------------------------------------------------------------------------

def _trained_before(plan: RunPlan, run_dir: Path, data: str, runtime: Runtime) -> RunResult:
    """A finished run, loaded (rank 0's record; the other ranks get None)."""
    result_path = run_dir / results.RESULT_NAME
    record = results.read_record(result_path)
    if copy_identity(record["dataset"]) != data:  # a folder written before copies had their own
        raise ValueError(f"{run_dir} holds a run on another copy of {plan.dataset} "
                         f"({copy_identity(record['dataset'])}, not {data}); delete that folder to train "
                         "again, or use another output folder")
    if runtime.verbose:
        print(f"already trained: {_shown(result_path, plan)} (delete that folder to train again)")
    return RunResult(record if runtime.dist.is_main else None, run_dir)


def _announce(plan: RunPlan, copy: DatasetCopy, model: nn.Module, runtime: Runtime) -> None:
    st, prof, dist = plan.step, plan.profile, runtime.dist
    if not runtime.verbose:
        return
    if prof.name == "smoke":
        print("SMOKE TEST: a tiny network on 200 images for a few seconds; it proves the code runs, its "
              "accuracy means nothing. Set CONVNEXT_LESSON_PROFILE=cpu (or use a GPU) for a real run.")
    print(f"step {st.index} ({st.name}), {st.recipe} recipe, profile {prof.name}: {plan.dataset} ({copy.origin}"
          f"{', ' + copy.file if copy.file else ''}) at {prof.image_size} px, {plan.epochs} epochs, batch "
          f"{prof.batch_size}, seed {plan.seed}, {count_params(model) / 1e6:.2f}M params, device {runtime.device}"
          + (", the short-run start (Kaiming init, no layer scale)" if prof.short_run_start and
             (st.config.init, st.config.layer_scale) != (plan.config.init, plan.config.layer_scale) else "")
          + (f" x {dist.world_size} processes" if dist.enabled else ""))
    if runtime.threads == 1 and runtime.threads_reason:  # the run chose one thread (a busy machine)
        print(f"CPU threads: {runtime.threads_reason} (python -m convnext_lesson cpu-speed --busy measures it)")


def _shown(path: Path, plan: RunPlan) -> str:
    """A run's path as printed: relative to $CONVNEXT_LESSON_RUNS when that chose the folder (no machine paths)."""
    return f"${ENV_RUNS}/{path.relative_to(plan.out_dir)}" if plan.out_dir_from_env else str(path)


def _plain(obj):
    """JSON-safe: tuples become lists (so a checkpoint's spec compares equal after loading)."""
    return json.loads(json.dumps(obj, default=str))


@lru_cache(maxsize=64)
def _gflops(cfg, image_size: int, num_classes: int) -> float:
    return count_flops(Network(cfg, num_classes), image_size)


def describe_run(plan: RunPlan, copy: DatasetCopy, variant: dict) -> dict:
    """What a run is, in the record's own key names: the record begins with it, and the checkpoint's spec is the
    part of it that names the run (``run_spec``)."""
    st, prof = plan.step, plan.profile
    return {"step": st.index, "step_name": st.name, "step_label": st.label, "regime": st.regime,
            "recipe": st.recipe, "recipe_settings": _plain(plan.recipe.as_dict()),
            "profile": prof.name, "profile_settings": _plain(prof.as_dict()), "dataset": copy.describe(),
            "image_size": prof.image_size, "epochs": plan.epochs, "batch_size": prof.batch_size, "seed": plan.seed,
            "config": _plain(asdict(plan.config)), "overrides": _plain(variant)}


SPEC_KEYS = ("regime", "step", "step_name", "profile", "image_size", "epochs", "batch_size", "seed",
             "recipe_settings", "config", "overrides")


def run_spec(description: dict) -> dict:
    """What a checkpoint must match to be resumed: the run's identity (its dataset copy, not where it lies)."""
    return {k: description[k] for k in SPEC_KEYS} | {"dataset": copy_identity(description["dataset"])}


def make_record(description: dict, plan: RunPlan, trainer: Trainer, history: list[dict]) -> dict:
    cfg, k, image_size = plan.config, plan.num_classes, description["image_size"]
    best = max(history, key=lambda m: m["val_top1"])
    last = history[-1]
    samples = sum(m["images_per_s"] * m["train_time_s"] for m in history)
    train_time = sum(m["train_time_s"] for m in history)
    return {
        "schema_version": results.SCHEMA_VERSION, "kind": results.KIND, **description, "epochs": len(history),
        "micro_batch": trainer.micro, "accumulation": trainer.accum, "world_size": trainer.dist.world_size,
        "params": count_params(trainer.raw_model),
        "gflops": {"trained_resolution": _gflops(cfg, image_size, k), "at_224": _gflops(cfg, 224, k),
                   "convention": "paper"},
        "top1": last["val_top1"], "top5": last["val_top5"],
        "best_top1": best["val_top1"], "best_top5": best["val_top5"], "best_epoch": best["epoch"],
        "ema": ({"decay": trainer.ema_decay, "top1": last["ema_val_top1"], "top5": last["ema_val_top5"]}
                if trainer.ema is not None else None),
        "paper_top1": plan.step.paper_top1, "paper_gflops": plan.step.paper_gflops,
        "wall_time_s": trainer.wall_time, "images_per_s": samples / max(train_time, 1e-9),
        "peak_memory_mb": max(m["peak_memory_mb"] for m in history),
        **results.environment(trainer.device),
        "amp": amp_name(trainer.amp_dtype), **trainer.cuda_settings, "channels_last": trainer.channels_last,
        "compiled": trainer.runtime.compile, "threads": trainer.threads, "threads_reason": trainer.threads_reason,
        "cpu_kernels": trainer.cpu_kernels, "cpu_kernels_timing": trainer.cpu_kernels_timing,
        "started_at": trainer.started_at,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "resumes": trainer.resumes,
        "history": history,
    }
