"""Profiles (one name sizes a run) and the two recipes, with their scaling rule."""
from types import SimpleNamespace

import pytest
import torch

import convnext_lesson as cl
from convnext_lesson.training import profiles, recipes
from convnext_lesson.training.profiles import scale_config


def test_profile_by_name_environment_or_hardware(monkeypatch):
    assert cl.get_profile("smoke").image_size == 32
    monkeypatch.setenv("CONVNEXT_LESSON_PROFILE", "cpu")
    assert cl.get_profile().name == "cpu"
    monkeypatch.setenv("CONVNEXT_LESSON_PROFILE", "laptop")
    with pytest.raises(ValueError, match=r"unknown profile 'laptop' \(from \$CONVNEXT_LESSON_PROFILE\); valid "
                                         "profiles: smoke, cpu, colab, full"):
        cl.get_profile()
    monkeypatch.delenv("CONVNEXT_LESSON_PROFILE")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cl.get_profile().name == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for name, memory, expected in (("Tesla T4", 15, "colab"), ("NVIDIA H100 80GB HBM3", 80, "full"),
                                   ("NVIDIA A100-SXM4-40GB", 40, "full"), ("NVIDIA L4", 22, "colab")):
        props = SimpleNamespace(name=name, total_memory=memory * 2**30)
        monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i, p=props: p)
        assert profiles.default_profile_name() == expected, name


def test_scaling_rule():
    assert profiles.scale_depth(3, 2 / 3) == 2 and profiles.scale_depth(1, 1 / 3) == 1
    assert [profiles.scale_width(w, 0.5) for w in (64, 96, 128, 768)] == [32, 48, 64, 384]
    assert profiles.scale_width(84, 0.5) % 8 == 0 and profiles.scale_width(10, 0.25) == 8
    stage_ratio = cl.get_step("stage_ratio").config
    assert scale_config(cl.get_step(0).config, 0.5, 2 / 3).depths == (2, 3, 4, 2)
    assert scale_config(stage_ratio, 0.5, 2 / 3).depths == (2, 2, 6, 2)
    assert scale_config(stage_ratio, 1, 1) is stage_ratio


@pytest.mark.parametrize("name", ["smoke", "cpu"])
@pytest.mark.parametrize("regime", cl.REGIMES)
def test_scaled_steps_keep_every_change(name, regime):
    """Every architectural step is still a change of the scaled network (step 1 changes only the recipe)."""
    p = cl.get_profile(name)
    steps = cl.roadmap_steps(regime)
    for step in steps[2:]:
        parent = steps[step.parent]
        a = scale_config(parent.config, p.width_mult, p.depth_mult)
        b = scale_config(step.config, p.width_mult, p.depth_mult)
        assert set(a.diff(b)) >= set(step.overrides) - {"stem_width"}, step
    width_up = [s for s in steps if s.name.startswith("width_")][0]
    a = scale_config(steps[width_up.parent].config, p.width_mult, p.depth_mult)
    b = scale_config(width_up.config, p.width_mult, p.depth_mult)
    assert all(x < y for x, y in zip(a.widths, b.widths))


def test_paper_values_and_the_scaling_rule():
    modern = cl.get_recipe("modern")
    full = modern.scaled(epochs=300, batch_size=4096)
    assert (full.lr, full.strength, full.crop_scale, full.mix_prob, full.random_erasing, full.drop_path,
            full.randaugment) == (4e-3, 1.0, (0.08, 1.0), 1.0, 0.25, 0.1, (2, 9))
    short = modern.scaled(epochs=10, batch_size=64)
    assert short.lr == 2e-3 and short.strength == pytest.approx(0.1)  # 4e-3 x 64/4096 is below the floor
    assert short.mix_prob == pytest.approx(0.1) and short.randaugment is None  # 2 ops x 0.1 rounds to none
    assert short.crop_scale[0] == pytest.approx(0.6 - 0.1 * 0.52)
    assert modern.scaled(epochs=40, batch_size=64).randaugment == (1, 4)
    assert modern.scaled(300, 8192).lr == pytest.approx(8e-3)
    original = cl.get_recipe("original").scaled(epochs=90, batch_size=64)
    assert (original.lr, original.optimizer, original.weight_decay) == (0.025, "sgd", 1e-4)
    with pytest.raises(ValueError, match="valid recipes: original, modern"):
        cl.get_recipe("fancy")
    assert "AdamW" in recipes.describe(short) and "strength 0.10" in recipes.describe(short)


