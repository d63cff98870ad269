"""Two independent FLOP counters agree: fvcore (tracing, what the course uses) and PyTorch's own
``torch.utils.flop_counter.FlopCounterMode`` (operator dispatch).

fvcore's last release is from 2022 and counts through ``torch.jit`` tracing, which PyTorch is
deprecating; FlopCounterMode is maintained with PyTorch. It counts 2 FLOPs per multiply-accumulate
of convolutions and matrix products only, which is the paper's convention times two. If either
counter breaks or changes, this test says which step and by how much.
"""
import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import convnext_lesson as cl

STEPS = [(regime, step.index) for regime in ("resnet50", "resnet200") for step in cl.roadmap_steps(regime)]


def flop_counter_macs(model: torch.nn.Module, image_size: int = 224) -> int:
    """Multiply-accumulates of one forward pass, by FlopCounterMode, on the meta device (shapes only)."""
    model = model.to("meta").eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, image_size, image_size, device="meta"))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("regime,index", STEPS, ids=[f"{r}-{i}" for r, i in STEPS])
def test_fvcore_and_flop_counter_mode_agree_on_every_step(regime, index):
    with torch.device("meta"):
        model = cl.build_model(index, regime=regime)
    ours = flop_counter_macs(model)
    fvcore_gflops = cl.count_step(index, regime).gflops_paper_convention
    assert math.isclose(ours / 1e9, fvcore_gflops, rel_tol=1e-9), (
        f"{regime} step {index}: fvcore counts {fvcore_gflops:.6f} GMACs (paper convention), torch's "
        f"FlopCounterMode {ours / 1e9:.6f}; one of the two counters changed (torch {torch.__version__})")


def test_the_counter_counts_a_known_layer():
    conv = torch.nn.Conv2d(8, 16, 3, padding=1, bias=False)
    assert flop_counter_macs(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 1, bias=False), conv), 10) == (
        10 * 10 * 8 * 3 + 10 * 10 * 16 * 8 * 9)
