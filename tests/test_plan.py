"""A run as a plan, then its execution: ``plan_run`` says what ``train`` will do, without data or a GPU."""
import dataclasses
import warnings

import pytest
import torch

from convnext_lesson.training import engine, execute, plan_run, recipes, run, runtime


def test_a_plan_is_built_and_printed_without_data(monkeypatch, tmp_path):
    monkeypatch.setattr(run, "locate", lambda *a, **k: pytest.fail("a plan reads no data"))
    plan = plan_run(16, profile="smoke", out_dir=tmp_path, device="cpu")
    assert (plan.epochs, plan.steps_per_epoch, plan.num_classes) == (3, 200 // 16, 10)
    assert plan.config.depths == (1, 1, 3, 1) and plan.config.widths == (24, 48, 96, 192)
    assert plan.config.drop_path == round(plan.recipe.drop_path, 6) > 0  # the scaled recipe's stochastic depth
    assert (plan.recipe.epochs, plan.recipe.batch_size, plan.recipe.ema_decay) == (3, 16, None)
    assert plan.device == torch.device("cpu") and plan.amp is None and plan.variant == {}
    text = str(plan)
    for part in ("step 16 (separate_downsampling) of the resnet50 roadmap, profile smoke, seed 0",
                 "imagenette-tiny at 32 px, 3 epochs of 12 steps, batch 16", "AdamW", "precision none",
                 f"run folder: {tmp_path / 'resnet50-smoke-imagenette-tiny' / 'step16-separate_downsampling-seed0'}"):
        assert part in text, (part, text)
    assert not list(tmp_path.iterdir())  # nothing written
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.seed = 1


def test_the_plan_holds_the_ema_decay_and_the_variant(tmp_path):
    plan = plan_run(1, profile="smoke", ema=True, epochs=2, kernel_size=5, out_dir=tmp_path, device="cpu")
    assert plan.recipe.ema_decay == recipes.ema_decay_for(12 * 2)
    assert plan.variant == {"kernel_size": 5, "profile": {"epochs": 2}, "ema": True}
    assert plan.run_dir().name.startswith("step01-modern_recipe-seed0-") and plan.run_dir() != plan.run_dir("x")


def test_execute_runs_the_plan_with_the_steps_it_counted(tmp_path, monkeypatch):
    steps, original = [], engine.Trainer._train_step
    monkeypatch.setattr(engine.Trainer, "_train_step", lambda self, b: steps.append(1) or original(self, b))
    plan = plan_run(16, profile="smoke", epochs=1, out_dir=tmp_path, device="cpu")
    result = execute(plan, progress=False, verbose=False)
    assert len(steps) == plan.steps_per_epoch * plan.epochs
    assert result.run_dir == plan.run_dir() and len(result.history) == 1
    assert result.record["recipe_settings"]["lr"] == plan.recipe.lr and result.record["amp"] == "none"


def test_one_mixed_precision_policy(monkeypatch):
    cuda = torch.device("cuda")
    for capability, dtype in (((7, 5), torch.float16), ((8, 0), torch.bfloat16), ((9, 0), torch.bfloat16)):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None, c=capability: c)
        assert runtime.amp_dtype_for(cuda) == dtype
    assert runtime.amp_dtype_for(torch.device("cpu")) is None
    with warnings.catch_warnings():  # without CUDA, torch turns the scaler off and says so
        warnings.simplefilter("ignore", UserWarning)
        assert runtime.grad_scaler(torch.float16).is_enabled() == torch.cuda.is_available()
    assert not runtime.grad_scaler(torch.bfloat16).is_enabled()
    assert [runtime.amp_name(d) for d in (None, torch.bfloat16, torch.float16)] == ["none", "bf16", "fp16"]


def test_cpu_threads_are_set_for_the_block_and_restored():
    from convnext_lesson.model.threads import cpu_threads, one_thread

    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with cpu_threads(None):
        assert torch.get_num_threads() == before
    with one_thread(), cpu_threads(2):  # nested: each block restores what it found
        assert torch.get_num_threads() == 2
        with one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before


def test_train_spells_out_the_run_options_and_the_command_line_offers_each():
    """The run's options are listed once (plan.RunOptions); train's keywords and the command's flags follow it."""
    import dataclasses
    import inspect

    from convnext_lesson.cli import build_parser
    from convnext_lesson.training.plan import RunOptions

    options = [f.name for f in dataclasses.fields(RunOptions)]
    from convnext_lesson import train

    keywords = list(inspect.signature(train).parameters)
    assert keywords == ["step", *options, "progress", "verbose", "overrides"]
    train_command = build_parser()._subparsers._group_actions[0].choices["train"]
    dests = {a.dest for a in train_command._actions}
    assert set(options) <= dests and {"set", "step", "no_progress"} <= dests
    for f in dataclasses.fields(RunOptions):
        assert f.metadata["help"], f.name