def test_profiles_hold_the_recipe_fixed_across_steps():
    p = cl.get_profile("cpu")
    assert p.epochs_for("modern") == p.epochs == 12
    assert p.epochs_for("original") == 4  # the paper's 90 of 300 epochs, rounded up


def test_no_weight_decay_on_norms_biases_and_layer_scale():
    model = cl.build_model(16, num_classes=10)
    decay, no_decay = recipes.param_groups(model, 0.05, decay_norm_and_bias=False)
    names = {id(p): n for n, p in model.named_parameters()}
    skipped = {names[id(p)] for p in no_decay["params"]}
    assert any(n.endswith("layer_scale") for n in skipped) and any(n.endswith("norm1.weight") for n in skipped)
    assert all(p.ndim > 1 for p in decay["params"]) and not any(names[id(p)].endswith("layer_scale")
                                                                for p in decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 0.05


def test_schedules_per_iteration():
    model = torch.nn.Linear(2, 2)
    modern = cl.get_recipe("modern").scaled(epochs=300, batch_size=4096)
    opt = recipes.make_optimizer(model, modern)
    sched = recipes.make_scheduler(opt, modern, total_steps=300)
    lrs = []
    for _ in range(300):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] < 1e-3 and max(lrs) == pytest.approx(4e-3) and lrs.index(max(lrs)) == 20  # 20 of 300 warmup
    assert lrs[-1] < 1e-5 and all(a >= b for a, b in zip(lrs[20:], lrs[21:]))
    original = cl.get_recipe("original").scaled(epochs=90, batch_size=256)
    opt = recipes.make_optimizer(model, original)
    sched = recipes.make_scheduler(opt, original, total_steps=90)
    lrs = []
    for _ in range(90):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == lrs[29] == pytest.approx(0.1) and lrs[30] == pytest.approx(0.01) and lrs[60] == pytest.approx(1e-3)


def test_augmentation_and_mixing():
    modern = cl.get_recipe("modern").scaled(epochs=300, batch_size=256)
    image = torch.randint(0, 256, (3, 80, 80), dtype=torch.uint8)
    out = recipes.train_transform(modern, 64)(image)
    assert out.shape == (3, 64, 64) and out.dtype == torch.float32
    images, labels = torch.randn(8, 3, 32, 32), torch.arange(8) % 10
    torch.manual_seed(0)
    mixed, soft = recipes.BatchMixer(modern, 10)(images, labels)
    assert soft.shape == (8, 10) and torch.allclose(soft.sum(1), torch.ones(8)) and not torch.equal(mixed, images)
    off = recipes.BatchMixer(modern.replace(mix_prob=0.0), 10)
    assert off.mix is None and off(images, labels)[1] is labels
    with pytest.raises(ValueError, match="valid settings"):
        modern.replace(mixup=0.2)


def test_randaugment_and_erasing_as_in_the_papers_code():
    paper = cl.get_recipe("modern").scaled(epochs=300, batch_size=4096)
    augment = next(t for t in recipes.train_transform(paper, 64).transforms if type(t).__name__ == "RandAugment")
    rotations = augment._AUGMENTATION_SPACE["Rotate"][0](augment.num_magnitude_bins, 64, 64)
    assert float(rotations[augment.magnitude]) == pytest.approx(27.0)  # timm's m9: 9/10 of 30 degrees
    erase_all = recipes.train_transform(paper.replace(crop_scale=(1.0, 1.0), randaugment=None, random_erasing=1.0), 64)
    flat = torch.full((3, 64, 64), 128, dtype=torch.uint8)  # 3 values after normalising; erased pixels are noise
    assert erase_all(flat).unique().numel() > 100
