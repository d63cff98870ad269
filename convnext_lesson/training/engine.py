"""The training loop every notebook, command and multi-GPU run uses.

Speed: mixed precision (``amp``), channels-last, cudnn.benchmark, fused AdamW, optional torch.compile.
Safety: a checkpoint after every epoch and on Ctrl-C, exact resume (``seeding``), a clear stop on a NaN loss,
and a CUDA out-of-memory error retried with half the micro-batch (in evaluation, half the batch).
"""
from __future__ import annotations

import math
import time
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from . import checkpoint as ckpt
from .distributed import all_reduce_sum, barrier
from .recipes import BatchMixer, Recipe, make_optimizer, make_scheduler
from .memory import peak_rss_mb
from .runtime import Runtime, autocast, grad_scaler, synchronize
from .seeding import EpochSampler, mix_seed
from .stop import StopRequest
from ..model.cpu_kernels import set_kernels
from ..model.threads import use_threads

LOSS_CHECK_EVERY = 20  # steps between loss read-backs (each one waits for the GPU)


class TrainingError(RuntimeError):
    """The run cannot go on (diverged, or out of memory even at micro-batch 1)."""


def steps_per_epoch(train_images: int, batch_size: int, max_steps: int | None = None) -> int:
    """Optimizer steps in an epoch: whole batches only, at most ``max_steps``. The same over any number of
    processes: each takes batch_size / processes images of its share of the training set."""
    steps = train_images // batch_size
    return min(steps, max_steps) if max_steps else steps


def forward_backward(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, criterion,
                     amp_dtype: torch.dtype | None = None, scaler=None, divide: int = 1) -> torch.Tensor:
    """A forward pass under autocast to ``amp_dtype``, then the backward pass of ``loss / divide`` (scaled by
    ``scaler`` for fp16); returns the loss. The package's only backward pass: the Trainer's step, and what the
    speed measurements time."""
    with autocast(images.device, amp_dtype):
        loss = criterion(model(images), labels)
    (scaler.scale(loss / divide) if scaler is not None else loss / divide).backward()
    return loss


