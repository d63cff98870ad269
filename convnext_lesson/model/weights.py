"""Weight layouts: our networks' tensors under the names of torchvision, the official ConvNeXt code, timm and HF.

Only the two ends of the roadmap have published weights: ResNet (steps 0-1) in
torchvision's ``resnet`` layout, and ConvNeXt (step 16 and the T/S/B/L/XL family)
in torchvision's ``convnext`` and the official facebookresearch/ConvNeXt layout.
Our 1x1 convs are ``Conv2d``; the ConvNeXt layouts store them as ``Linear``
weights, so those are reshaped (same numbers, same order).

timm (``to_timm_state_dict``, ``load_timm_weights``) and Hugging Face ``ConvNextForImageClassification``
(``to_hf_state_dict``, ``load_hf_weights``) are renames of the official layout. The names follow
``timm/models/convnext.py`` (``ConvNeXt``, and its ``checkpoint_filter_fn`` that renames official
checkpoints) and ``transformers/models/convnext/modeling_convnext.py``. In all three layouts the 1x1
convs are ``Linear`` weights (out, in) and the layer scale is a vector (C,), so porting between them
only renames.
"""
from __future__ import annotations

import re
from typing import Callable, Mapping

import torch
from torch import nn

from .config import NetConfig

# Fields that make a network a ResNet or a ConvNeXt; sizes (depths, widths) may vary.
_RESNET = {"stem": "resnet", "stem_norm": True, "block": "bottleneck", "depthwise": False, "kernel_size": 3,
           "activation": "relu", "activations": "all", "norm": "bn", "norms": "all", "downsampling": "in_block",
           "head_norm": False, "layer_scale": None, "expansion": 4}
_CONVNEXT = {"stem": "patchify", "stem_norm": True, "block": "dw_first", "depthwise": True, "kernel_size": 7,
             "activation": "gelu", "activations": "one", "norm": "ln", "norms": "one", "downsampling": "separate",
             "head_norm": True, "expansion": 4}


def _family(cfg: NetConfig) -> str:
    for name, spec in (("resnet", _RESNET), ("convnext", _CONVNEXT)):
        if all(getattr(cfg, k) == v for k, v in spec.items()):
            if name == "convnext" and cfg.layer_scale is None:
                break
            return name
    raise ValueError("published weights exist only for the two ends of the roadmap: a ResNet (steps 0-1) or "
                     "ConvNeXt (step 16, or the T/S/B/L/XL family); this network is neither. Differences from "
                     f"ResNet: {_differences(cfg, _RESNET)}; from ConvNeXt: {_differences(cfg, _CONVNEXT)}")


def _differences(cfg: NetConfig, spec: dict) -> str:
    return ", ".join(f"{k}={getattr(cfg, k)!r} (needs {v!r})" for k, v in spec.items() if getattr(cfg, k) != v)


def rename(patterns: list[tuple[str, Callable | str]], key: str) -> str | None:
    """``key`` renamed by the first of ``patterns`` (regex, replacement) that matches; None if none does."""
    for pattern, repl in patterns:
        new, n = re.subn(pattern, repl, key)
        if n:
            return new
    return None


def describe_mismatch(missing: list[str], unexpected: list[str], wrong: list[str] = ()) -> str:
    """The problems of a state dict that does not fit, a few names of each kind."""
    def show(items):
        return ", ".join(items[:5]) + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")
    problems = [f"{len(missing)} missing: {show(missing)}" if missing else "",
                f"{len(unexpected)} unexpected: {show(unexpected)}" if unexpected else "",
                f"{len(wrong)} of the wrong shape: {show(wrong)}" if wrong else ""]
    return "; ".join(p for p in problems if p)


def _sub(patterns: list[tuple[str, Callable | str]], key: str) -> str:
    new = rename(patterns, key)
    if new is None:
        raise KeyError(key)  # every key of our network is covered by a pattern; this is a bug
    return new


# Our key -> torchvision resnet key.
_TV_RESNET = [
    (r"^stem\.conv\.", "conv1."),
    (r"^stem\.norm\.", "bn1."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.shortcut\.conv\.", lambda m: f"layer{int(m[1]) + 1}.{m[2]}.downsample.0."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.shortcut\.norm\.", lambda m: f"layer{int(m[1]) + 1}.{m[2]}.downsample.1."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.conv(\d)\.", lambda m: f"layer{int(m[1]) + 1}.{m[2]}.conv{m[3]}."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.norm(\d)\.", lambda m: f"layer{int(m[1]) + 1}.{m[2]}.bn{m[3]}."),
    (r"^head\.fc\.", "fc."),
]

