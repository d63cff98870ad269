"""Notebook 05 (inverted bottleneck): graders and solutions."""
import torch
from torch import nn

from ....model.layers import Block
from ....model.counting import count_params
from ....model.roadmap import build_model, get_step
from ..exercises import answered, exercise
from ...show.layer_costs import layer_cost


class InvertedBottleneckSolution(nn.Module):
    """The block of step 6 with an identity shortcut (ResNet's micro design: BN and ReLU everywhere)."""

    def __init__(self, dim, expansion=4, kernel=3):
        super().__init__()
        hidden = expansion * dim
        self.expand = nn.Conv2d(dim, hidden, 1, bias=False)                       # 1x1: d -> 4d
        self.bn1 = nn.BatchNorm2d(hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, kernel, padding=kernel // 2,       # depthwise on 4d
                                groups=hidden, bias=False)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.project = nn.Conv2d(hidden, dim, 1, bias=False)                      # 1x1: 4d -> d
        self.bn3 = nn.BatchNorm2d(dim)

    def forward(self, x):
        y = torch.relu(self.bn1(self.expand(x)))
        y = torch.relu(self.bn2(self.dwconv(y)))
        y = self.bn3(self.project(y))
        return torch.relu(x + y)                                                   # residual add, then ReLU


def reference_block(dim: int, expansion: int, kernel: int) -> Block:
    """The course's step-6 block (identity shortcut) with random weights and BatchNorm statistics,
    so that a layer in the wrong place changes the output."""
    cfg = get_step(6).config.replace(expansion=expansion, kernel_size=kernel)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(dim * 100 + expansion * 10 + kernel)
        block = Block(dim, dim, 1, cfg)
        with torch.no_grad():
            for m in block.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0, 0.2)
                    m.running_mean.normal_(0, 0.2)
                    m.running_var.uniform_(0.5, 1.5)
    return block.eval()


def _conv_text(conv: nn.Conv2d) -> str:
    k = conv.kernel_size[0]
    groups = f", groups {conv.groups}" if conv.groups > 1 else ""
    return f"{k}x{k} conv {conv.in_channels} -> {conv.out_channels}{groups}"


def _pairs(reference: nn.Module, mine: nn.Module, kind: type, signature) -> list:
    """Each layer of ``kind`` of the reference with the learner's layer of the same shape
    (in the learner's order among layers of equal shape)."""
    wanted = [m for m in reference.modules() if isinstance(m, kind)]
    remaining = [m for m in mine.modules() if isinstance(m, kind)]
    pairs = []
    for ref in wanted:
        match = next((m for m in remaining if signature(m) == signature(ref)), None)
        if match is None:
            return [(ref, None)]
        remaining.remove(match)
        pairs.append((ref, match))
    return pairs


def _conv_signature(conv):
    return conv.in_channels, conv.out_channels, conv.kernel_size, conv.groups


@exercise("05.inverted_block", "write MyInvertedBottleneck(dim, expansion, kernel): 1x1 conv dim -> "
          "expansion*dim, BN, ReLU; depthwise kxk conv, BN, ReLU; 1x1 conv -> dim, BN; + input; ReLU",
          InvertedBottleneckSolution)
