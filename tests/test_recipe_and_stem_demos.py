"""The helpers of notebooks 02 (recipe_demo) and 03 (stem_demo)."""
import math

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import convnext_lesson as cl
from convnext_lesson.teach.show import recipe_demo as rd
from convnext_lesson.training import recipes
from convnext_lesson.teach.show import stem_demo as sd

matplotlib.use("Agg")


# -- recipe_demo ---------------------------------------------------------------------------------------------------

def test_lr_per_iteration_is_the_trainers_schedule():
    recipe = cl.get_recipe("modern").scaled(3, 16)  # smoke: lr 1e-3, warmup 6.7% of 36 iterations = 2
    rates = rd.lr_per_iteration(recipe, 36)
    assert len(rates) == 36
    assert rates[0] == pytest.approx(recipe.lr / 3) and rates[2] == pytest.approx(recipe.lr)
    assert max(rates) == pytest.approx(recipe.lr) and rates[-1] < rates[18] < rates[3]
    w, total = 2, 36
    for t in (5, 17, 35):  # the closed form of a half cosine after warmup
        expected = recipe.min_lr + (recipe.lr - recipe.min_lr) * (1 + math.cos(math.pi * (t - w) / (total - w))) / 2
        assert rates[t] == pytest.approx(expected, rel=1e-6)
    step = rd.lr_per_iteration(cl.get_recipe("original").scaled(90, 256), 90)  # x0.1 at 1/3 and 2/3
    assert step[29] == pytest.approx(0.1) and step[30] == pytest.approx(0.01) and step[60] == pytest.approx(0.001)
    with pytest.raises(ValueError, match="total_steps"):
        rd.lr_per_iteration(recipe, 0)


def test_drop_path_rates_rise_linearly():
    with torch.device("meta"):
        rates = rd.drop_path_rates(cl.build_model(1, drop_path=0.1))
        none = rd.drop_path_rates(cl.build_model(1))
    assert len(rates) == 16 and rates[0] == 0.0 and rates[-1] == pytest.approx(0.1)
    assert all(b - a == pytest.approx(0.1 / 15) for a, b in zip(rates, rates[1:]))
    assert none == [0.0] * 16


def test_decay_split_follows_param_groups():
    with torch.device("meta"):
        model = cl.build_model(16)
    modern = cl.get_recipe("modern")
    split = rd.decay_split(model, modern)
    groups = recipes.param_groups(model, modern.weight_decay, modern.decay_norm_and_bias)
    assert [len(split["decay"]), len(split["no_decay"])] == [len(g["params"]) for g in groups]
    assert set(split["decay"]) | set(split["no_decay"]) == {n for n, _ in model.named_parameters()}
    assert "stages.0.blocks.0.layer_scale" in split["no_decay"] and "head.fc.weight" in split["decay"]
    assert rd.parameter_kind(model, "stages.0.blocks.0.layer_scale") == "Block.layer_scale"
    assert rd.parameter_kind(model, "stem.conv.weight") == "Conv2d.weight"
    everything = rd.decay_split(model, cl.get_recipe("original"))  # SGD recipe: decay on everything
    assert everything["no_decay"] == [] and len(everything["decay"]) == len(list(model.parameters()))


def test_sample_images_and_display_helpers():
    images, targets, names, copy = rd.sample_images("imagenette-tiny", n=4)
    assert len(images) == 4 and len(set(targets)) == 4 and targets[0] == 0 and targets[-1] == 9
    assert names[0] == "tench" and names[-1] == "parachute" and copy.name == "imagenette-tiny"
    assert rd.class_name("n03888257") == "parachute" and rd.class_name("airplane") == "airplane"
    x = rd.to_uint8(images[0])
    assert x.dtype == torch.uint8 and x.shape[0] == 3
    normalised = recipes.normalize_transform()(x)
    assert torch.allclose(rd.denormalize(normalised), x.permute(1, 2, 0).float() / 255, atol=1e-5)
    transform = recipes.train_transform(cl.get_recipe("modern").scaled(300, 4096), 64)
    a, b, c = (rd.augment(transform, x, seed) for seed in (0, 0, 1))
    assert a.shape == (3, 64, 64) and torch.equal(a, b) and not torch.equal(a, c)
    fig = rd.show_grid({"row 1": [a, c], "row 2": [b]}, [["x", "y"], ["z"]])
    assert len(fig.axes) == 4
    rd.show_grid({"row": [a]}, ["title"])
    soft = torch.tensor([0.0, 0.7, 0.3])
    assert rd.soft_label_text(soft, ["a", "b", "c"]) == "0.70 b + 0.30 c"


def test_steps_per_epoch_as_the_trainer_counts():
    assert rd.steps_per_epoch("smoke") == 200 // 16
    assert rd.steps_per_epoch(cl.get_profile("smoke").replace(max_steps_per_epoch=5)) == 5


# -- stem_demo -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("step, size", [(2, 11), (3, 4)])
def test_stem_footprints_are_measured(step, size):
    stem = cl.build_model(step).stem
    a = sd.input_footprint(stem, 24, pixel=(3, 3))
    b = sd.input_footprint(stem, 24, pixel=(3, 4))
    (ta, la, ha, wa), (tb, lb, hb, wb) = sd.footprint_box(a), sd.footprint_box(b)
    assert (ha, wa) == (hb, wb) == (size, size) and a.sum() == size * size
    assert (ta, lb - la) == (tb, 4)  # neighbours are the stem's stride (4) apart
    assert (a & b).sum() == (size - 4) * size if size > 4 else (a & b).sum() == 0
    assert next(stem.parameters()).abs().sum() > 0 and not torch.all(stem.conv.weight == 1)  # a copy was probed


