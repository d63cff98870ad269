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

    @property
    def paper_table_gflops(self) -> float:
        """GFLOPs as the paper's table prints them (typos included; ``paper_gflops`` is the corrected value)."""
        return self.paper_gflops if self.paper_printed_gflops is None else self.paper_printed_gflops

    def __str__(self) -> str:
        return f"step {self.index} ({self.name}): {self.change}"


# One row per step, in Step's field names. ``overrides``: the config fields the step changes (none: same network);
# ``adopted`` is True unless a row says otherwise; ``paper_printed_gflops`` and ``note`` mark a typo of the paper.
_RESNET50 = [
    dict(name="resnet50", label="ResNet-50", paper_top1=76.13, paper_gflops=4.09,
         change="the starting point: ResNet-50 with the original 90-epoch recipe"),
    dict(name="modern_recipe", label="modern training recipe", paper_top1=78.82, paper_gflops=4.09,
         change="same network, trained with the modern recipe (AdamW, long schedule, heavy augmentation and "
                "regularisation)"),
    dict(name="stage_ratio", label="stage ratio", paper_top1=79.36, paper_gflops=4.53,
         overrides={"depths": (3, 3, 9, 3)},
         change="blocks per stage (3, 4, 6, 3) -> (3, 3, 9, 3), Swin-T's 1:1:3:1 ratio"),
    dict(name="patchify_stem", label='"patchify" stem', paper_top1=79.51, paper_gflops=4.42,
         overrides={"stem": "patchify", "stem_norm": False},
         change="the 7x7/2 conv + BN + ReLU + 3x3/2 max-pool stem -> one 4x4 stride-4 conv"),
    dict(name="depthwise_conv", label="depth conv", paper_top1=78.28, paper_gflops=2.35,
         overrides={"depthwise": True},
         change="the 3x3 conv of each bottleneck becomes depthwise (one group per channel)"),
    dict(name="width_96", label="width up", paper_top1=80.50, paper_gflops=5.27,
         overrides={"widths": (96, 192, 384, 768), "stem_width": 96},
         change="bottleneck widths 64..512 -> 96..768 (Swin-T's), the stem outputs 96"),
    dict(name="inverted_bottleneck", label="inverting dims", paper_top1=80.64, paper_gflops=4.64,
         overrides={"block": "inverted"},
         change="inverted bottleneck: 1x1 d->4d, depthwise 3x3 on 4d, 1x1 4d->d"),
    dict(name="move_up_dwconv", label="move up d. conv", paper_top1=79.92, paper_gflops=4.07,
         overrides={"block": "dw_first"},
         change="the depthwise conv moves to the front of the block, on its input channels"),
    dict(name="kernel_5", label="kernel size 5", paper_top1=80.35, paper_gflops=4.10, overrides={"kernel_size": 5},
         adopted=False,
         change="depthwise kernel 3x3 -> 5x5 (a branch, not adopted)"),
    dict(name="kernel_7", label="kernel size 7", paper_top1=80.57, paper_gflops=4.15, overrides={"kernel_size": 7},
         change="depthwise kernel 3x3 -> 7x7 (adopted)"),
    dict(name="kernel_9", label="kernel size 9", paper_top1=80.57, paper_gflops=4.21, overrides={"kernel_size": 9},
         adopted=False,
         change="depthwise kernel 3x3 -> 9x9 (a branch, not adopted)"),
    dict(name="kernel_11", label="kernel size 11", paper_top1=80.47, paper_gflops=4.29, overrides={"kernel_size": 11},
         adopted=False,
         change="depthwise kernel 3x3 -> 11x11 (a branch, not adopted)"),
    dict(name="gelu", label="ReLU -> GELU", paper_top1=80.62, paper_gflops=4.15, overrides={"activation": "gelu"},
         change="every ReLU becomes a GELU"),
    dict(name="fewer_activations", label="fewer activations", paper_top1=81.27, paper_gflops=4.15,
         overrides={"activations": "one"},
         change="only the activation between the two 1x1 convs stays"),
    dict(name="fewer_norms", label="fewer norms", paper_top1=81.41, paper_gflops=4.15, overrides={"norms": "one"},
         change="only the norm after the depthwise conv stays"),
    dict(name="layer_norm", label="BN -> LN", paper_top1=81.47, paper_gflops=4.15, overrides={"norm": "ln"},
         paper_printed_gflops=4.46,
         change="BatchNorm becomes LayerNorm over channels",
         note="Table 10 prints 4.46 GFLOPs here, a typo: Figure 2 prints 4.2, the ResNet-200 table shows no change "
              "at this step, and norms are not counted; the count is 4.15."),
    dict(name="separate_downsampling", label="sep. d.s. conv", paper_top1=81.97, paper_gflops=4.46,
         overrides=_CONVNEXT_FINAL, paper_printed_gflops=4.49,
         change="separate LN + 2x2/2 conv downsampling layers between stages, and the final model's other parts (LN "
                "after the stem and before the head, layer scale 1e-6, ConvNeXt's init): ConvNeXt-T",
         note="Table 10 prints 4.49 GFLOPs and Tables 1 and 9 print 4.5; the count (also torchvision's) is 4.456."),
]