def _grade_inverted_block(answer):
    for dim, expansion, kernel in ((96, 4, 3), (32, 2, 5)):
        case = f"MyInvertedBottleneck({dim}, {expansion}, {kernel})"
        block = answered(answer(dim, expansion, kernel))
        assert isinstance(block, nn.Module), f"{case} should be an nn.Module, not {type(block).__name__}"
        block.eval()
        x = torch.randn(2, dim, 10, 10, generator=torch.Generator().manual_seed(dim))
        with torch.no_grad():
            out = answered(block(x))
        assert isinstance(out, torch.Tensor) and tuple(out.shape) == tuple(x.shape), (
            f"{case} should map a ({dim}, 10, 10) input to the same shape, got "
            f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}")
        reference = reference_block(dim, expansion, kernel)
        convs = [getattr(reference, f"conv{i}") for i in (1, 2, 3)]
        expected_convs = "; ".join(_conv_text(c) for c in convs)
        mine_convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
        assert len(mine_convs) == 3, (f"{case} has {len(mine_convs)} Conv2d layers; the block has 3: "
                                      f"{expected_convs}")
        conv_pairs = _pairs(reference, block, nn.Conv2d, _conv_signature)
        missing = [ref for ref, m in conv_pairs if m is None]
        assert not missing, (f"{case}: none of your convs is a {_conv_text(missing[0])}. Yours: "
                             + "; ".join(_conv_text(c) for c in mine_convs) + f". Expected: {expected_convs}")
        assert all(m.bias is None for m in mine_convs), "no conv needs a bias (bias=False): BatchNorm follows each"
        norms = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)]
        sizes = sorted(m.num_features for m in norms)
        expected_sizes = sorted(getattr(reference, f"norm{i}").num_features for i in (1, 2, 3))
        assert sizes == expected_sizes, (f"{case}: your BatchNorm2d layers have {sizes} channels; the block has "
                                         f"three, after each conv: {expected_sizes}")
        n_mine, n_ref = (sum(p.numel() for p in m.parameters()) for m in (block, reference))
        assert n_mine == n_ref, f"{case} has {n_mine:,} parameters; the step-6 block has {n_ref:,}"
        norm_pairs = _pairs(reference, block, nn.BatchNorm2d, lambda m: m.num_features)
        with torch.no_grad():
            for ref, mine in conv_pairs + norm_pairs:
                mine.load_state_dict(ref.state_dict())
            got, expected = block(x), reference(x)
        assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4), (
            f"{case}: with the step-6 block's weights copied in, your output differs "
            f"(max |difference| {(got - expected).abs().max().item():.3g}). Check the order "
            "conv -> BatchNorm -> ReLU, that the last BatchNorm has no ReLU before the add, the ReLU after "
            "the add, and the depthwise conv's padding (kernel // 2) and groups.")


def inverted_block_macs_solution(dim, expansion, kernel, size):
    hidden = expansion * dim
    per_pixel = dim * hidden + hidden * kernel * kernel + hidden * dim  # 1x1 up, depthwise, 1x1 down
    return per_pixel * size * size


@exercise("05.inverted_block_macs", "write inverted_block_macs(dim, expansion, kernel, size): the MACs of "
          "the convs of one repeated inverted bottleneck block on a size x size input",
          inverted_block_macs_solution)
def _grade_inverted_block_macs(answer):
    for dim, expansion, kernel, size in ((96, 4, 3, 56), (384, 4, 3, 14), (96, 4, 7, 56), (64, 2, 5, 20)):
        block = reference_block(dim, expansion, kernel)
        expected = layer_cost(block, (dim, size, size)).macs
        got = answered(answer(dim, expansion, kernel, size))
        assert got == expected, (
            f"dim {dim}, expansion {expansion}, kernel {kernel}, {size}x{size}: you say {got:,} MACs, fvcore "
            f"counts {expected:,} for the convs. Per pixel: each 1x1 conv costs in x out channels, the "
            "depthwise conv channels x kernel x kernel.")


def expansion_params_solution(expansion):
    import convnext_lesson as cl
    params = cl.count_params(cl.build_model(6))   # expansion 4
    # per block, the layers on the hidden (expansion x d) channels: 1x1 conv cin -> hidden, its BatchNorm
    # (2 per channel), the depthwise 3x3 (9 per channel), its BatchNorm, 1x1 conv hidden -> d
    cin = 96  # the stem's output
    per_unit = 0  # parameters added by +1 of the ratio (one more d channels in the middle)
    for d, blocks in zip((96, 192, 384, 768), (3, 3, 9, 3)):
        for _ in range(blocks):
            per_unit += cin * d + 2 * d + 9 * d + 2 * d + d * d
            cin = d
    return params + (expansion - 4) * per_unit


@exercise("05.expansion_params", "write expansion_params(expansion): the parameters of step 6's network with "
          "expansion ratio `expansion` instead of 4", expansion_params_solution)
def _grade_expansion_params(answer):
    for expansion in (2, 3, 6):
        got = answered(answer(expansion))
        step6 = count_params(build_model(6))
        counted = count_params(build_model(6, expansion=expansion))
        hint = ""
        if got == step6:
            hint = " That is step 6's own count: the 1x1 convs, the depthwise conv and their norms do change."
        elif isinstance(got, (int, float)) and abs(got - step6 * expansion / 4) < 1:
            hint = (" You scaled the whole network: the shortcut convs, the stem, the norms on d channels and "
                    "the head do not depend on the ratio.")
        assert got == counted, f"expansion {expansion}: you say {got:,} parameters, counted {counted:,}.{hint}"
