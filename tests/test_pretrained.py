"""Notebook 10's helpers: timm and Hugging Face layouts, ImageNet classes of Imagenette, heads, fine-tuning.

timm and transformers are not installed here, so each layout is checked against a forward pass
written from that library's own module names (timm/models/convnext.py: ``stem``, ``stages.i.downsample``,
``stages.i.blocks.j.{conv_dw,norm,mlp.fc1,mlp.fc2,gamma}``, ``head.{norm,fc}``; transformers'
modeling_convnext.py: ``convnext.embeddings``, ``convnext.encoder.stages.i.{downsampling_layer,layers.j}``,
``convnext.layernorm``, ``classifier``): a tensor under the wrong name changes the logits.
"""
import copy
import time

import pytest
import torch
import torch.nn.functional as F
import torchvision
from randomized import randomize

import convnext_lesson as cl
from convnext_lesson.teach.lab import pretrained

TIMM = {"stem_conv": "stem.0", "stem_norm": "stem.1", "ds_norm": "stages.{i}.downsample.0",
        "ds_conv": "stages.{i}.downsample.1", "dw": "stages.{i}.blocks.{j}.conv_dw", "norm": "stages.{i}.blocks.{j}.norm",
        "fc1": "stages.{i}.blocks.{j}.mlp.fc1", "fc2": "stages.{i}.blocks.{j}.mlp.fc2",
        "gamma": "stages.{i}.blocks.{j}.gamma", "head_norm": "head.norm", "fc": "head.fc"}
HF = {"stem_conv": "convnext.embeddings.patch_embeddings", "stem_norm": "convnext.embeddings.layernorm",
      "ds_norm": "convnext.encoder.stages.{i}.downsampling_layer.0",
      "ds_conv": "convnext.encoder.stages.{i}.downsampling_layer.1",
      "dw": "convnext.encoder.stages.{i}.layers.{j}.dwconv", "norm": "convnext.encoder.stages.{i}.layers.{j}.layernorm",
      "fc1": "convnext.encoder.stages.{i}.layers.{j}.pwconv1", "fc2": "convnext.encoder.stages.{i}.layers.{j}.pwconv2",
      "gamma": "convnext.encoder.stages.{i}.layers.{j}.layer_scale_parameter", "head_norm": "convnext.layernorm",
      "fc": "classifier"}


def layout_forward(sd, names, x, depths):
    """ConvNeXt's forward pass read straight from a state dict in a layout given by ``names``."""
    def p(part, suffix="", **ij):
        return sd[names[part].format(**ij) + suffix]

    def ln_channels_first(x, w, b):
        return F.layer_norm(x.permute(0, 2, 3, 1), w.shape, w, b, 1e-6).permute(0, 3, 1, 2)

    x = F.conv2d(x, p("stem_conv", ".weight"), p("stem_conv", ".bias"), stride=4)
    x = ln_channels_first(x, p("stem_norm", ".weight"), p("stem_norm", ".bias"))
    for i, depth in enumerate(depths):
        if i > 0:
            x = ln_channels_first(x, p("ds_norm", ".weight", i=i), p("ds_norm", ".bias", i=i))
            x = F.conv2d(x, p("ds_conv", ".weight", i=i), p("ds_conv", ".bias", i=i), stride=2)
        for j in range(depth):
            y = F.conv2d(x, p("dw", ".weight", i=i, j=j), p("dw", ".bias", i=i, j=j), padding=3, groups=x.shape[1])
            y = y.permute(0, 2, 3, 1)
            w = p("norm", ".weight", i=i, j=j)
            y = F.layer_norm(y, w.shape, w, p("norm", ".bias", i=i, j=j), 1e-6)
            y = F.gelu(F.linear(y, p("fc1", ".weight", i=i, j=j), p("fc1", ".bias", i=i, j=j)))
            y = F.linear(y, p("fc2", ".weight", i=i, j=j), p("fc2", ".bias", i=i, j=j))
            x = x + (p("gamma", i=i, j=j) * y).permute(0, 3, 1, 2)
    x = x.mean((2, 3))
    w = p("head_norm", ".weight")
    x = F.layer_norm(x, w.shape, w, p("head_norm", ".bias"), 1e-6)
    return F.linear(x, p("fc", ".weight"), p("fc", ".bias"))


SMALL = cl.get_step(16).config.replace(depths=(2, 2, 5, 2), widths=(16, 32, 64, 128), stem_width=16)  # the same design, fast to build


@pytest.fixture(scope="module")
def model():
    return randomize(cl.build_model(16), seed=5).eval()


