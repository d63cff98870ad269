"""The residual-branch diagnostic of notebook 08: it measures what the block computes, and tells the inits apart."""
import torch

from convnext_lesson.teach.lab import branch_scale as bs


def test_a_block_is_its_shortcut_plus_its_branch():
    net = bs.profile_network(16, profile="smoke", layer_scale=0.5).eval()
    block = net.stages[1].blocks[0]
    x = torch.randn(2, block.out_channels, 8, 8)
    with torch.no_grad():
        assert torch.allclose(block(x), block.shortcut(x) + block.branch(x), atol=1e-6)


def test_layer_scale_scales_the_first_branch_by_its_value():
    x = torch.randn(4, 3, 32, 32)
    plain = bs.branch_sizes(bs.profile_network(16, profile="smoke", layer_scale=None), x)
    scaled = bs.branch_sizes(bs.profile_network(16, profile="smoke", layer_scale=1e-6), x)
    assert len(plain) == len(scaled) == sum(bs.profile_network(16, profile="smoke").config.depths)
    # the same seed gives the same weights (layer scale draws no random numbers), so the first block sees the
    # same input and its branch is exactly 1e-6 times as large
    assert abs(scaled[0].ratio / plain[0].ratio / 1e-6 - 1) < 1e-3


def test_step_16_starts_every_branch_near_zero_and_step_15_does_not():
    x = bs.image_batch(n=16, size=32)
    assert x.shape == (16, 3, 32, 32) and abs(x.mean().item()) < 1.5
    sizes = bs.compare({15: bs.profile_network(15, profile="smoke"), 16: bs.profile_network(16, profile="smoke"),
                        "kaiming": bs.profile_network(16, profile="smoke", init="kaiming", layer_scale=None)}, x)
    assert all(r.ratio < 1e-5 for r in sizes[16])
    assert all(r.ratio > 0.1 for r in sizes[15]) and all(r.ratio > 0.1 for r in sizes["kaiming"])
    assert [(r.stage, r.block) for r in sizes[15]][:2] == [(1, 1), (2, 1)]  # smoke: one block per stage


def test_the_model_is_left_in_the_mode_it_was_in():
    net = bs.profile_network(15, profile="smoke").eval()
    bs.branch_sizes(net, torch.randn(2, 3, 32, 32))
    assert not net.training
