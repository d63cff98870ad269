"""Parameters and FLOPs, counted by fvcore, in the paper's convention and fvcore's.

fvcore counts one multiply-accumulate as one FLOP. The paper (and torchvision's
``_ops`` metadata) counts only conv and linear layers; fvcore's default also
counts normalisation and pooling layers, so it reads a little higher.
"""
from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from .roadmap import build_model, get_step, roadmap_steps
from .threads import one_thread

with warnings.catch_warnings():  # fvcore's import touches the deprecated torch.jit.script
    warnings.simplefilter("ignore", FutureWarning)
    from fvcore.nn import FlopCountAnalysis

CONVENTIONS = ("paper", "fvcore")
# fvcore's operator names for multiply-accumulate layers: what the paper counts
PAPER_OPS = frozenset({"conv", "linear", "addmm", "matmul", "mm", "bmm", "einsum"})


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def trainable_params(model: nn.Module) -> int:
    """Parameters that training changes (``requires_grad``): fewer than ``count_params`` when some are frozen."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _image_hw(image_size) -> tuple[int, int]:
    hw = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(hw) != 2 or not all(isinstance(v, int) and v > 0 for v in hw):
        raise ValueError(f"image_size must be a positive int or (height, width), got {image_size!r}")
    return hw


@dataclass
class FlopReport:
    """GFLOPs of one forward pass of one image."""

    image_size: tuple[int, int]
    by_operator: dict[str, float]  # every counted operator, e.g. {"conv": 4.08, "batch_norm": 0.02}
    by_module: dict[str, dict[str, float]]  # top-level part ("stem", "stages.0", ..., "head") -> operator -> GFLOPs

    def total(self, convention: str = "paper") -> float:
        return _sum(self.by_operator, convention)

    def by_part(self, convention: str = "paper") -> dict[str, float]:
        """GFLOPs of each top-level part (stem, each stage, head)."""
        return {name: _sum(ops, convention) for name, ops in self.by_module.items()}


def _sum(ops: dict[str, float], convention: str) -> float:
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; valid: {', '.join(CONVENTIONS)}")
    return sum(v for k, v in ops.items() if convention == "fvcore" or k in PAPER_OPS)


def flop_report(model: nn.Module, image_size=224) -> FlopReport:
    """Count one forward pass with fvcore, per operator and per top-level part."""
    h, w = _image_hw(image_size)
    param = next(model.parameters())
    x = torch.zeros(1, getattr(getattr(model, "config", None), "in_chans", 3), h, w,
                    device=param.device, dtype=param.dtype)
    if hasattr(model, "check_input"):
        model.check_input(x)  # a clear error for a too-small input before tracing
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer and fvcore chatter about uncounted ops
            analysis = FlopCountAnalysis(model, x)
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            by_op = {k: v / 1e9 for k, v in analysis.by_operator().items()}
            per_module = analysis.by_module_and_operator()
    finally:
        model.train(was_training)
    parts = [name for name, _ in model.named_children()]
    if hasattr(model, "stages"):  # one row per stage rather than one for all stages
        parts = [p for p in parts if p != "stages"]
        parts[1:1] = [f"stages.{i}" for i in range(len(model.stages))]
    by_module = {p: {k: v / 1e9 for k, v in per_module.get(p, Counter()).items()} for p in parts}
    return FlopReport((h, w), by_op, by_module)


def count_flops(model: nn.Module, image_size=224, convention: str = "paper") -> float:
    """GFLOPs (multiply-accumulates / 1e9) of one image; ``convention`` is "paper" or "fvcore"."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; valid: {', '.join(CONVENTIONS)}")
    return flop_report(model, image_size).total(convention)


@dataclass(frozen=True)
class StepCount:
    """One row of the roadmap table: our counts next to the paper's."""

    index: int
    name: str
    label: str
    adopted: bool
    params: int
    gflops_paper_convention: float
    gflops_fvcore: float
    paper_gflops: float
    paper_top1: float
    by_part: dict  # GFLOPs (paper convention) of stem, each stage and head
    note: str = ""

    @property
    def difference(self) -> float:
        return self.gflops_paper_convention - self.paper_gflops


def count_step(step, regime: str = "resnet50", image_size: int = 224) -> StepCount:
    """Count one roadmap step, by index or name (cached: counting takes a second or so on a CPU)."""
    return _count_step(get_step(step, regime).index, regime, image_size)


@lru_cache(maxsize=None)
def _count_step(index: int, regime: str, image_size: int) -> StepCount:
    s = get_step(index, regime)
    with torch.device("meta"):  # counting needs only shapes: skip the weight init, most of a large model's build
        model = build_model(s, regime=regime)
    model = model.to_empty(device="cpu")
    with one_thread():  # batch-1 tracing is small work: a second thread only waits (5x slower on a busy CPU)
        report = flop_report(model, image_size)
    return StepCount(s.index, s.name, s.label, s.adopted, count_params(model), report.total("paper"),
                     report.total("fvcore"), s.paper_gflops, s.paper_top1, report.by_part("paper"), s.note)


def count_roadmap(regime: str = "resnet50", image_size: int = 224) -> tuple[StepCount, ...]:
    """Count every step of a regime."""
    return tuple(_count_step(s.index, regime, image_size) for s in roadmap_steps(regime))