class Trainer:
    """Trains ``model`` on ``train_set`` with ``recipe``, evaluating on ``val_set`` every epoch, as ``runtime`` says.

    ``batch_size`` is the effective batch (all processes, all accumulation steps); ``micro_batch`` is what one
    process runs at once (None: its whole share). ``steps_per_epoch`` comes from the run's plan. ``spec``
    identifies the run; a checkpoint with another spec is refused. ``recipe.ema_decay`` (None: off) keeps an EMA
    of the weights. ``param_groups`` (default: the recipe's weight-decay groups) may give groups their own ``lr``,
    as fine-tuning does for a new head.
    """

    def __init__(self, model: nn.Module, train_set, val_set, recipe: Recipe, runtime: Runtime, *, epochs: int,
                 steps_per_epoch: int, batch_size: int, seed: int, run_dir: Path, spec: dict,
                 micro_batch: int | None = None, param_groups: list[dict] | None = None):
        dist = runtime.dist
        self.runtime, self.device, self.dist, self.amp_dtype = runtime, runtime.device, dist, runtime.amp
        self.recipe, self.epochs, self.seed, self.run_dir, self.spec = recipe, epochs, seed, Path(run_dir), spec
        self.progress, self.verbose = runtime.progress, runtime.verbose
        self.train_set, self.val_set = train_set, val_set
        if batch_size % dist.world_size:
            raise ValueError(f"batch size {batch_size} does not divide over {dist.world_size} processes")
        self.rank_batch = batch_size // dist.world_size
        self.micro = micro_batch or self.rank_batch
        if self.rank_batch % self.micro:
            raise ValueError(f"micro-batch {self.micro} does not divide the per-process batch {self.rank_batch}")
        self.accum = self.rank_batch // self.micro
        if not 1 <= steps_per_epoch * batch_size <= len(train_set):
            raise ValueError(f"the training set ({len(train_set)} images) does not hold {steps_per_epoch} steps "
                             f"of {batch_size} images" + (" (it is smaller than one batch)"
                                                          if len(train_set) < batch_size else ""))
        self.steps_per_epoch, self.total_steps = steps_per_epoch, steps_per_epoch * epochs

        self.cuda_settings = runtime.cuda_settings  # cuDNN autotuning and TF32, for the record
        self.channels_last = runtime.channels_last
        self.raw_model = model.to(self.device)
        if self.channels_last:
            self.raw_model = self.raw_model.to(memory_format=torch.channels_last)
        self.model = self.raw_model
        if dist.enabled:
            self.model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[dist.local_rank] if self.device.type == "cuda" else None)
        if runtime.compile:
            self.model = torch.compile(self.model)
        self.optimizer = make_optimizer(self.raw_model, recipe, fused=self.device.type == "cuda",
                                        groups=param_groups)
        self.scheduler = make_scheduler(self.optimizer, recipe, self.total_steps)
        self.scaler = grad_scaler(self.amp_dtype)
        self.ema, self.ema_decay = None, recipe.ema_decay
        if self.ema_decay:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.ema = AveragedModel(self.raw_model, multi_avg_fn=get_ema_multi_avg_fn(self.ema_decay),
                                     use_buffers=True)
        self.mixer = BatchMixer(recipe, model.num_classes)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
        self.sampler = EpochSampler(train_set, dist, seed)
        self._build_loaders()
        self.history: list[dict] = []
        self.epoch, self.step = 0, 0  # position: the next step to run
        self.partial = {"loss_sum": 0.0, "samples": 0, "train_time": 0.0}
        self.wall_time, self.resumes = 0.0, 0
        # the CPU threads: fixed at the run's first start and kept by its resumes (the low bits depend on them)
        self.threads, self.threads_reason = None, runtime.threads_reason
        # likewise how the CPU computes depthwise and pointwise convolutions (model/cpu_kernels.py), auto's timings
        self.cpu_kernels, self.cpu_kernels_timing = None, None
        self.step_lr = recipe.lr  # the learning rate of the last optimizer step (for the divergence message)
        self.started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.ckpt_path = self.run_dir / ckpt.CHECKPOINT_NAME

    # -- data ----------------------------------------------------------------------------------------------------

    def _build_loaders(self) -> None:
        cuda = self.device.type == "cuda"
        workers = self.runtime.workers
        common = dict(num_workers=workers, pin_memory=cuda, persistent_workers=workers > 0)
        self.train_loader = DataLoader(self.train_set, batch_size=self.micro, sampler=self.sampler, drop_last=True,
                                       **common)
        shard = torch.utils.data.Subset(self.val_set, range(self.dist.rank, len(self.val_set), self.dist.world_size))
        self.val_loader = DataLoader(shard, batch_size=max(self.micro, 64), shuffle=False, **common)

    def _to_device(self, x: torch.Tensor, y: torch.Tensor):
        x = x.to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(self.device, non_blocking=True)

    def _autocast(self):
        return autocast(self.device, self.amp_dtype)

    # -- one optimizer step --------------------------------------------------------------------------------------

    def _train_step(self, batches) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.device)
        for k in range(self.accum):
            x, y = self._to_device(*next(batches))
            x, y = self.mixer(x, y)
            last = k == self.accum - 1
            sync = self.model.no_sync() if (self.dist.enabled and not last and hasattr(self.model, "no_sync")) \
                else nullcontext()
            with sync:
                loss = forward_backward(self.model, x, y, self.criterion, self.amp_dtype, self.scaler, self.accum)
            total += loss.detach().float()
        self.step_lr = self.optimizer.param_groups[0]["lr"]  # before the scheduler moves it on
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.raw_model)
        return total / self.accum

    def _shrink_after_oom(self, message: str):
        """Half the micro-batch, twice the accumulation (the same effective batch), and the batches again from this
        step. Called outside the ``except``: the failed step's tensors are garbage and ``empty_cache`` frees them."""
        self.optimizer.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        if self.dist.enabled or self.micro == 1 or self.micro % 2:
            why = ("several processes cannot agree on a new size mid-run" if self.dist.enabled
                   else f"micro-batch {self.micro} cannot be halved")
            raise TrainingError(f"out of memory at micro-batch {self.micro} and {why}; restart with a smaller "
                                f"micro_batch (command line: --micro-batch). The device said: {message[:300]}")
        self.micro //= 2
        self.accum *= 2
        if self.verbose:
            print(f"out of memory: retrying this step with micro-batch {self.micro} x {self.accum} (the same batch)")
        self._build_loaders()
        self.sampler.start = self.step * self.rank_batch
        return iter(self.train_loader)

    # -- epochs ---------------------------------------------------------------------------------------------------

    def _train_epoch(self, stop: StopRequest) -> None:
        from tqdm.auto import tqdm

        epoch = self.epoch
        self.sampler.set_epoch(epoch)
        self.sampler.start = self.step * self.rank_batch
        batches = iter(self.train_loader)
        loss_sum = torch.tensor(self.partial["loss_sum"], device=self.device)
        samples, t0 = self.partial["samples"], time.perf_counter()
        bar = tqdm(total=self.steps_per_epoch, initial=self.step, desc=f"epoch {epoch + 1}/{self.epochs}",
                   disable=not self.progress, leave=False, dynamic_ncols=True)
        try:
            while self.step < self.steps_per_epoch:
                torch.manual_seed(mix_seed(self.seed, epoch, self.step, self.dist.rank))  # mixing, drop path
                oom = None
                try:
                    loss = self._train_step(batches)
                except torch.cuda.OutOfMemoryError as error:  # torch.OutOfMemoryError in torch >= 2.5
                    oom = str(error)  # only the text: the error's traceback holds the failed step's tensors
                if oom is not None:  # outside the except, where those tensors are free again
                    batches = self._shrink_after_oom(oom)
                    continue
                loss_sum += loss * self.rank_batch
                samples += self.rank_batch
                self.step += 1
                bar.update(1)
                if self.step % LOSS_CHECK_EVERY == 0 or self.step == self.steps_per_epoch:
                    value = self._check_loss(loss_sum, samples)
                    bar.set_postfix(loss=f"{value:.3f}", lr=f"{self.optimizer.param_groups[0]['lr']:.2e}")
                if self._should_stop(stop):
                    self.partial = {"loss_sum": loss_sum.item(), "samples": samples,
                                    "train_time": self.partial["train_time"] + time.perf_counter() - t0}
                    raise KeyboardInterrupt
        finally:
            bar.close()
        synchronize(self.device)
        self.partial = {"loss_sum": loss_sum.item(), "samples": samples,
                        "train_time": self.partial["train_time"] + time.perf_counter() - t0}

    def _check_loss(self, loss_sum: torch.Tensor, samples: int) -> float:
        total = all_reduce_sum(torch.stack([loss_sum.detach().float(),
                                            torch.tensor(float(samples), device=self.device)]), self.dist)
        value = (total[0] / total[1]).item()
        if not math.isfinite(value):
            kept = (f"the last good checkpoint (end of epoch {self.epoch}) is kept at {self.ckpt_path}"
                    if self.history else "no checkpoint was written yet")
            raise TrainingError(f"the loss became {value} in epoch {self.epoch + 1}, step {self.step} (learning rate "
                                f"{self.step_lr:.3g}): training diverged. {kept}. Try a lower learning rate, or full "
                                "precision (amp='none'; command line: --amp none)")
        return value

    def _should_stop(self, stop: StopRequest) -> bool:
        if not self.dist.enabled:
            return stop.requested
        if self.step % LOSS_CHECK_EVERY and self.step != self.steps_per_epoch:
            return False  # agreeing costs a GPU sync: ask every few steps
        flag = all_reduce_sum(torch.tensor([float(stop.requested)], device=self.device), self.dist)
        return flag.item() > 0  # every process stops at the same step

    @torch.no_grad()
    def evaluate(self, model: nn.Module | None = None) -> dict:
        """Loss, top-1 and top-5 (%) on the validation set, summed over processes.

        Runs the unwrapped model: DDP's forward would broadcast buffers, a collective
        that hangs when two processes' shards have different numbers of batches.
        """
        model = model or self.raw_model
        was_training = model.training
        model.eval()
        sums = torch.zeros(4, device=self.device, dtype=torch.float64)
        for x, y in self.val_loader:
            sums += self._eval_sums(model, *self._to_device(x, y))
        model.train(was_training)
        loss, top1, top5, n = all_reduce_sum(sums, self.dist).tolist()
        return {"val_loss": loss / n, "val_top1": 100 * top1 / n, "val_top5": 100 * top5 / n}

    def _eval_sums(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(loss sum, top-1 hits, top-5 hits, images) of one batch; on CUDA out-of-memory, the batch in halves
        (the sums do not depend on how the batch is split)."""
        oom = False
        try:
            with self._autocast():
                logits = model(x).float()
        except torch.cuda.OutOfMemoryError:
            oom = True
        if oom and len(y) == 1:
            raise TrainingError("out of memory evaluating a single image; use a smaller image size or model")
        if oom:  # outside the except: the failed forward's tensors are free now
            torch.cuda.empty_cache()
            half = len(y) // 2
            return self._eval_sums(model, x[:half], y[:half]) + self._eval_sums(model, x[half:], y[half:])
        top = logits.topk(min(5, logits.shape[1]), dim=1).indices.eq(y[:, None])
        return torch.stack([F.cross_entropy(logits, y, reduction="sum").double(), top[:, 0].sum().double(),
                            top.any(1).sum().double(), torch.tensor(float(len(y)), device=self.device,
                                                                    dtype=torch.float64)])

    def _peak_memory_mb(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        return peak_rss_mb()  # the process's peak resident memory

    def _end_epoch(self) -> dict:
        totals = all_reduce_sum(torch.tensor([self.partial["loss_sum"], float(self.partial["samples"])],
                                             dtype=torch.float64, device=self.device), self.dist)
        metrics = {"epoch": self.epoch + 1, "train_loss": (totals[0] / totals[1]).item(), **self.evaluate()}
        if self.ema is not None:
            ema = self.evaluate(self.ema.module)
            metrics.update(ema_val_loss=ema["val_loss"], ema_val_top1=ema["val_top1"], ema_val_top5=ema["val_top5"])
        metrics.update(lr=self.optimizer.param_groups[0]["lr"],
                       images_per_s=self.partial["samples"] * self.dist.world_size / max(self.partial["train_time"],
                                                                                          1e-9),
                       train_time_s=self.partial["train_time"], peak_memory_mb=self._peak_memory_mb())
        return metrics

    def fit(self, resume: bool = False) -> list[dict]:
        """Train to the last epoch (from the checkpoint with ``resume``); returns the per-epoch history."""
        if resume and self.ckpt_path.exists():
            self.load_checkpoint()
            self.save_checkpoint()  # count this resume now: a run killed before its next checkpoint still counts it
        elif self.ckpt_path.exists():
            raise ckpt.CheckpointError(f"{self.ckpt_path} exists: resume it (resume=True, command line --resume) or "
                                       "choose another output folder; nothing was overwritten")
        if self.device.type == "cpu" and self.threads is not None and self.threads != torch.get_num_threads():
            use_threads(self.threads)  # inside the run's cpu_threads block, which restores the count after
            self.threads_reason = f"{self.threads}, as the run started with them (resumed)"
        self.threads = torch.get_num_threads() if self.device.type == "cpu" else None
        self._set_cpu_kernels()
        started = time.perf_counter()
        with StopRequest(self.verbose) as stop:
            try:
                while self.epoch < self.epochs:
                    if self.device.type == "cuda":
                        torch.cuda.reset_peak_memory_stats(self.device)
                    self._train_epoch(stop)
                    metrics = self._end_epoch()
                    self.history.append(metrics)
                    self.epoch, self.step = self.epoch + 1, 0
                    self.partial = {"loss_sum": 0.0, "samples": 0, "train_time": 0.0}
                    self.wall_time += time.perf_counter() - started
                    started = time.perf_counter()
                    self.save_checkpoint()
                    if self.verbose:
                        print(format_epoch(metrics, self.epochs), flush=True)
            except KeyboardInterrupt:
                # Only a stop between two steps leaves a consistent state; a hard interrupt keeps the last one.
                if stop.requested and self.step > 0:
                    self.wall_time += time.perf_counter() - started
                    self.save_checkpoint()
                    if self.verbose:
                        print(f"checkpoint saved at epoch {self.epoch + 1}, step {self.step}: {self.ckpt_path}; "
                              "resume with resume=True (command line: --resume)")
                raise
        return self.history

    def _set_cpu_kernels(self) -> None:
        """Choose the CPU kernels' path at the run's first start (auto measures); keep it after."""
        if self.cpu_kernels is None:
            from .kernel_choice import choose_kernels, random_batch  # here: they time the engine's forward_backward

            self.cpu_kernels, self.cpu_kernels_timing = choose_kernels(
                self.runtime.cpu_kernels, self.raw_model, lambda: random_batch(self.train_set, self.micro, self.device,
                                                                               self.channels_last),
                self.amp_dtype is not None, self.dist.world_size)
        set_kernels(self.raw_model, self.cpu_kernels)

    # -- checkpoints ----------------------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {"spec": self.spec, "epoch": self.epoch, "step": self.step, "partial": dict(self.partial),
                "history": list(self.history), "model": self.raw_model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(), "ema": self.ema.state_dict() if self.ema is not None else None,
                "micro_batch": self.micro, "accumulation": self.accum, "wall_time_s": self.wall_time,
                "resumes": self.resumes, "started_at": self.started_at, "threads": self.threads,
                "cpu_kernels": self.cpu_kernels, "cpu_kernels_timing": self.cpu_kernels_timing, "rng": {"torch": torch.get_rng_state(),
                                                 "cuda": torch.cuda.get_rng_state_all()
                                                 if self.device.type == "cuda" else []}}

    def save_checkpoint(self) -> None:
        if self.dist.is_main:
            ckpt.save(self.state_dict(), self.ckpt_path)
        barrier(self.dist)

    def load_checkpoint(self) -> None:
        state = ckpt.load(self.ckpt_path, map_location=self.device)
        ckpt.check_compatible(state["spec"], self.spec, self.ckpt_path)
        self.raw_model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
        self.epoch, self.step, self.partial = state["epoch"], state["step"], dict(state["partial"])
        self.history, self.wall_time = list(state["history"]), state["wall_time_s"]
        self.resumes, self.started_at = state["resumes"] + 1, state["started_at"]
        self.threads = state.get("threads")  # None in checkpoints from before runs kept their threads
        # checkpoints from before the path could change were all on the library's
        self.cpu_kernels = state.get("cpu_kernels", "library")
        self.cpu_kernels_timing = state.get("cpu_kernels_timing")
        if state["micro_batch"] != self.micro and not self.dist.enabled:  # keep what fitted in memory
            self.micro, self.accum = state["micro_batch"], state["accumulation"]
            self._build_loaders()
        torch.set_rng_state(state["rng"]["torch"].cpu())
        if self.device.type == "cuda" and state["rng"]["cuda"]:
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng"]["cuda"]])


def format_epoch(m: dict, epochs: int) -> str:
    line = (f"epoch {m['epoch']}/{epochs}: train loss {m['train_loss']:.3f} | val loss {m['val_loss']:.3f}, "
            f"top-1 {m['val_top1']:.1f}%, top-5 {m['val_top5']:.1f}%")
    if "ema_val_top1" in m:
        line += f" (EMA top-1 {m['ema_val_top1']:.1f}%)"
    return line + f" | lr {m['lr']:.2e}, {m['images_per_s']:.0f} img/s, {m['train_time_s']:.0f} s"
