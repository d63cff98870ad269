"""The one configuration every network of the course is built from.

A roadmap step is a ``NetConfig``; the next step is the same config with one
named change (``dataclasses.replace``). Every field below is a design decision
the paper changes at some step, so printing the difference of two configs shows
exactly what a step changed. One field no step changes, ``shortcuts``, is an
experiment's knob (notebook 01: ResNet-50 without its shortcuts).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, fields, replace

# Valid values of the categorical fields, used by validation and error messages.
CHOICES = {
    "block": ("bottleneck", "inverted", "dw_first"),
    "stem": ("resnet", "patchify"),
    "activation": ("relu", "gelu"),
    "activations": ("all", "one"),
    "norm": ("bn", "ln"),
    "norms": ("all", "one"),
    "downsampling": ("in_block", "separate"),
    "init": ("kaiming", "trunc_normal"),
}


# Integer fields that must be at least 1, with the value the paper's networks use.
_POSITIVE_INTS = {
    "stem_width": "64 in ResNet-50, 96 in ConvNeXt-T",
    "expansion": "4 in ResNet and ConvNeXt",
    "in_chans": "3 for RGB images",
}


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class NetConfig:
    """Architecture of one network.

    block:
        ``bottleneck``: 1x1 (in -> w), kxk (w -> w), 1x1 (w -> 4w) as in ResNet.
        ``inverted``:   1x1 (in -> 4d), kxk depthwise (4d), 1x1 (4d -> d).
        ``dw_first``:   kxk depthwise (in), 1x1 (in -> 4d), 1x1 (4d -> d).
    widths: per stage, ``w`` of a bottleneck or ``d`` of an inverted block.
    expansion: the 4 in the lines above.
    depthwise: the kxk conv has one group per channel (ResNeXt-ify).
    activations: ``all`` as in ResNet (after every conv but the last, and after
        the residual add), ``one`` keeps only the one between the two 1x1 convs.
    norms: ``all`` (after every conv) or ``one`` (only after the kxk conv).
    downsampling: ``in_block`` (the first block of stages 2-4 strides, with a
        1x1 stride-2 conv + norm on its shortcut) or ``separate`` (norm + 2x2
        stride-2 conv between stages, ConvNeXt's).
    stem_norm / head_norm: a norm after the stem / before the classifier.
    layer_scale: initial value of the per-channel scale on each residual
        branch (``None``: no layer scale).
    drop_path: stochastic depth rate of the last block (rises linearly from 0).
    shortcuts: ``True`` in every step; ``False`` removes every block's shortcut
        (identity and projection alike), leaving a plain network as the ResNet
        paper's baseline: an experiment, not a step.
    """

    depths: tuple[int, ...] = (3, 4, 6, 3)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    stem: str = "resnet"
    stem_width: int = 64
    block: str = "bottleneck"
    expansion: int = 4
    depthwise: bool = False
    kernel_size: int = 3
    activation: str = "relu"
    activations: str = "all"
    norm: str = "bn"
    norms: str = "all"
    downsampling: str = "in_block"
    stem_norm: bool = True
    head_norm: bool = False
    layer_scale: float | None = None
    drop_path: float = 0.0
    init: str = "kaiming"
    in_chans: int = 3
    shortcuts: bool = True

    def __post_init__(self):
        for name in ("depths", "widths"):  # a list (from JSON, or typed by hand) is the same design
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
            if not isinstance(getattr(self, name), tuple) or not all(_is_int(v) for v in getattr(self, name)):
                raise ValueError(f"{name}={value!r} is not valid: use a tuple of positive integers, one per stage, "
                                 f"e.g. {name}={getattr(NetConfig, name)}")
        for name, valid in CHOICES.items():
            value = getattr(self, name)
            if not isinstance(value, str) or value not in valid:
                raise ValueError(f"{name}={value!r} is not valid; choose one of {', '.join(valid)}")
        for name in ("depthwise", "stem_norm", "head_norm", "shortcuts"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}={getattr(self, name)!r} is not valid: use True or False")
        for name, example in _POSITIVE_INTS.items():
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name}={value!r} is not valid: use a positive integer ({example})")
        if len(self.depths) != len(self.widths) or not self.depths:
            raise ValueError(f"depths {self.depths} and widths {self.widths} must be non-empty and of equal length")
        if any(d < 1 for d in self.depths) or any(w < 1 for w in self.widths):
            raise ValueError(f"depths {self.depths} and widths {self.widths} must be positive")
        if not _is_real(self.drop_path) or (self.layer_scale is not None and not _is_real(self.layer_scale)):
            raise ValueError(f"drop_path={self.drop_path!r} must be a number and layer_scale={self.layer_scale!r} "
                             "a number or None")
        if not _is_int(self.kernel_size) or self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size={self.kernel_size!r} is not valid: use an odd size (3, 5, 7, 9, 11, ...) "
                "so that 'same' padding keeps the feature map centred")
        if self.block == "dw_first" and not self.depthwise:
            raise ValueError("block='dw_first' moves the depthwise conv up; it needs depthwise=True")
        if self.activations == "one" and self.block != "dw_first":
            raise ValueError("activations='one' keeps the activation between the two 1x1 convs, "
                             "which only block='dw_first' has; use activations='all' for "
                             f"block={self.block!r}")
        if self.norms == "one" and self.block != "dw_first":
            raise ValueError("norms='one' keeps only the norm after the depthwise conv; it needs "
                             f"block='dw_first' (got block={self.block!r})")
        if not 0.0 <= self.drop_path < 1.0:
            raise ValueError(f"drop_path={self.drop_path} must be in [0, 1)")
        if self.layer_scale is not None and self.layer_scale <= 0:
            raise ValueError(f"layer_scale={self.layer_scale} must be positive or None")

    @property
    def stage_out_channels(self) -> tuple[int, ...]:
        """Channels each stage outputs (4w for bottlenecks, d otherwise)."""
        mult = self.expansion if self.block == "bottleneck" else 1
        return tuple(w * mult for w in self.widths)

    @property
    def min_input_size(self) -> int:
        """The smallest image side the network takes: the stem strides by 4, each later stage by 2."""
        return 4 * 2 ** (len(self.depths) - 1)

    def replace(self, **changes) -> "NetConfig":
        """A copy with some fields changed; unknown field names are an error."""
        valid = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - valid)
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}; valid fields: {', '.join(sorted(valid))}")
        return replace(self, **changes)

    def diff(self, other: "NetConfig") -> dict[str, tuple]:
        """Fields that differ, as {name: (self's value, other's value)}."""
        return {f.name: (getattr(self, f.name), getattr(other, f.name))
                for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)}
