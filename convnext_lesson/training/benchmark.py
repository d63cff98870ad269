"""Measured speed: images per second of a network, for training and for inference.

FLOPs count arithmetic; speed also depends on memory traffic, kernel launches and
the hardware. This module times the real thing on synthetic data already on the
device: warm-up excluded, many timed repeats, the median reported.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from .engine import forward_backward
from .paths import REFERENCE_THROUGHPUT
from .runtime import amp_dtype_for, autocast, check_device, configure_cuda, synchronize

MODES = ("inference", "train")


@dataclass
class Throughput:
    mode: str
    images_per_s: float  # median over the timed repeats
    spread: float  # (max - min) / median of the per-repeat rates: how noisy the measurement was
    batch_size: int
    image_size: int
    dtype: str
    channels_last: bool
    compiled: bool
    device: str
    peak_memory_mib: float | None  # CUDA only
    repeats: int
    tf32: bool = False  # TF32 matrix products and convolutions were allowed (CUDA, Ampere and later)
    cudnn_benchmark: bool = False  # cuDNN's autotuner was on, as in training

    def as_dict(self) -> dict:
        return asdict(self)


def measure_throughput(model: nn.Module, *, mode: str = "inference", batch_size: int = 128,
                       image_size: int = 224, device: str | torch.device | None = None,
                       dtype: torch.dtype | None = None, channels_last: bool = True, compile: bool = False,
                       warmup: int = 5, repeats: int = 20, iters_per_repeat: int = 5) -> Throughput:
    """Images/s of ``model`` on random images, median of ``repeats`` timings of ``iters_per_repeat`` steps.

    ``mode="train"`` times forward + backward + an SGD update; ``dtype`` defaults to the autocast dtype
    training uses on the device (``runtime.amp_dtype_for``: bf16 from Ampere on, fp16 on older GPUs) and
    float32 on a CPU.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    device = check_device(device)
    dtype = dtype or amp_dtype_for(device) or torch.float32
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    cuda_settings = configure_cuda(device)  # the same as training switches on, whatever ran before
    model = model.to(device, memory_format=memory_format).train(mode == "train")
    if compile:  # a fresh dynamo per network: after 8 networks its recompile limit would quietly run them eagerly
        torch._dynamo.reset()
    step_model = torch.compile(model) if compile else model
    generator = torch.Generator(device=device).manual_seed(0)
    images = torch.randn(batch_size, 3, image_size, image_size, device=device, generator=generator)
    images = images.contiguous(memory_format=memory_format)
    labels = torch.randint(0, model.head.fc.out_features if hasattr(model, "head") else 1000, (batch_size,),
                           device=device, generator=generator)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4) if mode == "train" else None

    def one_step():
        if mode == "train":
            forward_backward(step_model, images, labels, nn.functional.cross_entropy, dtype)  # as the Trainer does
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        else:
            with torch.inference_mode(), autocast(device, dtype):
                step_model(images)

    for _ in range(warmup):  # compilation, cudnn autotuning and allocator growth stay out of the timings
        one_step()
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rates = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(iters_per_repeat):
            one_step()
        synchronize(device)
        rates.append(batch_size * iters_per_repeat / (time.perf_counter() - start))
    median = statistics.median(rates)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return Throughput(mode, median, (max(rates) - min(rates)) / median, batch_size, image_size,
                      str(dtype).removeprefix("torch."), channels_last, compile,
                      torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU", peak, repeats,
                      **cuda_settings)


def layer_intensity(kind: str, channels: int, size: int, kernel: int = 7, expansion: int = 4,
                    bytes_per_value: int = 4) -> dict:
    """Multiply-accumulates and the fewest bytes moved (input, output and weights once) of one layer.

    kind: "dwconv" (kxk depthwise, C -> C), "pwconv" (1x1, C -> eC), "layernorm" or "gelu" (on C
    channels). Intensity = MACs per byte: low means the layer waits on memory, not arithmetic.
    """
    pixels = size * size
    if kind == "dwconv":
        macs, values = channels * kernel * kernel * pixels, 2 * channels * pixels + channels * kernel * kernel
    elif kind == "pwconv":
        macs = channels * expansion * channels * pixels
        values = (channels + expansion * channels) * pixels + expansion * channels * channels
    elif kind in ("layernorm", "gelu"):
        macs, values = 0, 2 * channels * pixels
    else:
        raise ValueError(f"unknown layer kind {kind!r}; valid: dwconv, pwconv, layernorm, gelu")
    moved = values * bytes_per_value
    return {"layer": kind, "MMACs": macs / 1e6, "MB moved": moved / 1e6, "MACs per byte": macs / moved}