def test_footprint_of_plain_convs_and_errors():
    for k in (1, 3, 5):
        mask = sd.input_footprint(nn.Conv2d(1, 1, k, padding=k // 2), 16, in_chans=1)
        assert sd.footprint_box(mask)[2:] == (k, k)
    with pytest.raises(ValueError, match="LayerNorm"):
        sd.input_footprint(cl.build_model(16).stem, 16)
    with pytest.raises(ValueError, match="outside"):
        sd.input_footprint(nn.Conv2d(3, 1, 4, stride=4), 16, pixel=(4, 0))
    with pytest.raises(ValueError, match="empty"):
        sd.footprint_box(torch.zeros(3, 3, dtype=torch.bool))


def test_patches_are_the_convs_windows():
    x = torch.arange(3 * 8 * 12).view(3, 8, 12)
    patches = sd.to_patches(x, 4)
    assert patches.shape == (6, 3, 4, 4) and patches.dtype == x.dtype
    assert torch.equal(patches[1], x[:, :4, 4:8]) and torch.equal(patches[3], x[:, 4:8, :4])
    weight = torch.randn(5, 3, 4, 4)
    by_patch = torch.einsum("ock,pck->po", weight.flatten(2), patches.float().flatten(2))
    assert torch.allclose(by_patch.T.reshape(5, 2, 3), F.conv2d(x[None].float(), weight, stride=4)[0], atol=1e-3)
    with pytest.raises(ValueError, match="multiple of 4"):
        sd.to_patches(torch.zeros(3, 10, 8), 4)


def test_stem_pictures_draw():
    image = (torch.rand(3, 64, 64) * 255).to(torch.uint8)
    fig = sd.draw_patches(image, top=8, left=8, size=16, patch=4)
    assert len(fig.axes) == 2 + 16
    masks = (sd.input_footprint(cl.build_model(3).stem, 16, pixel=(1, 1)),
             sd.input_footprint(cl.build_model(3).stem, 16, pixel=(1, 2)))
    fig = sd.draw_footprints(image, {"patchify": masks, "again": masks}, size=16)
    assert len(fig.axes) == 2


def test_recipe_search_table_reads_the_committed_records():
    rows, missing = rd.recipe_search_rows()
    assert rows, "the recipe search has committed records"
    text = rd.recipe_search_table()
    for row in rows:
        for step in rd.RECIPE_SEARCH_STEPS:
            path = rd.RECIPE_SEARCH_DIR / row["variant"] / f"resnet50-cpu-imagenette-step{step:02d}-seed0.json"
            record = cl.read_record(path)
            assert row["top1"][step] == record["top1"] and row["wall_time_s"][step] == record["wall_time_s"]
            assert f"{record['top1']:6.1f}%" in text
        assert row["provenance"][1:] == ("cpu", "imagenette", 64, 12, (0,))
    assert set(missing) | {row["variant"] for row in rows} >= set(rd.RECIPE_SEARCH_PLAN)
    for variant in missing:
        assert variant in text.splitlines()[-1] and text.splitlines()[-1].startswith("not run yet")


def test_recipe_search_table_shows_what_exists(tmp_path):
    import shutil

    shutil.copytree(rd.RECIPE_SEARCH_DIR / "base", tmp_path / "base")
    (tmp_path / "lr4e-3").mkdir()  # started, one step missing: not finished
    shutil.copy(next((rd.RECIPE_SEARCH_DIR / "lr4e-3").glob("*step01*.json")), tmp_path / "lr4e-3")
    shutil.copytree(rd.RECIPE_SEARCH_DIR / "base", tmp_path / "my-own-variant")  # not in the plan: still shown
    rows, missing = rd.recipe_search_rows(tmp_path)
    assert [r["variant"] for r in rows] == ["base", "my-own-variant"]
    assert missing == [v for v in rd.RECIPE_SEARCH_PLAN if v != "base"]
    text = rd.recipe_search_table(tmp_path)
    assert "not run yet: lr4e-3 (lr=0.004); base+randaugment-m9 (randaugment=(2, 9))" in text
    assert "wall times of base, my-own-variant: measured on a machine that also did other work" in text
    committed = rd.recipe_search_table()  # the notes (machine details: helpers, SIGSTOP) stay in the records
    assert "SIGSTOP" not in committed and "helpers" not in committed and "also did other work" in committed
    empty = rd.recipe_search_table(tmp_path / "nothing")
    assert "(no finished variant yet)" in empty and "not run yet: base (none)" in empty


def test_recipe_search_plan_is_the_tools(monkeypatch):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "tools" / "recipe_search.py"
    spec = importlib.util.spec_from_file_location("recipe_search_tool", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    winner = "base"  # stage 1's choice (the tool's rule on the committed records)
    planned = {**tool.STAGE1, **{tool.stage2_name(winner, v): {**tool.STAGE1[winner], **c}
                                 for v, c in tool.STAGE2.items() if v != "scaled"}}
    assert planned == rd.RECIPE_SEARCH_PLAN
    assert tool.STEPS == rd.RECIPE_SEARCH_STEPS and tool.RECORDS.resolve() == rd.RECIPE_SEARCH_DIR.resolve()
