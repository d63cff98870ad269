"""How a run chooses its CPU kernels (model/cpu_kernels.py): ``auto`` times both paths as the run starts.

The rule was fixed before the runs that check the course's kernels keep the results (teach/readings/cpu_kernels.py).
"""
from __future__ import annotations

import copy
import time

import torch
import torch.nn.functional as F
from torch import nn

from ..model.cpu_kernels import KERNEL_CHOICES, has_depthwise, set_kernels
from .engine import forward_backward

AUTO_MARGIN = 1.1
AUTO_RULE = (
    "auto, in float32 on a CPU: as the run starts, a copy of the run's network trains on random images of the "
    "run's batch and size (forward and backward pass), once on the library's convolutions and once on the "
    "course's (the folded depthwise weight gradient and pointwise convolutions as matrix products), one warm-up "
    f"and five timed steps each, the median; the course's path is taken if it is at least {AUTO_MARGIN}x as fast, "
    "the library's otherwise. On a GPU, under autocast, in runs of several processes and in networks without depthwise convolutions (steps 0-3, "
    "which the check of the results did not train): the library's. "
    "The choice and both timings go into the record; a resumed run keeps its start's choice.")


def time_kernel_paths(model: nn.Module, images: torch.Tensor, rounds: int = 5) -> dict[str, float]:
    """Seconds (median of ``rounds``) of a forward and backward pass of a copy of ``model`` on ``images``, per
    path (library, course). The model itself, its BatchNorm statistics and the random number streams are left
    as they were."""
    twin = copy.deepcopy(model).train()
    labels = torch.zeros(images.shape[0], dtype=torch.long, device=images.device)
    times = {}
    with torch.random.fork_rng(devices=[]):  # stochastic depth draws in the copy do not move the run's stream
        for choice in ("library", "course"):
            set_kernels(twin, choice)

            def one_step():
                start = time.perf_counter()
                forward_backward(twin, images, labels, F.cross_entropy)
                twin.zero_grad(set_to_none=True)
                return time.perf_counter() - start

            one_step()  # warm-up: oneDNN builds its kernels on first use
            times[choice] = sorted(one_step() for _ in range(rounds))[rounds // 2]
    return times


def random_batch(train_set, batch: int, device: torch.device, channels_last: bool) -> torch.Tensor:
    """``batch`` random images of the training set's shape, from a generator of their own (not the run's)."""
    images = torch.randn((batch, *train_set[0][0].shape), generator=torch.Generator().manual_seed(0)).to(device)
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


def choose_kernels(choice: str, model: nn.Module, make_images, amp: bool,
                   processes: int = 1) -> tuple[str, dict | None]:
    """The path a run takes for ``choice`` (auto or one of KERNEL_CHOICES) and, for auto's measurement, its
    timings in seconds. ``make_images()``: a batch of the run's size, called only when auto measures.
    ``processes``: how many train the run (each would time its own, and could differ)."""
    if choice not in ("auto", *KERNEL_CHOICES):
        raise ValueError(f"cpu_kernels={choice!r} is not valid; choose one of auto, {', '.join(KERNEL_CHOICES)}")
    if choice != "auto":
        return choice, None
    if next(model.parameters()).device.type != "cpu" or amp or processes > 1 or not has_depthwise(model):
        return "library", None
    times = time_kernel_paths(model, make_images())
    return ("course" if times["library"] >= AUTO_MARGIN * times["course"] else "library"), times
