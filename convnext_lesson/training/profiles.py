"""Profiles: one name sizes a whole run (data, resolution, epochs, batch, network size).

A notebook cell says ``train(step)`` and the profile decides how big that is, so
the same cell runs in seconds in CI, in minutes on a laptop and for real on a GPU.
Choose one by argument, by ``CONVNEXT_LESSON_PROFILE``, or let the hardware decide.

Small profiles shrink the network with ``scale_config``. The rule keeps every
roadmap step's change visible: depths scale by ``max(1, round(d * f))``, so the
stage-ratio step (3, 4, 6, 3) -> (3, 3, 9, 3) is still a different network at
depth x2/3 ((2, 3, 4, 2) -> (2, 2, 6, 2)), and widths scale to multiples of 8, so
"width up" (64 -> 96) stays a 1.5x change (x0.5: 32 -> 48).
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, replace

from ..model.config import NetConfig

ENV_VAR = "CONVNEXT_LESSON_PROFILE"


@dataclass(frozen=True)
class Profile:
    """How big a run is. ``epochs`` is for the modern recipe; the original one (step 0)
    trains ``original_epoch_ratio`` of that, as the paper's 90 vs 300 epochs."""

    name: str
    description: str
    dataset: str  # default dataset (see ``data.DATASETS``)
    image_size: int  # training and evaluation resolution
    epochs: int
    batch_size: int  # effective batch: micro-batch x accumulation x processes
    width_mult: float = 1.0
    depth_mult: float = 1.0
    micro_batch: int | None = None  # None: the whole batch at once
    workers: int = 0  # DataLoader worker processes
    threads: int | None = None  # torch CPU threads while training (None: torch's default, one per core)
    preload: bool = True  # decode every image once into memory: Imagenette fits, and decoding is the CPU's bottleneck
    channels_last: bool = False
    compile: bool = False  # torch.compile the model
    # how a CPU computes depthwise and pointwise convolutions: auto, library, folded, course (model/cpu_kernels.py)
    cpu_kernels: str = "auto"
    max_steps_per_epoch: int | None = None  # cut epochs short (smoke only)
    original_epoch_ratio: float = 90 / 300
    # Every step starts with Kaiming's init and no layer scale: what a short run needs (teach/readings/step16_parts.py,
    # decided by its rule from three seeds of each part). Only step 16 differs from the paper's build by it.
    short_run_start: bool = False

    def epochs_for(self, recipe: str) -> int:
        if recipe == "original":
            return max(1, math.ceil(self.epochs * self.original_epoch_ratio))
        return self.epochs

    def replace(self, **changes) -> "Profile":
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


PROFILES = {
    "smoke": Profile(
        "smoke", "tests and CI: seconds per run on 2 CPU cores, on the tiny sample shipped with the package",
        dataset="imagenette-tiny", image_size=32, epochs=3, batch_size=16, width_mult=0.25, depth_mult=1 / 3,
        # tiny tensors: a second thread costs more than it saves, and auto's timing of microseconds could choose
        # differently from one run to the next (two runs of one seed must agree)
        threads=1, cpu_kernels="library", original_epoch_ratio=1.0, short_run_start=True),
    "cpu": Profile(
        "cpu", "a laptop without a GPU: every step scaled down (widths x0.5, depths x2/3) at 64 px, "
        "minutes per step on Imagenette",
        dataset="imagenette", image_size=64, epochs=12, batch_size=64, width_mult=0.5, depth_mult=2 / 3,
        # measured on 2 cores (loop images/s, steps 1 / 16): workers=1 207 / 216; workers=0 230 / 243;
        # + channels-last 287 / 265; torch.compile (workers=0) 179 on step 16, so not used
        workers=0, channels_last=True, short_run_start=True),
    # colab: sized by estimate, not yet measured on a T4 (the GPU reference runs will measure it): ~400-500 img/s at 128 px with AMP,
    # bounded by Colab's two CPU cores doing the augmentation -> ~30 s per Imagenette epoch
    "colab": Profile(
        "colab", "a Colab T4 (16 GB): the full-size networks at 128 px, about 10 minutes per step (an estimate, not "
        "yet measured on a T4)",
        dataset="imagenette", image_size=128, epochs=16, batch_size=128, workers=2, channels_last=True,
        short_run_start=True),
    # full: placeholder sizes until the GPU reference runs measure them; change epochs / image_size here
    "full": Profile(
        "full", "an A100/H100: the full-size networks at 160 px (sizes to be set by measurement on such a GPU)",
        dataset="imagenette", image_size=160, epochs=40, batch_size=256, workers=12, channels_last=True),
}


def get_profile(profile: str | Profile | None = None) -> Profile:
    """A profile by name; ``None`` reads ``CONVNEXT_LESSON_PROFILE``, else follows the hardware."""
    if isinstance(profile, Profile):
        return profile
    if profile is None:
        profile = os.environ.get(ENV_VAR) or default_profile_name()
        source = f" (from ${ENV_VAR})" if os.environ.get(ENV_VAR) else ""
    else:
        source = ""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}{source}; valid profiles: {', '.join(PROFILES)}")
    return PROFILES[profile]


def default_profile_name() -> str:
    """``full`` on a large data-centre GPU, ``colab`` on a smaller one, ``cpu`` without one."""
    import torch

    from .runtime import default_device

    if default_device().type != "cuda":
        return "cpu"
    props = torch.cuda.get_device_properties(0)
    big = props.total_memory >= 40 * 2**30 or any(k in props.name for k in ("A100", "H100", "H200", "B200"))
    return "full" if big else "colab"


def scale_depth(depth: int, factor: float) -> int:
    return max(1, round(depth * factor))


def scale_width(width: int, mult: float) -> int:
    """``width * mult`` rounded to a multiple of 8 (at least 8): hardware-friendly channel counts."""
    return max(8, int(round(width * mult / 8)) * 8)


def scale_config(cfg: NetConfig, width_mult: float = 1.0, depth_mult: float = 1.0) -> NetConfig:
    """The same design at another size: the step's own config with depths, widths and stem scaled."""
    for name, value in (("width_mult", width_mult), ("depth_mult", depth_mult)):
        if not value > 0:
            raise ValueError(f"{name}={value!r} must be a positive number")
    if width_mult == 1.0 and depth_mult == 1.0:
        return cfg
    return cfg.replace(depths=tuple(scale_depth(d, depth_mult) for d in cfg.depths),
                       widths=tuple(scale_width(w, width_mult) for w in cfg.widths),
                       stem_width=scale_width(cfg.stem_width, width_mult))