# ResNet-200's roadmap (Table 11) takes the same steps: each row keeps ResNet-50's name, label, design change and
# adoption, with its own numbers and words, and its own overrides where the paper scales the bigger network.
_RESNET200_OWN = [
    dict(name="resnet200", label="ResNet-200", paper_top1=78.20, paper_gflops=15.01,
         change="the starting point: ResNet-200, blocks (3, 24, 36, 3), original recipe"),
    dict(paper_top1=81.14, paper_gflops=15.01, change="same network, trained with the modern recipe"),
    dict(paper_top1=81.33, paper_gflops=14.52,
         overrides={"depths": (3, 3, 27, 3), "widths": (84, 168, 336, 672), "stem_width": 84},
         change="blocks per stage (3, 24, 36, 3) -> (3, 3, 27, 3), and widths 64 -> 84 (stem included) to hold the "
                "FLOPs"),
    dict(paper_top1=81.59, paper_gflops=14.38, change="the ResNet stem -> one 4x4 stride-4 conv"),
    dict(paper_top1=80.54, paper_gflops=7.23, change="the 3x3 conv of each bottleneck becomes depthwise"),
    dict(name="width_128", paper_top1=81.85, paper_gflops=16.76,
         overrides={"widths": (128, 256, 512, 1024), "stem_width": 128},
         change="bottleneck widths 84..672 -> 128..1024, the stem outputs 128"),
    dict(paper_top1=82.64, paper_gflops=15.68, change="inverted bottleneck: 1x1 d->4d, depthwise 3x3 on 4d, 1x1 4d->d"),
    dict(paper_top1=82.04, paper_gflops=14.63, change="the depthwise conv moves to the front of the block"),
    dict(paper_top1=82.32, paper_gflops=14.70, change="depthwise kernel 3 -> 5 (not adopted)"),
    dict(paper_top1=82.30, paper_gflops=14.81, change="depthwise kernel 3 -> 7 (adopted)"),
    dict(paper_top1=82.27, paper_gflops=14.95, change="depthwise kernel 3 -> 9 (not adopted)"),
    dict(paper_top1=82.18, paper_gflops=15.13, change="depthwise kernel 3 -> 11 (not adopted)"),
    dict(paper_top1=82.19, paper_gflops=14.81, change="every ReLU becomes a GELU"),
    dict(paper_top1=82.71, paper_gflops=14.81, change="only the activation between the two 1x1 convs stays"),
    dict(paper_top1=83.17, paper_gflops=14.81, change="only the norm after the depthwise conv stays"),
    dict(paper_top1=83.35, paper_gflops=14.81, change="BatchNorm becomes LayerNorm over channels"),
    dict(paper_top1=83.60, paper_gflops=15.35,
         change="separate downsampling layers and the final model's parts: ConvNeXt-B"),
]
_SHARED = ("name", "label", "overrides", "adopted")  # what a ResNet-200 row takes from ResNet-50's
_RESNET200 = [{**{k: v for k, v in r50.items() if k in _SHARED}, **own}
              for r50, own in zip(_RESNET50, _RESNET200_OWN, strict=True)]

_BASE = {"resnet50": NetConfig(), "resnet200": NetConfig(depths=(3, 24, 36, 3))}


def _make_regime(regime: str, rows: list[dict]) -> tuple[Step, ...]:
    steps: list[Step] = []
    last_adopted: Step | None = None
    for i, row in enumerate(rows):
        row = {"overrides": {}, "adopted": True, **row}
        parent = last_adopted  # a step changes the last adopted step before it
        cfg = parent.config.replace(**row["overrides"]) if parent else _BASE[regime]
        step = Step(index=i, parent=parent.index if parent else None, recipe="original" if i == 0 else "modern",
                    regime=regime, config=cfg, **{**row, "overrides": dict(row["overrides"])})
        steps.append(step)
        if step.adopted:
            last_adopted = step
    return tuple(steps)


_STEPS = {"resnet50": _make_regime("resnet50", _RESNET50), "resnet200": _make_regime("resnet200", _RESNET200)}

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