@pytest.fixture(scope="module")
def small():
    return randomize(cl.Network(SMALL), seed=5).eval()


@pytest.fixture(scope="module")
def x():
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))


@pytest.mark.parametrize("layout,names", [("timm", TIMM), ("hf", HF)])
def test_layout_matches_a_forward_pass_written_from_its_names(small, x, layout, names):
    sd = pretrained.to_layout_state_dict(small, layout)
    assert len(sd) == len(cl.to_official_state_dict(small))
    with torch.no_grad():
        expected, got = small(x), layout_forward(sd, names, x, SMALL.depths)
    assert expected.std() > 0.1
    assert (expected - got).abs().max().item() <= 1e-4


@pytest.mark.parametrize("layout", ["timm", "hf"])
def test_round_trip(small, x, layout):
    sd = pretrained.to_layout_state_dict(small, layout)
    again = pretrained.load_layout_weights(cl.Network(SMALL), sd, layout).eval()
    with torch.no_grad():
        assert torch.equal(again(x), small(x))


def test_layout_names_and_shapes(model):
    timm, hf = pretrained.to_timm_state_dict(model), pretrained.to_hf_state_dict(model)
    assert len(timm) == len(hf) == 182
    assert timm["stages.0.blocks.0.gamma"].shape == (96,)
    assert timm["stages.0.blocks.0.mlp.fc1.weight"].shape == (384, 96)
    assert timm["stages.1.downsample.1.weight"].shape == (192, 96, 2, 2)
    assert "stages.0.downsample.0.weight" not in timm  # stage 1 has no downsampling layer (the stem does it)
    assert hf["convnext.encoder.stages.3.layers.2.layer_scale_parameter"].shape == (768,)
    assert hf["classifier.weight"].shape == (1000, 768)
    assert "convnext.encoder.stages.0.downsampling_layer.0.weight" not in hf
    assert pretrained.official_to_timm_key("norm.weight") == "head.norm.weight"
    assert pretrained.official_to_hf_key("downsample_layers.0.1.bias") == "convnext.embeddings.layernorm.bias"


def test_layout_table_lines_up_five_layouts(model):
    rows = pretrained.layout_table(model)
    assert len(rows) == 182
    row = next(r for r in rows if r["ours"][0] == "stages.2.blocks.4.conv2.weight")
    assert row["torchvision"] == ("features.5.4.block.3.weight", (1536, 384))
    assert row["official"] == ("stages.2.4.pwconv1.weight", (1536, 384))
    assert row["timm"][0] == "stages.2.blocks.4.mlp.fc1.weight"
    assert row["hf"][0] == "convnext.encoder.stages.2.layers.4.pwconv1.weight"
    assert row["ours"][1] == (1536, 384, 1, 1)


def test_loading_the_wrong_layout_says_what_is_wrong(small):
    official = cl.to_official_state_dict(small)
    with pytest.raises(ValueError, match="not a timm ConvNeXt state dict.*missing.*unexpected"):
        pretrained.load_timm_weights(cl.Network(SMALL), official)
    timm = pretrained.to_timm_state_dict(small)
    with pytest.raises(ValueError, match="10 classes"):
        pretrained.load_timm_weights(cl.Network(SMALL, num_classes=10), timm)  # shapes are checked too
    with pytest.raises(ValueError, match="unknown layout 'keras'"):
        pretrained.official_to("keras", "norm.weight")
    with pytest.raises(ValueError, match="not a tensor name"):
        pretrained.official_to_timm_key("features.0.0.weight")


def test_imagenette_classes_map_to_imagenet_indices():
    categories = torchvision.models.ConvNeXt_Tiny_Weights.IMAGENET1K_V1.meta["categories"]
    wnids = sorted(pretrained.IMAGENETTE_CLASSES)
    indices = pretrained.imagenette_to_imagenet(wnids, categories)
    assert indices == [0, 217, 482, 491, 497, 566, 569, 571, 574, 701]
    # ImageNet's output order is the sorted order of its WordNet ids: sorted ids give increasing indices
    woof = pretrained.imagenette_to_imagenet(sorted(pretrained.IMAGEWOOF_CLASSES), categories)
    assert woof == sorted(woof) and len(set(woof)) == 10
    with pytest.raises(ValueError, match="unknown WordNet id 'n99999999'"):
        pretrained.imagenette_to_imagenet(["n99999999"], categories)


def test_is_online_gives_up_quickly():
    start = time.perf_counter()
    assert pretrained.is_online("localhost", 9, timeout=1.0) is False  # nothing listens on the discard port
    assert time.perf_counter() - start < 2.0


