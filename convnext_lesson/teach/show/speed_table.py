"""Notebook 09's speed measurements: roadmap networks timed at a real size, and conclusions computed from them.

Every sentence this module writes about speed is computed from timings taken in the same run: a
ratio of medians, and whether the ranges of the repeats overlap (when they do, the run cannot tell
the two networks apart). The timing itself is ``training.benchmark.measure_throughput``, called
once per repeat so that every repeat's rate is kept, not only the median, and so that the repeats of
several networks can take turns.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch

from ...model.counting import count_flops
from ...model.network import Network
from ...model.roadmap import get_step
from ...model.threads import cpu_threads
from ...training.benchmark import REFERENCE_THROUGHPUT, measure_throughput
from ...training.profiles import get_profile, scale_config
from ...training.runtime import default_device

# The paper's throughput numbers (ImageNet-1K models at 224 px). The paper's, not ours.
PAPER_THROUGHPUT = (
    ("Table 1", "V100", "ConvNeXt-T", 774.7),
    ("Table 1", "V100", "Swin-T", 757.9),
    ("Table 12", "A100, TF32, channels-last, PyTorch 1.10", "ConvNeXt-T", 1943.5),
    ("Table 12", "A100, TF32, channels-last, PyTorch 1.10", "Swin-T", 1325.6),
)


@dataclass(frozen=True)
class SpeedSetup:
    """What is timed: which networks (the roadmap's, scaled by width and depth), at what size, how often."""

    description: str
    width_mult: float
    depth_mult: float
    num_classes: int
    image_size: int
    batch_size: int
    channels_last: bool
    warmup: int  # untimed steps first: allocation, caches, cudnn's choice of kernels
    repeats: int  # timed repeats; the median is reported, the range (lowest to highest) shown
    iters_per_repeat: int
    threads: int | None = None  # torch's CPU threads while timing (None: as they are); fixed, so that a
    # notebook kernel started on one thread (nbval's) and a learner's on all cores time the same thing

    def build(self, step) -> Network:
        cfg = scale_config(get_step(step).config, self.width_mult, self.depth_mult)
        return Network(cfg, self.num_classes)


def speed_setup(device: str | None = None) -> SpeedSetup:
    """On a GPU, the full networks at 224 px; on a CPU, the ``cpu`` profile's networks at its size and batch."""
    on_gpu = torch.device(device or default_device()).type == "cuda"  # the setup for that kind of device
    if on_gpu:
        return SpeedSetup("full-size networks, 224 px, batch 64, channels-last, mixed precision (as training)",
                          1.0, 1.0, 1000, 224, 64, True, warmup=3, repeats=10, iters_per_repeat=2)
    cpu = get_profile("cpu")
    threads = cpu.threads or usable_cores()
    layout = "channels-last" if cpu.channels_last else "PyTorch's default memory layout"
    return SpeedSetup(f"the cpu profile's networks (widths x{cpu.width_mult:g}, depths x{cpu.depth_mult:.2g}), "
                      f"{cpu.image_size} px, batch {cpu.batch_size}, float32, {layout} (as the profile trains), "
                      f"PyTorch's convolutions, {threads} thread{'s' if threads > 1 else ''}",
                      cpu.width_mult, cpu.depth_mult, 10, cpu.image_size, cpu.batch_size, cpu.channels_last,
                      warmup=2, repeats=7, iters_per_repeat=1, threads=threads)


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it, else the machine's count)."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass
class Timing:
    """Images per second of each timed repeat."""

    rates: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    @property
    def low(self) -> float:
        return min(self.rates)

    @property
    def high(self) -> float:
        return max(self.rates)

    @property
    def spread(self) -> float:
        """(highest - lowest) / median: how noisy the measurement was."""
        return (self.high - self.low) / self.median


def _time_once(model, setup: SpeedSetup, mode: str, warmup: int) -> float:
    result = measure_throughput(model, mode=mode, batch_size=setup.batch_size, image_size=setup.image_size,
                                channels_last=setup.channels_last, warmup=warmup, repeats=1,
                                iters_per_repeat=setup.iters_per_repeat)
    return result.images_per_s


@dataclass
class StepSpeed:
    step: int
    label: str
    gflops: float  # paper convention, of the network as timed, at the timed image size
    timings: dict  # mode -> Timing


def measure_steps(steps, setup: SpeedSetup, modes=("inference", "train"), log=print) -> dict[int, StepSpeed]:
    """Build and time each step in each mode, then print one line per step.

    The repeats are interleaved (one repeat of every step in turn), so that a busy spell on a shared
    machine slows every step alike instead of one step alone; each step's first repeat follows its warm-up.
    """
    models = {get_step(step).index: setup.build(step) for step in steps}
    rows = {index: StepSpeed(index, get_step(index).label, count_flops(model, setup.image_size),
                             {mode: Timing([]) for mode in modes}) for index, model in models.items()}
    with cpu_threads(setup.threads):
        for mode in modes:
            for repeat in range(setup.repeats):
                for index, model in models.items():
                    rate = _time_once(model, setup, mode, setup.warmup if repeat == 0 else 0)
                    rows[index].timings[mode].rates.append(rate)
    if log:
        for row in rows.values():
            log(format_row(row))
    return rows


def noise_note(rows: dict[int, StepSpeed], busy: float = 0.2) -> str:
    """The largest spread of the run, and what it means for reading it."""
    spread, step, mode = max((t.spread, row.step, mode) for row in rows.values() for mode, t in row.timings.items())
    if spread > busy:
        return (f"largest spread in this run: {spread:.0%} (step {step}, {mode}): the machine was busy with other "
                "work; run the measurement again and see which conclusions hold")
    return f"largest spread in this run: {spread:.0%} (step {step}, {mode}): a quiet run"


def format_row(row: StepSpeed) -> str:
    parts = [f"step {row.step:2d} {row.label:18s} {row.gflops:6.3f} GFLOPs"]
    for mode, timing in row.timings.items():
        parts.append(f"{mode} {timing.median:7.1f} img/s ({timing.low:.0f}-{timing.high:.0f}, "
                     f"spread {timing.spread:.0%})")
    return " | ".join(parts)


def speed_change(new: Timing, old: Timing) -> str:
    """How ``new`` compares with ``old``: a ratio of medians, or no clear difference when the ranges overlap."""
    ratio = new.median / old.median
    if new.low <= old.high and old.low <= new.high:
        return (f"showed no clear difference here ({new.median:.0f} vs {old.median:.0f} img/s, median ratio "
                f"{ratio:.2f}; the ranges of the repeats overlap)")
    word = f"{ratio:.2f}x faster" if ratio > 1 else f"{1 / ratio:.2f}x slower"
    return f"ran {word} here ({new.median:.0f} vs {old.median:.0f} img/s; the ranges of the repeats do not overlap)"


def flops_change(new: float, old: float, than: str) -> str:
    ratio = new / old
    if abs(ratio - 1) < 0.02:
        return f"about the same FLOPs as {than} ({new:.3f} vs {old:.3f} GFLOPs)"
    return f"{1 / ratio:.2f}x fewer FLOPs than {than}" if ratio < 1 else f"{ratio:.2f}x more FLOPs than {than}"


def conclusion(rows: dict[int, StepSpeed], step: int, baseline: int, mode: str) -> str:
    """One sentence on ``step`` against ``baseline`` in ``mode``, from this run's measurements only."""
    missing = [s for s in (step, baseline) if s not in rows]
    if missing:
        raise ValueError(f"step {missing[0]} was not measured; measured: {', '.join(map(str, rows))}")
    new, old = rows[step], rows[baseline]
    than = f"step {old.step} ({old.label})"
    return (f"{mode}: step {new.step} ({new.label}) has {flops_change(new.gflops, old.gflops, than)} and "
            f"{speed_change(new.timings[mode], old.timings[mode])}.")


def plot(rows: dict[int, StepSpeed], setup: SpeedSetup, device_name: str):
    """Images/s (median, with a bar from the slowest to the fastest repeat) against GFLOPs, one panel per mode,
    and the curve the points would follow if speed were set by FLOPs alone (through the first step's point)."""
    import matplotlib.pyplot as plt

    modes = list(next(iter(rows.values())).timings)
    fig, axes = plt.subplots(1, len(modes), figsize=(3.8 * len(modes) + 2.4, 3.4), squeeze=False)
    first = next(iter(rows.values()))
    flops = [row.gflops for row in rows.values()]
    span = torch.linspace(min(flops) * 0.9, max(flops) * 1.05, 50).tolist()
    for ax, mode in zip(axes[0], modes):
        anchor = first.timings[mode].median * first.gflops
        ax.plot(span, [anchor / g for g in span], "--", color="grey", lw=1,
                label=f"if img/s followed FLOPs (through step {first.step})")
        for k, row in enumerate(rows.values()):
            timing = row.timings[mode]
            ax.errorbar(row.gflops, timing.median, yerr=[[timing.median - timing.low], [timing.high - timing.median]],
                        fmt="os^vDP"[k % 6], color=f"C{k}", capsize=3, label=f"{row.step}: {row.label}")
        ax.set(xlabel=f"GFLOPs at {setup.image_size} px (paper convention)", ylabel="images/s (ours)",
               title=f"{mode}, measured here ({device_name})")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))  # outside: never over a point
    fig.tight_layout()
    return fig


def show_paper_throughput() -> None:
    print("The paper's throughput (ImageNet-1K models, 224 px; the paper's numbers, not ours):")
    for table, device, model, rate in PAPER_THROUGHPUT:
        print(f"  {table:8s} {device:40s} {model:10s} {rate:7.1f} images/s")


def reference_table_exists() -> bool:
    """Has the GPU reference study's throughput table been committed to the package?"""
    return REFERENCE_THROUGHPUT.exists()
