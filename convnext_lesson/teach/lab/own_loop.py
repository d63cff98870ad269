"""Notebook 02's proof that a learner's own training step is what the package's Trainer does.

The Trainer of a real run (``plan_run``: the profile's network, data, recipe and seed) and the learner's step
function start from the same weights and get the same batches, mixed by the same random numbers; after a few
steps their weights must be identical, bit for bit, since both do the same arithmetic in the same order. A
learner's step that leaves out ``zero_grad`` or steps the scheduler twice ends with other weights, and the
check says which tensor differs first.
"""
from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ...model.network import Network
from ...model.threads import cpu_threads
from ...training.engine import Trainer
from ...training.images import make_datasets
from ...training.plan import plan_run
from ...training.recipes import make_optimizer, make_scheduler, train_transform
from ...training.run import find_data
from ...training.runtime import amp_name, start_runtime
from ...training.seeding import mix_seed


@dataclass
class LoopCheck:
    """What ``compare_with_trainer`` found: the losses of each step (the Trainer's, yours) and the weights."""

    steps: int
    losses: list[tuple[float, float]]
    same_weights: bool
    first_difference: str | None  # the first tensor (state-dict name) whose values differ; None if none does

    def __str__(self) -> str:
        lines = [f"step {k + 1}: loss {theirs:.4f} (Trainer) {mine:.4f} (yours)"
                 for k, (theirs, mine) in enumerate(self.losses)]
        lines.append(f"after {self.steps} steps, every weight identical to the Trainer's: {self.same_weights}"
                     + (f" (first difference: {self.first_difference})" if self.first_difference else ""))
        return "\n".join(lines)


def trainer_for(step: int = 1, profile=None, **options) -> Trainer:
    """The Trainer ``cl.train(step, profile, **options)`` would build, before its first step (nothing is saved)."""
    plan = plan_run(step, profile=profile, **options)
    if plan.amp is not None:
        raise ValueError("the loop check compares float32 steps; mixed precision (a GPU's) adds a gradient "
                         "scaler the five-line loop does not have: run it on the CPU (device='cpu')")
    prof = plan.profile
    runtime = start_runtime(plan.device, amp_name(plan.amp), prof, progress=False, verbose=False)
    data = find_data(runtime, plan.dataset, plan.data_dir, plan.download)
    train_set, val_set = make_datasets(data, prof.image_size, train_transform(plan.recipe, prof.image_size),
                                       prof.preload)
    torch.manual_seed(plan.seed)
    model = Network(plan.config, plan.num_classes)
    run_dir = Path(tempfile.gettempdir()) / "convnext-lesson-loop-check"  # only a checkpoint would write here
    return Trainer(model, train_set, val_set, plan.recipe, runtime, epochs=plan.epochs,
                   steps_per_epoch=plan.steps_per_epoch, batch_size=prof.batch_size, micro_batch=None,
                   seed=plan.seed, run_dir=run_dir, spec={})


def compare_with_trainer(train_step, steps: int = 3, step: int = 1, profile=None, device: str = "cpu",
                         **options) -> LoopCheck:
    """Run ``steps`` optimizer steps of the Trainer and of ``train_step(model, optimizer, scheduler, criterion,
    x, y)`` (which returns the loss) side by side, from the same weights on the same mixed batches. On the CPU
    by default, also where a GPU is: a GPU's mixed precision and its backward kernels' atomic adds would make
    two identical steps differ in their last bits."""
    trainer = trainer_for(step, profile, device=device, **options)
    mine = copy.deepcopy(trainer.raw_model)  # the same weights, in the same memory layout
    optimizer = make_optimizer(mine, trainer.recipe)
    scheduler = make_scheduler(optimizer, trainer.recipe, trainer.total_steps)
    criterion = nn.CrossEntropyLoss(label_smoothing=trainer.recipe.label_smoothing)
    trainer.sampler.set_epoch(0)
    batches = iter(trainer.train_loader)
    losses = []
    with cpu_threads(trainer.runtime.threads):
        for k in range(steps):
            batch = trainer._to_device(*next(batches))
            seed = mix_seed(trainer.seed, 0, k, trainer.dist.rank)  # what the Trainer seeds each step with
            torch.manual_seed(seed)
            theirs = trainer._train_step(iter([batch]))
            torch.manual_seed(seed)  # the same mixing, then the same drop-path draws in the forward pass
            x, y = trainer.mixer(*batch)
            loss = train_step(mine, optimizer, scheduler, criterion, x, y)
            losses.append((float(theirs), float(loss.detach()) if loss is not None else float("nan")))
    ours, yours = trainer.raw_model.state_dict(), mine.state_dict()
    first = next((name for name in ours if not torch.equal(ours[name], yours[name])), None)
    return LoopCheck(steps, losses, first is None, first)
