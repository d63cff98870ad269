"""The paper's roadmap as data: each step is the step before plus one named change.

Paper numbers come from PAPER.md (Table 10, Figure 2, Table 11, Table 1): ImageNet-1K
top-1 and GFLOPs at 224 px, multiply-accumulates of conv and linear layers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .config import NetConfig
from .network import Network

REGIMES = ("resnet50", "resnet200")

# The final model's parts, added at the last step (official ConvNeXt code).
_CONVNEXT_FINAL = {"downsampling": "separate", "stem_norm": True, "head_norm": True,
                   "layer_scale": 1e-6, "init": "trunc_normal"}


@dataclass(frozen=True)
class Step:
    index: int
    name: str
    label: str  # as in the paper's Figure 2
    change: str  # one sentence: what this step changes
    overrides: dict  # the change as config fields
    paper_top1: float
    paper_gflops: float  # GFLOPs the paper's count supports (see note where it printed otherwise)
    adopted: bool
    parent: int | None  # the step this one changes (the last adopted one)
    recipe: str  # "original" (step 0) or "modern"
    regime: str
    config: NetConfig = field(repr=False)
    note: str = ""
    paper_printed_gflops: float | None = None  # set where the paper's table has a typo

    def __str__(self) -> str:
        return f"step {self.index} ({self.name}): {self.change}"


# (name, Figure 2 label, change, overrides, top-1, GFLOPs, adopted)
_RESNET50 = [
    ("resnet50", "ResNet-50", "the starting point: ResNet-50 with the original 90-epoch recipe", {}, 76.13, 4.09, True),
    ("modern_recipe", "modern training recipe", "same network, trained with the modern recipe (AdamW, "
     "long schedule, heavy augmentation and regularisation)", {}, 78.82, 4.09, True),
    ("stage_ratio", "stage ratio", "blocks per stage (3, 4, 6, 3) -> (3, 3, 9, 3), Swin-T's 1:1:3:1 ratio",
     {"depths": (3, 3, 9, 3)}, 79.36, 4.53, True),
    ("patchify_stem", '"patchify" stem', "the 7x7/2 conv + BN + ReLU + 3x3/2 max-pool stem -> one 4x4 stride-4 conv",
     {"stem": "patchify", "stem_norm": False}, 79.51, 4.42, True),
    ("depthwise_conv", "depth conv", "the 3x3 conv of each bottleneck becomes depthwise (one group per channel)",
     {"depthwise": True}, 78.28, 2.35, True),
    ("width_96", "width up", "bottleneck widths 64..512 -> 96..768 (Swin-T's), the stem outputs 96",
     {"widths": (96, 192, 384, 768), "stem_width": 96}, 80.50, 5.27, True),
    ("inverted_bottleneck", "inverting dims", "inverted bottleneck: 1x1 d->4d, depthwise 3x3 on 4d, 1x1 4d->d",
     {"block": "inverted"}, 80.64, 4.64, True),
    ("move_up_dwconv", "move up d. conv", "the depthwise conv moves to the front of the block, on its input channels",
     {"block": "dw_first"}, 79.92, 4.07, True),
    ("kernel_5", "kernel size 5", "depthwise kernel 3x3 -> 5x5 (a branch, not adopted)",
     {"kernel_size": 5}, 80.35, 4.10, False),
    ("kernel_7", "kernel size 7", "depthwise kernel 3x3 -> 7x7 (adopted)", {"kernel_size": 7}, 80.57, 4.15, True),
    ("kernel_9", "kernel size 9", "depthwise kernel 3x3 -> 9x9 (a branch, not adopted)",
     {"kernel_size": 9}, 80.57, 4.21, False),
    ("kernel_11", "kernel size 11", "depthwise kernel 3x3 -> 11x11 (a branch, not adopted)",
     {"kernel_size": 11}, 80.47, 4.29, False),
    ("gelu", "ReLU -> GELU", "every ReLU becomes a GELU", {"activation": "gelu"}, 80.62, 4.15, True),
    ("fewer_activations", "fewer activations", "only the activation between the two 1x1 convs stays",
     {"activations": "one"}, 81.27, 4.15, True),
    ("fewer_norms", "fewer norms", "only the norm after the depthwise conv stays",
     {"norms": "one"}, 81.41, 4.15, True),
    ("layer_norm", "BN -> LN", "BatchNorm becomes LayerNorm over channels", {"norm": "ln"}, 81.47, 4.15, True),
    ("separate_downsampling", "sep. d.s. conv", "separate LN + 2x2/2 conv downsampling layers between stages, and the "
     "final model's other parts (LN after the stem and before the head, layer scale 1e-6, ConvNeXt's init): "
     "ConvNeXt-T", _CONVNEXT_FINAL, 81.97, 4.46, True),
]

_RESNET50_TYPOS = {
    15: (4.46, "Table 10 prints 4.46 GFLOPs here, a typo: Figure 2 prints 4.2, the ResNet-200 table shows no "
               "change at this step, and norms are not counted; the count is 4.15."),
    16: (4.49, "Table 10 prints 4.49 GFLOPs and Tables 1 and 9 print 4.5; the count (also torchvision's) is 4.456."),
}

_RESNET200 = [
    ("resnet200", "ResNet-200", "the starting point: ResNet-200, blocks (3, 24, 36, 3), original recipe",
     {}, 78.20, 15.01, True),
    ("modern_recipe", "modern training recipe", "same network, trained with the modern recipe", {}, 81.14, 15.01, True),
    ("stage_ratio", "stage ratio", "blocks per stage (3, 24, 36, 3) -> (3, 3, 27, 3), and widths 64 -> 84 "
     "(stem included) to hold the FLOPs",
     {"depths": (3, 3, 27, 3), "widths": (84, 168, 336, 672), "stem_width": 84}, 81.33, 14.52, True),
    ("patchify_stem", '"patchify" stem', "the ResNet stem -> one 4x4 stride-4 conv",
     {"stem": "patchify", "stem_norm": False}, 81.59, 14.38, True),
    ("depthwise_conv", "depth conv", "the 3x3 conv of each bottleneck becomes depthwise",
     {"depthwise": True}, 80.54, 7.23, True),
    ("width_128", "width up", "bottleneck widths 84..672 -> 128..1024, the stem outputs 128",
     {"widths": (128, 256, 512, 1024), "stem_width": 128}, 81.85, 16.76, True),
    ("inverted_bottleneck", "inverting dims", "inverted bottleneck: 1x1 d->4d, depthwise 3x3 on 4d, 1x1 4d->d",
     {"block": "inverted"}, 82.64, 15.68, True),
    ("move_up_dwconv", "move up d. conv", "the depthwise conv moves to the front of the block",
     {"block": "dw_first"}, 82.04, 14.63, True),
    ("kernel_5", "kernel size 5", "depthwise kernel 3 -> 5 (not adopted)", {"kernel_size": 5}, 82.32, 14.70, False),
    ("kernel_7", "kernel size 7", "depthwise kernel 3 -> 7 (adopted)", {"kernel_size": 7}, 82.30, 14.81, True),
    ("kernel_9", "kernel size 9", "depthwise kernel 3 -> 9 (not adopted)", {"kernel_size": 9}, 82.27, 14.95, False),
    ("kernel_11", "kernel size 11", "depthwise kernel 3 -> 11 (not adopted)", {"kernel_size": 11}, 82.18, 15.13, False),
    ("gelu", "ReLU -> GELU", "every ReLU becomes a GELU", {"activation": "gelu"}, 82.19, 14.81, True),
    ("fewer_activations", "fewer activations", "only the activation between the two 1x1 convs stays",
     {"activations": "one"}, 82.71, 14.81, True),
    ("fewer_norms", "fewer norms", "only the norm after the depthwise conv stays", {"norms": "one"}, 83.17, 14.81, True),
    ("layer_norm", "BN -> LN", "BatchNorm becomes LayerNorm over channels", {"norm": "ln"}, 83.35, 14.81, True),
    ("separate_downsampling", "sep. d.s. conv", "separate downsampling layers and the final model's parts: "
     "ConvNeXt-B", _CONVNEXT_FINAL, 83.60, 15.35, True),
]

_BASE = {"resnet50": NetConfig(), "resnet200": NetConfig(depths=(3, 24, 36, 3))}


def _make_regime(regime: str, rows: list, typos: dict) -> tuple[Step, ...]:
    steps: list[Step] = []
    last_adopted: Step | None = None
    for i, (name, label, change, overrides, top1, gflops, adopted) in enumerate(rows):
        parent = last_adopted
        cfg = parent.config.replace(**overrides) if parent else _BASE[regime]
        printed, note = typos.get(i, (None, ""))
        step = Step(i, name, label, change, dict(overrides), top1, gflops, adopted,
                    parent.index if parent else None, "original" if i == 0 else "modern",
                    regime, cfg, note, printed)
        steps.append(step)
        if adopted:
            last_adopted = step
    return tuple(steps)


_STEPS = {"resnet50": _make_regime("resnet50", _RESNET50, _RESNET50_TYPOS),
          "resnet200": _make_regime("resnet200", _RESNET200, {})}

# The ConvNeXt family (Table 1): the last step's design at other widths and depths.
FAMILY = {
    "T": {"depths": (3, 3, 9, 3), "widths": (96, 192, 384, 768), "paper_params_m": 28.6, "paper_gflops": 4.5, "paper_top1": 82.1},
    "S": {"depths": (3, 3, 27, 3), "widths": (96, 192, 384, 768), "paper_params_m": 50.2, "paper_gflops": 8.7, "paper_top1": 83.1},
    "B": {"depths": (3, 3, 27, 3), "widths": (128, 256, 512, 1024), "paper_params_m": 88.6, "paper_gflops": 15.4, "paper_top1": 83.8},
    "L": {"depths": (3, 3, 27, 3), "widths": (192, 384, 768, 1536), "paper_params_m": 197.8, "paper_gflops": 34.4, "paper_top1": 84.3},
    "XL": {"depths": (3, 3, 27, 3), "widths": (256, 512, 1024, 2048), "paper_params_m": 350.2, "paper_gflops": 60.9, "paper_top1": None},
}


def _check_regime(regime: str) -> None:
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; valid regimes: {', '.join(REGIMES)}")


def roadmap_steps(regime: str = "resnet50") -> tuple[Step, ...]:
    """The ordered roadmap steps of a regime (``resnet50`` or ``resnet200``)."""
    _check_regime(regime)
    return _STEPS[regime]


def get_step(step: int | str | Step, regime: str = "resnet50") -> Step:
    """A step by index (0-16), name (``"kernel_7"``) or ``Step``."""
    if isinstance(step, Step):
        return step
    steps = roadmap_steps(regime)
    if isinstance(step, str) and step.isdigit():
        step = int(step)
    if isinstance(step, int) and not isinstance(step, bool) and 0 <= step < len(steps):
        return steps[step]
    for s in steps:
        if s.name == step:
            return s
    names = ", ".join(f"{s.index}={s.name}" for s in steps)
    raise ValueError(f"unknown step {step!r} in regime {regime!r}; valid steps: {names}")


def convnext_config(variant: str = "T", **overrides) -> NetConfig:
    """The config of ConvNeXt-T/S/B/L/XL: the last roadmap step at another size."""
    key = variant.upper().removeprefix("CONVNEXT-").removeprefix("CONVNEXT_")
    if key not in FAMILY:
        raise ValueError(f"unknown ConvNeXt variant {variant!r}; valid: {', '.join(FAMILY)}")
    size = FAMILY[key]
    final = roadmap_steps("resnet50")[-1].config
    return final.replace(depths=size["depths"], widths=size["widths"], stem_width=size["widths"][0], **overrides)


def build_model(step: int | str | Step = 16, num_classes: int = 1000, regime: str = "resnet50",
                **overrides) -> Network:
    """The network of a roadmap step; ``overrides`` change config fields (``kernel_size=9``)."""
    cfg = get_step(step, regime).config
    return Network(cfg.replace(**overrides) if overrides else cfg, num_classes)


def build_convnext(variant: str = "T", num_classes: int = 1000, **overrides) -> Network:
    return Network(convnext_config(variant, **overrides), num_classes)