def show_reference_throughput(path=REFERENCE_THROUGHPUT) -> None:
    """Print the committed GPU throughput table, or say plainly that none has been measured yet."""
    import json

    path = Path(path)
    if not path.exists():
        print("No GPU reference measurements are committed yet (the throughput study runs on a lent "
              "H100/H200: see tools/reference_runs.sh). Nothing to show; the paper's numbers are: "
              "ConvNeXt-T 774.7 images/s vs Swin-T 757.9 on a V100 (Table 1), 1943.5 vs 1325.6 on an "
              "A100 (Table 12): paper's numbers, not ours.")
        return
    table = json.loads(path.read_text(encoding="utf-8"))
    meta = table["provenance"]
    print(f"ours: {meta['device']}, torch {meta['torch']}, batch {meta['batch_size']}, {meta['image_size']} px, "
          f"{meta['dtype']}, channels-last; median of {meta['repeats']} timings")
    print(f"{'step':>4} {'change':22s} {'train img/s':>12s} {'infer img/s':>12s} {'compiled train':>15s} "
          f"{'peak MiB':>9s}")
    for row in table["rows"]:
        print(f"{row['step']:>4} {row['label']:22s} {row['train']:12.0f} {row['inference']:12.0f} "
              f"{row.get('train_compiled') or float('nan'):15.0f} {row.get('peak_memory_mib') or float('nan'):9.0f}")


def _provenance(device: torch.device, **sizes) -> dict:
    from .results import environment, git_state

    commit, dirty = git_state()
    return {**environment(device), "git_commit": commit, "git_dirty": dirty, **sizes}


def throughput_study(steps=None, *, batch_size: int = 128, image_size: int = 224, repeats: int = 20,
                     compile: bool = True, device: str | None = None, regime: str = "resnet50",
                     warmup: int = 5, iters_per_repeat: int = 5, log=print) -> dict:
    """Training and inference images/s of every step (training's autocast and channels-last on CUDA), eager and
    compiled, with peak memory; and torchvision's ResNet-50 and ConvNeXt-T in the same harness."""
    import torchvision

    from ..model.roadmap import build_model, get_step, roadmap_steps

    dev = check_device(device)
    chosen = [get_step(s, regime) for s in steps] if steps is not None else list(roadmap_steps(regime))
    sizes = dict(batch_size=batch_size, image_size=image_size, repeats=repeats)

    def measure(make_model) -> dict:
        row = {}
        for mode in MODES:
            for compiled in ((False, True) if compile else (False,)):
                model = make_model()
                result = measure_throughput(model, mode=mode, device=dev, compile=compiled, warmup=warmup,
                                            iters_per_repeat=iters_per_repeat, **sizes)
                key = mode if not compiled else f"{mode}_compiled"
                row[key] = result.images_per_s
                row[f"{key}_spread"] = result.spread
                if mode == "train" and not compiled:
                    row["peak_memory_mib"] = result.peak_memory_mib
                del model
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
        return row

    rows = []
    for step in chosen:
        row = {"step": step.index, "label": step.label, **measure(lambda: build_model(step, regime=regime))}
        rows.append(row)
        log(f"step {step.index:2d} {step.label:22s} train {row['train']:8.1f} img/s, inference {row['inference']:8.1f}")
    reference = {}
    for ours_step, name in ((0, "resnet50"), (16, "convnext_tiny")):
        theirs = measure(getattr(torchvision.models, name))
        ours = next((r for r in rows if r["step"] == ours_step), None) or measure(lambda: build_model(ours_step))
        reference[name] = {"ours_step": ours_step, "torchvision": theirs,
                           "ratio": {k: ours[k] / theirs[k] for k in theirs if not k.endswith("spread")
                                     and k != "peak_memory_mib" and theirs[k]}}
        log(f"{name}: ours / torchvision = " + ", ".join(f"{k} {v:.3f}" for k, v in reference[name]["ratio"].items()))
    amp = amp_dtype_for(dev)
    dtype = f"{str(amp).removeprefix('torch.')} autocast" if amp else "float32"
    return {"provenance": _provenance(dev, dtype=dtype, channels_last=True, regime=regime, **sizes),
            "rows": rows, "torchvision_comparison": reference}