# Our key -> torchvision convnext key.
_TV_CONVNEXT = [
    (r"^stem\.conv\.", "features.0.0."),
    (r"^stem\.norm\.", "features.0.1."),
    (r"^stages\.(\d+)\.downsample\.norm\.", lambda m: f"features.{2 * int(m[1])}.0."),
    (r"^stages\.(\d+)\.downsample\.conv\.", lambda m: f"features.{2 * int(m[1])}.1."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.(conv1|norm1|conv2|conv3)\.",
     lambda m: f"features.{2 * int(m[1]) + 1}.{m[2]}.block.{ {'conv1': 0, 'norm1': 2, 'conv2': 3, 'conv3': 5}[m[3]]}."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.layer_scale$", lambda m: f"features.{2 * int(m[1]) + 1}.{m[2]}.layer_scale"),
    (r"^head\.norm\.", "classifier.0."),
    (r"^head\.fc\.", "classifier.2."),
]

# Our key -> official facebookresearch/ConvNeXt key.
_OFFICIAL = [
    (r"^stem\.conv\.", "downsample_layers.0.0."),
    (r"^stem\.norm\.", "downsample_layers.0.1."),
    (r"^stages\.(\d+)\.downsample\.norm\.", r"downsample_layers.\1.0."),
    (r"^stages\.(\d+)\.downsample\.conv\.", r"downsample_layers.\1.1."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.(conv1|norm1|conv2|conv3)\.",
     lambda m: f"stages.{m[1]}.{m[2]}.{ {'conv1': 'dwconv', 'norm1': 'norm', 'conv2': 'pwconv1', 'conv3': 'pwconv2'}[m[3]]}."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.layer_scale$", r"stages.\1.\2.gamma"),
    (r"^head\.norm\.", "norm."),
    (r"^head\.fc\.", "head."),
]

_LAYOUTS = {("torchvision", "resnet"): _TV_RESNET, ("torchvision", "convnext"): _TV_CONVNEXT,
            ("official", "convnext"): _OFFICIAL}


def _their_shape(key: str, ours: torch.Tensor, layout: str) -> torch.Size:
    """The shape a tensor has in the other layout (1x1 convs as Linear, official gamma as a vector)."""
    if re.search(r"blocks\.\d+\.conv[23]\.weight$", key) and layout != "torchvision-resnet":
        return ours.shape[:2]
    if key.endswith("layer_scale") and layout == "official-convnext":
        return ours.shape[:1]
    return ours.shape


def _key_map(model: nn.Module, source: str) -> tuple[dict[str, str], str]:
    if not hasattr(model, "config"):
        raise TypeError(f"expected a convnext_lesson network (from build_model), got {type(model).__name__}")
    family = _family(model.config)
    if (source, family) not in _LAYOUTS:
        raise ValueError(f"the {source} layout has no {family} weights; use load_torchvision_weights for ResNet")
    patterns = _LAYOUTS[(source, family)]
    return {k: _sub(patterns, k) for k in model.state_dict()}, f"{source}-{family}"


def to_external_state_dict(model: nn.Module, source: str) -> dict[str, torch.Tensor]:
    keys, layout = _key_map(model, source)
    ours = model.state_dict()
    return {theirs: ours[k].detach().clone().reshape(_their_shape(k, ours[k], layout)) for k, theirs in keys.items()}


def load_external_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str) -> nn.Module:
    keys, layout = _key_map(model, source)
    ours = model.state_dict()
    missing = sorted(set(keys.values()) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(keys.values()))
    wrong = [f"{theirs}: got {tuple(state_dict[theirs].shape)}, expected {tuple(_their_shape(k, ours[k], layout))}"
             for k, theirs in keys.items()
             if theirs in state_dict and state_dict[theirs].shape != _their_shape(k, ours[k], layout)]
    if missing or unexpected or wrong:
        raise ValueError(f"these weights do not fit this network in the {layout} layout "
                         f"(depths {model.config.depths}, widths {model.config.widths}, "
                         f"{model.num_classes} classes): " + describe_mismatch(missing, unexpected, wrong))
    # load_state_dict would silently cast integer weights to float; a float tensor is what any real checkpoint has
    not_float = [f"{theirs} ({state_dict[theirs].dtype})" for k, theirs in keys.items()
                 if ours[k].is_floating_point() and not state_dict[theirs].is_floating_point()]
    if not_float:
        more = f" (+{len(not_float) - 5} more)" if len(not_float) > 5 else ""
        raise ValueError(f"these weights hold integer tensors where the network has floating-point ones: "
                         f"{', '.join(not_float[:5])}{more}; load float32, float16 or bfloat16 weights")
    converted = {k: state_dict[theirs].reshape(ours[k].shape) for k, theirs in keys.items()}
    model.load_state_dict(converted, strict=True)
    return model


def load_torchvision_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """Load a torchvision ``resnet*`` or ``convnext_*`` state dict into our network (in place)."""
    return load_external_weights(model, state_dict, "torchvision")


def to_torchvision_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Our weights in torchvision's layout (loads into ``torchvision.models.resnet50()`` / ``convnext_tiny()``)."""
    return to_external_state_dict(model, "torchvision")


def load_official_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """Load a facebookresearch/ConvNeXt state dict (the ``"model"`` entry of its checkpoints)."""
    return load_external_weights(model, state_dict, "official")


def to_official_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Our weights in the official facebookresearch/ConvNeXt layout."""
    return to_external_state_dict(model, "official")


# ---------------------------------------------------------------------------------------------------------------
# timm and Hugging Face: renames of the official layout (the shapes are the same)

_OFFICIAL_TO_TIMM = [
    (r"^downsample_layers\.0\.(\d)\.", r"stem.\1."),
    (r"^downsample_layers\.(\d+)\.(\d)\.", r"stages.\1.downsample.\2."),
    (r"^stages\.(\d+)\.(\d+)\.dwconv\.", r"stages.\1.blocks.\2.conv_dw."),
    (r"^stages\.(\d+)\.(\d+)\.norm\.", r"stages.\1.blocks.\2.norm."),
    (r"^stages\.(\d+)\.(\d+)\.pwconv(\d)\.", r"stages.\1.blocks.\2.mlp.fc\3."),
    (r"^stages\.(\d+)\.(\d+)\.gamma$", r"stages.\1.blocks.\2.gamma"),
    (r"^norm\.", "head.norm."),
    (r"^head\.", "head.fc."),
]

_OFFICIAL_TO_HF = [
    (r"^downsample_layers\.0\.0\.", "convnext.embeddings.patch_embeddings."),
    (r"^downsample_layers\.0\.1\.", "convnext.embeddings.layernorm."),
    (r"^downsample_layers\.(\d+)\.(\d)\.", r"convnext.encoder.stages.\1.downsampling_layer.\2."),
    (r"^stages\.(\d+)\.(\d+)\.dwconv\.", r"convnext.encoder.stages.\1.layers.\2.dwconv."),
    (r"^stages\.(\d+)\.(\d+)\.norm\.", r"convnext.encoder.stages.\1.layers.\2.layernorm."),
    (r"^stages\.(\d+)\.(\d+)\.pwconv(\d)\.", r"convnext.encoder.stages.\1.layers.\2.pwconv\3."),
    (r"^stages\.(\d+)\.(\d+)\.gamma$", r"convnext.encoder.stages.\1.layers.\2.layer_scale_parameter"),
    (r"^norm\.", "convnext.layernorm."),
    (r"^head\.", "classifier."),
]

LAYOUTS = {"timm": _OFFICIAL_TO_TIMM, "hf": _OFFICIAL_TO_HF}


def official_to(layout: str, key: str) -> str:
    """The name of an official-layout tensor in ``layout`` ("timm" or "hf")."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    new = rename(LAYOUTS[layout], key)
    if new is None:
        raise ValueError(f"{key!r} is not a tensor name of the official ConvNeXt layout")
    return new


def official_to_timm_key(key: str) -> str:
    return official_to("timm", key)


def official_to_hf_key(key: str) -> str:
    return official_to("hf", key)


def to_layout_state_dict(model: nn.Module, layout: str) -> dict[str, torch.Tensor]:
    """Our ConvNeXt's weights in the timm or Hugging Face layout."""
    return {official_to(layout, k): v for k, v in to_official_state_dict(model).items()}


def load_layout_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor], layout: str) -> nn.Module:
    """Load a timm or Hugging Face ConvNeXt state dict into our network (in place); a clear error if it does not fit."""
    wanted = {official_to(layout, k): k for k in to_official_state_dict(model)}
    missing = sorted(set(wanted) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(wanted))
    if missing or unexpected:
        raise ValueError(f"these weights are not a {layout} ConvNeXt state dict for this network (depths "
                         f"{model.config.depths}, widths {model.config.widths}, {model.num_classes} classes): "
                         + describe_mismatch(missing, unexpected))
    return load_official_weights(model, {official: state_dict[theirs] for theirs, official in wanted.items()})


def to_timm_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Loads into timm's ``convnext_tiny`` (``timm.create_model("convnext_tiny").load_state_dict``)."""
    return to_layout_state_dict(model, "timm")


def load_timm_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    return load_layout_weights(model, state_dict, "timm")


def to_hf_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Loads into Hugging Face's ``ConvNextForImageClassification`` (with a matching ``ConvNextConfig``)."""
    return to_layout_state_dict(model, "hf")


def load_hf_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    return load_layout_weights(model, state_dict, "hf")


def layout_table(model: nn.Module) -> list[dict[str, tuple[str, tuple]]]:
    """One row per tensor: its (name, shape) in our layout, torchvision's, the official one, timm's and HF's."""
    ours = model.state_dict()
    tv, official = to_torchvision_state_dict(model), to_official_state_dict(model)
    rows = []
    for k, tk, ok in zip(ours, tv, official):  # all three keep the order of our state dict
        rows.append({"ours": (k, tuple(ours[k].shape)), "torchvision": (tk, tuple(tv[tk].shape)),
                     "official": (ok, tuple(official[ok].shape)),
                     "timm": (official_to("timm", ok), tuple(official[ok].shape)),
                     "hf": (official_to("hf", ok), tuple(official[ok].shape))})
    return rows
