"""Where a run runs: the device, its processes, CPU threads, the mixed-precision policy, and whether this is Colab.

``start_runtime`` decides all of it once for a run, after the process group starts, as one ``Runtime``; the
Trainer and the run paths take that value and ask nothing again.
"""
from __future__ import annotations

import os
import platform
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .distributed import DistInfo, init_distributed


def in_colab() -> bool:
    return "google.colab" in sys.modules


def default_device() -> torch.device:
    """A CUDA GPU if there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def check_device(device) -> torch.device:
    """The device to train on (default: ``default_device()``); a clear error for one this machine lacks."""
    if device is None:
        return default_device()
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


@dataclass(frozen=True)
class Runtime:
    """How this process trains: its device (``cuda:<local rank>`` under torchrun), its place among the processes,
    the autocast dtype (None: full precision), the speed settings, and whether it prints (rank 0 only)."""

    device: torch.device
    dist: DistInfo = DistInfo()
    amp: torch.dtype | None = None
    threads: int | None = None  # torch's CPU threads while training (None: as they are)
    threads_reason: str = ""  # why, when the run chose them (choose_threads)
    workers: int = 0  # DataLoader worker processes
    channels_last: bool = False
    compile: bool = False
    cpu_kernels: str = "library"  # how a CPU computes depthwise and pointwise convolutions (model/cpu_kernels.py)
    cuda_settings: dict = field(default_factory=lambda: {"tf32": False, "cudnn_benchmark": False})
    progress: bool = True
    verbose: bool = True


def start_runtime(device=None, amp: str | None = "auto", speed=None, progress: bool = True,
                  verbose: bool = True, cpu_kernels: str = "library") -> Runtime:
    """The ``Runtime`` of a run: joins torchrun's process group (if any), then fixes the rank's device, its
    precision (``resolve_amp`` of ``amp``) and the CUDA settings. ``speed``: anything with ``threads``,
    ``workers``, ``channels_last`` and ``compile`` (a ``Profile``); None: one process's plain defaults.
    ``cpu_kernels``: auto, library, folded or course (``model.cpu_kernels``; the Trainer decides auto)."""
    dev = device if isinstance(device, torch.device) else check_device(device)
    dist = init_distributed(dev.type)
    if dist.enabled and dev.type == "cuda":
        dev = torch.device("cuda", dist.local_rank)
    speed_settings = {k: getattr(speed, k) for k in ("threads", "workers", "channels_last", "compile")} if speed else {}
    if dev.type == "cpu" and speed is not None and not speed.threads:
        speed_settings["threads"], speed_settings["threads_reason"] = choose_threads()
    return Runtime(device=dev, dist=dist, amp=resolve_amp(amp, dev), cuda_settings=configure_cuda(dev),
                   progress=progress and dist.is_main, verbose=verbose and dist.is_main, cpu_kernels=cpu_kernels,
                   **speed_settings)


BUSY_CORES = 0.5  # another process using half a core or more as a run starts: a busy machine


def other_processes_load(interval: float = 0.5) -> float | None:
    """Cores that other processes kept busy over the next ``interval`` seconds (None where psutil cannot tell)."""
    try:
        import psutil

        me = psutil.Process()
        me.cpu_percent(None), psutil.cpu_percent(None)  # start both counters
        time.sleep(interval)
        total = psutil.cpu_percent(None) / 100 * (psutil.cpu_count() or 1)
        return max(0.0, total - me.cpu_percent(None) / 100)
    except Exception:  # no psutil, or a platform where it cannot read the counters
        return None


def choose_threads(load: float | None = None) -> tuple[int | None, str]:
    """The CPU threads a run without a profile setting trains on, and why. Two threads on two cores wait for
    each other at every parallel region when another process holds a core, and fall to a fraction of their
    speed; one thread keeps its own speed there (python -m convnext_lesson cpu-speed --busy measures both).
    So: one thread when other processes keep ``BUSY_CORES`` or more busy as the run starts, torch's default
    otherwise. ``load``: the other processes' cores (default: measured now, half a second)."""
    default = torch.get_num_threads()
    if default < 2:
        return None, f"torch's default ({default} thread)"
    load = other_processes_load() if load is None else load
    if load is not None and load >= BUSY_CORES:
        return 1, (f"one thread: other processes kept {load:.1f} cores busy as the run started, and beside them "
                   f"{default} threads wait for each other")
    return None, f"torch's default ({default} threads): the machine was quiet as the run started"


def cpu_description() -> str:
    """E.g. "cpu (2 cores, AMD EPYC, AVX2)": the CPU's model and the vector instructions torch uses on it
    decide its speed (an epoch took 2.5x as long on a 2-core AVX2 machine as on a 2-core AVX-512 one)."""
    model = platform.processor()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    parts = [f"{os.cpu_count()} cores", model, torch.backends.cpu.get_cpu_capability()]
    return f"cpu ({', '.join(p for p in parts if p)})"


def device_description(device: torch.device) -> tuple[str, int]:
    """(what the device is, how many of its kind this machine has): a record's ``device`` and ``device_count``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device), torch.cuda.device_count()
    return cpu_description(), 1


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a timing needs it): CUDA and Apple's mps run asynchronously."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def configure_cuda(device: torch.device) -> dict:
    """What training and the speed measurements both switch on for a CUDA device, and records name: cuDNN's
    autotuner (the input sizes are fixed) and TF32 matrix products and convolutions (Ampere and later). Returns
    the settings, for the record; on other devices nothing is switched on."""
    if device.type != "cuda":
        return {"tf32": False, "cudnn_benchmark": False}
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    return {"tf32": torch.cuda.get_device_capability(device)[0] >= 8, "cudnn_benchmark": True}


# -- the mixed-precision policy: the one place that decides it, for training and for speed measurements --------

AMP_CHOICES = ("auto", "bf16", "fp16", "none")


def amp_dtype_for(device: torch.device) -> torch.dtype | None:
    """bf16 autocast on a GPU that has it natively (Ampere, compute capability 8.0, and later), fp16 on older GPUs
    (T4, V100: they would only emulate bf16), none on a CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.get_device_capability(device)[0] >= 8 else torch.float16


def resolve_amp(choice: str | None, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a precision choice: ``auto`` (or None) is ``amp_dtype_for``; ``none`` trains in
    full precision (the way out when fp16 diverges on an older GPU)."""
    choice = choice or "auto"
    if choice not in AMP_CHOICES:
        raise ValueError(f"amp={choice!r} is not valid; choose one of {', '.join(AMP_CHOICES)}")
    if choice == "auto":
        return amp_dtype_for(device)
    if choice == "fp16" and device.type != "cuda":
        raise ValueError(f"amp='fp16' needs a CUDA GPU (this run is on {device.type}); use bf16 or none")
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "none": None}[choice]


def amp_name(dtype: torch.dtype | None) -> str:
    """How records name a precision: "bf16", "fp16" or "none"."""
    return {None: "none", torch.float32: "none", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def autocast(device: torch.device, dtype: torch.dtype | None):
    """Autocast to ``dtype``; no autocast at all for None or float32 (torch 2.3's CPU autocast rejects
    dtype=float32 even when disabled)."""
    if dtype is None or dtype == torch.float32:
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def grad_scaler(dtype: torch.dtype | None):
    """A CUDA GradScaler, on for fp16 only: its small gradients underflow without loss scaling; bf16 and fp32
    need none (a disabled scaler passes everything through)."""
    enabled = dtype == torch.float16
    if hasattr(torch.amp, "GradScaler"):  # torch >= 2.3
        return torch.amp.GradScaler("cuda", enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled)
