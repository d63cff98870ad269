"""Notebook 10 (pretrained ConvNeXt): graders and solutions."""
from ....model.network import Network
from ....model.roadmap import build_convnext, get_step
from ..exercises import answered, exercise


def official_to_timm_solution(key):
    import re
    key = re.sub(r"^downsample_layers\.0\.", "stem.", key)                       # the stem
    key = re.sub(r"^downsample_layers\.(\d+)\.", r"stages.\1.downsample.", key)  # LN + 2x2 conv between stages
    key = re.sub(r"^stages\.(\d+)\.(\d+)\.", r"stages.\1.blocks.\2.", key)       # blocks of a stage
    key = key.replace("dwconv", "conv_dw").replace("pwconv", "mlp.fc")          # pwconv1 -> mlp.fc1
    key = re.sub(r"^norm\.", "head.norm.", key)                                  # the LN before the classifier
    key = re.sub(r"^head\.(weight|bias)$", r"head.fc.\1", key)                  # the classifier
    return key


def _official_keys() -> list[str]:
    """Every tensor name of ConvNeXt-T in the official layout (a narrow copy: the same names, built fast)."""
    from ....model.weights import to_official_state_dict
    cfg = get_step(16).config.replace(widths=(8, 16, 32, 64), stem_width=8)
    return list(to_official_state_dict(Network(cfg)))


@exercise("10.official_to_timm", "write official_to_timm(key): the timm name of a tensor named `key` in the "
          "official facebookresearch/ConvNeXt layout", official_to_timm_solution)
def _grade_official_to_timm(answer):
    from ..pretrained import official_to_timm_key
    keys = _official_keys()
    for key in keys:
        got, expected = answered(answer(key)), official_to_timm_key(key)
        assert got == expected, (f"{key!r} -> you say {got!r}, timm calls it {expected!r}. "
                                 "Compare the two layouts in the table above.")


def freeze_backbone_solution(model):
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith("head.fc.")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@exercise("10.freeze_backbone", "write freeze_backbone(model): freeze every parameter except those of the "
          "classifier model.head.fc, and return the number of trainable parameters", freeze_backbone_solution)
def _grade_freeze_backbone(answer):
    import torch
    with torch.device("meta"):  # shapes and flags only: built in no time, and nothing here needs values
        model = build_convnext("T", num_classes=10)
    got = answered(answer(model))
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert trainable == ["head.fc.bias", "head.fc.weight"], (
        f"trainable after your function: {trainable[:4]}{' ...' if len(trainable) > 4 else ''} "
        f"({len(trainable)} tensors); only head.fc.weight and head.fc.bias should be (set p.requires_grad)")
    expected = sum(p.numel() for p in model.head.fc.parameters())  # 768 * 10 weights + 10 biases
    assert got == expected, f"you return {got!r}; the trainable parameters number {expected:,}"