def test_smoke_profile_never_downloads():
    ok, why = pretrained.weights_available(torchvision.models.ConvNeXt_Tiny_Weights.IMAGENET1K_V1, "smoke")
    assert ok is False and "smoke" in why


def test_replace_head_from_rows():
    net = randomize(cl.Network(SMALL), seed=6).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = net(x)
        pretrained.replace_head(net, 3, rows=[5, 0, 7])
        after = net(x)
    assert net.num_classes == 3 and net.head.fc.out_features == 3
    assert torch.allclose(after, before[:, [5, 0, 7]], atol=1e-6)
    pretrained.replace_head(net, 10)
    assert net.head.fc.bias.abs().sum() == 0
    with pytest.raises(ValueError, match="one per new class"):
        pretrained.replace_head(net, 4, rows=[1, 2])


def test_finetune_smoke_runs_and_respects_frozen_parameters():
    net = pretrained.replace_head(cl.Network(SMALL), 10)
    for name, p in net.named_parameters():
        p.requires_grad = name.startswith("head.")
    frozen = net.stem.conv.weight.detach().clone()
    head = net.head.fc.weight.detach().clone()
    result = pretrained.finetune(net, profile="smoke", verbose=False, max_steps_per_epoch=1, val_images=16)
    assert [m["epoch"] for m in result.history] == [0, 1]
    assert 0 <= result.top1 <= 100 and result.profile == "smoke"
    assert torch.equal(net.stem.conv.weight, frozen)
    assert not torch.equal(net.head.fc.weight, head)
    with pytest.raises(ValueError, match="replace_head"):
        pretrained.finetune(cl.Network(SMALL, num_classes=5), profile="smoke", verbose=False)


def test_finetune_runs_on_the_trainer_with_the_head_at_ten_times_the_lr(tmp_path):
    from convnext_lesson.training import checkpoint, finetune

    start = pretrained.replace_head(cl.Network(SMALL), 10)
    groups = finetune.head_param_groups(start, finetune.finetune_recipe())
    head = {id(p) for p in start.head.fc.parameters()}
    lrs = {(all(id(p) in head for p in g["params"]), g["weight_decay"] > 0): g["lr"] for g in groups}
    assert lrs == {(False, True): 1e-4, (False, False): 1e-4, (True, True): 1e-3, (True, False): 1e-3}
    kw = dict(profile="smoke", verbose=False, progress=False, out_dir=tmp_path, max_steps_per_epoch=2, val_images=16)
    first, tuned = pretrained.finetune(net := copy.deepcopy(start), **kw), net.state_dict()
    [kept] = tmp_path.rglob("checkpoint.pt")  # the Trainer's checkpoint, in a folder named by the starting weights
    with pytest.raises(checkpoint.CheckpointError, match="resume it"):
        pretrained.finetune(copy.deepcopy(start), **kw)
    again = pretrained.finetune(net := copy.deepcopy(start), resume=True, **kw)  # a finished run: loaded
    assert again.history == first.history and all(torch.equal(tuned[k], v) for k, v in net.state_dict().items())
    other = pretrained.finetune(pretrained.replace_head(cl.Network(SMALL), 10), resume=True, **kw)
    assert len(list(tmp_path.rglob("checkpoint.pt"))) == 2 and len(other.history) == 2  # other weights: own run


def test_the_notebooks_pictures_draw_what_they_are_given():
    import matplotlib
    import numpy as np

    from convnext_lesson.training.finetune import FinetuneResult, finetune_size

    matplotlib.use("Agg")
    photos = [np.full((8, 8, 3), k * 20, dtype=np.uint8) for k in range(7)]
    fig = pretrained.photo_grid(photos, [f"true: {k}" for k in range(7)], ["green"] * 7, heading="seven")
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(fig.axes) == 10 and [ax.get_title() for ax in titled] == [f"true: {k}" for k in range(7)]
    assert titled[0].title.get_color() == "green" and fig._suptitle.get_text() == "seven"
    with pytest.raises(ValueError, match="7 images but 2 titles"):
        pretrained.photo_grid(photos, ["a", "b"])
    run = FinetuneResult([{"epoch": 0, "val_top1": 10.0}, {"epoch": 1, "val_top1": 30.0}],
                         finetune_size("smoke")[1], "smoke", "cpu")
    fig = pretrained.plot_finetune({"pretrained": run, "scratch": run})
    [ax] = fig.axes
    assert [line.get_label() for line in ax.get_lines()] == ["pretrained", "scratch"]
    assert list(ax.get_lines()[0].get_ydata()) == [10.0, 30.0] and "profile smoke" in ax.get_title()
