"""The training engine on the tiny Imagenette sample (smoke profile, CPU)."""
import copy
import shutil
import signal

import pytest
import torch

import convnext_lesson as cl
from convnext_lesson.training import checkpoint as ckpt
from convnext_lesson.training import data, recipes
from convnext_lesson.model.config import NetConfig
from convnext_lesson.training.engine import Trainer, TrainingError
from convnext_lesson.model import Network


def config_of(record) -> NetConfig:
    return NetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in record["config"].items()})


@pytest.fixture(scope="module")
def fixed_batch():
    """50 training images (every 4th), centre-cropped to 32 px, and their labels."""
    images, labels = data.preload(data.locate("imagenette-tiny"), "train", data.eval_resize(32))
    return recipes.normalize_transform()(images[::4, :, 2:34, 2:34]), labels[::4]


def fixed_batch_loss(model, batch) -> float:
    """Loss with batch statistics (train mode, on a copy), so BN nets are judged like LN nets."""
    model = copy.deepcopy(model).train()
    torch.manual_seed(0)
    with torch.no_grad():
        return torch.nn.functional.cross_entropy(model(batch[0]), batch[1]).item()


@pytest.mark.parametrize("step", range(17))
def test_every_step_trains_under_smoke(step, tmp_path, fixed_batch):
    run = cl.train(step, profile="smoke", out_dir=tmp_path, progress=False, verbose=False)
    record = run.record
    assert record["step"] == step and record["profile"] == "smoke" and record["epochs"] == 3
    assert record["recipe"] == ("original" if step == 0 else "modern")
    assert record["dataset"]["name"] == "imagenette-tiny" and record["dataset"]["val_images"] == 200
    torch.manual_seed(0)  # train() builds the network right after seeding with the run's seed
    initial = Network(config_of(record), 10)
    before, after = fixed_batch_loss(initial, fixed_batch), fixed_batch_loss(run.model, fixed_batch)
    assert after < before - 0.02, (before, after)
    assert len(run.history) == 3 and all(0 <= m["val_top1"] <= m["val_top5"] <= 100 for m in run.history)
    assert (run.run_dir / "result.json").exists() and (run.run_dir / "checkpoint.pt").exists()


def test_smoke_network_keeps_the_steps_design(tmp_path):
    run = cl.train("kernel_7", profile="smoke", out_dir=tmp_path, progress=False, verbose=False, epochs=1)
    cfg = config_of(run.record)
    assert cfg.kernel_size == 7 and cfg.block == "dw_first" and cfg.depths == (1, 1, 3, 1)
    assert cfg.widths == (24, 48, 96, 192) and cfg.stem_width == 24
    assert run.record["gflops"]["trained_resolution"] < run.record["gflops"]["at_224"]


def _interrupt_at(monkeypatch, calls):
    """Press Ctrl-C (a real SIGINT) right after the given optimizer steps (1-based, counted over the run)."""
    original, count = Trainer._train_step, {"n": 0}

    def step(self, batches):
        loss = original(self, batches)
        count["n"] += 1
        if count["n"] in calls:
            signal.raise_signal(signal.SIGINT)
        return loss

    monkeypatch.setattr(Trainer, "_train_step", step)


# every random draw of the modern recipe is in play: crops, RandAugment, erasing, mixing, drop path, EMA
EXACT = dict(profile="smoke", epochs=2, progress=False, verbose=False, ema=True, drop_path=0.2,
             recipe={"mix_prob": 1.0, "random_erasing": 0.5, "randaugment": (2, 9)})


def test_interrupted_and_resumed_run_ends_with_the_same_weights(tmp_path, monkeypatch):
    straight = cl.train(1, out_dir=tmp_path / "straight", **EXACT)
    _interrupt_at(monkeypatch, {5, 12})  # mid-epoch, and on the last step of epoch 1
    with pytest.raises(KeyboardInterrupt):
        cl.train(1, out_dir=tmp_path / "stopped", **EXACT)
    state = ckpt.load(next((tmp_path / "stopped").rglob("checkpoint.pt")))
    assert (state["epoch"], state["step"]) == (0, 5)
    with pytest.raises(KeyboardInterrupt):
        cl.train(1, out_dir=tmp_path / "stopped", resume=True, **EXACT)
    resumed = cl.train(1, out_dir=tmp_path / "stopped", resume=True, **EXACT)
    assert resumed.record["resumes"] == 2
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    keys = ("train_loss", "val_loss", "val_top1", "ema_val_top1")
    assert [[m[k] for k in keys] for m in straight.history] == [[m[k] for k in keys] for m in resumed.history]


def test_out_of_memory_retries_with_half_the_micro_batch(tmp_path, monkeypatch):
    reference = cl.train(16, profile="smoke", epochs=1, micro_batch=8, out_dir=tmp_path / "ref", progress=False,
                         verbose=False)
    original, raised = Trainer._train_step, []

    def step(self, batches):
        if self.micro > 8:  # a GPU that fits 8 images, not 16 (simulated: there is no GPU here)
            raised.append(self.micro)
            next(batches)
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return original(self, batches)

    monkeypatch.setattr(Trainer, "_train_step", step)
    run = cl.train(16, profile="smoke", epochs=1, out_dir=tmp_path / "oom", progress=False, verbose=False)
    assert raised == [16]
    r = run.record
    assert (r["batch_size"], r["micro_batch"], r["accumulation"]) == (16, 8, 2)
    a, b = reference.model.state_dict(), run.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # the same effective batch: the same training


def test_out_of_memory_at_micro_batch_one_is_a_clear_error(tmp_path, monkeypatch):
    def step(self, batches):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(Trainer, "_train_step", step)
    with pytest.raises(TrainingError, match="out of memory at micro-batch 1.*--micro-batch"):
        cl.train(16, profile="smoke", epochs=1, micro_batch=1, out_dir=tmp_path, progress=False, verbose=False)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    original = Trainer._train_step

    def step(self, batches):
        loss = original(self, batches)
        return loss * float("nan") if self.epoch == 1 else loss

    monkeypatch.setattr(Trainer, "_train_step", step)
    with pytest.raises(TrainingError, match=r"loss became nan in epoch 2.*diverged.*end of epoch 1\) is kept"):
        cl.train(16, profile="smoke", out_dir=tmp_path, progress=False, verbose=False)
    path = next(tmp_path.rglob("checkpoint.pt"))
    state = ckpt.load(path)
    assert state["epoch"] == 1 and all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())
    assert not list(tmp_path.rglob("result.json"))


def test_checkpoint_of_another_step_or_run_is_refused(tmp_path):
    kw = dict(profile="smoke", epochs=1, out_dir=tmp_path, progress=False, verbose=False)
    done = cl.train(16, **kw)
    other = cl.train(15, **kw).run_dir
    (other / "result.json").unlink()
    shutil.copy(done.run_dir / "checkpoint.pt", other / "checkpoint.pt")
    before = (other / "checkpoint.pt").read_bytes()
    with pytest.raises(ckpt.CheckpointError, match=r"from step 16 \(separate_downsampling\).*not step 15"):
        cl.train(15, resume=True, **kw)
    with pytest.raises(ckpt.CheckpointError, match="exists: resume it.*nothing was overwritten"):
        cl.train(15, **kw)
    (other / "checkpoint.pt").write_bytes(before[: len(before) // 2])  # a torn file, as if not written atomically
    with pytest.raises(ckpt.CheckpointError, match="cannot be read"):
        cl.train(15, resume=True, **kw)
    assert not (other / "result.json").exists()


def test_checkpoint_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    ckpt.save({"epoch": 1}, path)

    def dies_half_way(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save({"epoch": 2}, path)
    monkeypatch.undo()
    assert ckpt.load(path)["epoch"] == 1 and [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_finished_run_is_loaded_not_retrained(tmp_path, capsys):
    kw = dict(profile="smoke", epochs=1, out_dir=tmp_path, progress=False)
    first = cl.train(16, **kw)
    mtime = (first.run_dir / "result.json").stat().st_mtime_ns
    again = cl.train(16, **kw)
    assert "already trained" in capsys.readouterr().out
    assert again.record == first.record and (first.run_dir / "result.json").stat().st_mtime_ns == mtime


def test_bad_arguments(tmp_path):
    kw = dict(out_dir=tmp_path, progress=False, verbose=False)
    with pytest.raises(ValueError, match="valid profiles: smoke, cpu, colab, full"):
        cl.train(16, profile="laptop", **kw)
    with pytest.raises(ValueError, match="valid datasets: imagenette, imagenette-tiny, imagewoof"):
        cl.train(16, profile="smoke", dataset="imagenet", **kw)
    with pytest.raises(ValueError, match="valid steps"):
        cl.train(17, profile="smoke", **kw)
    with pytest.raises(ValueError, match="valid fields"):
        cl.train(16, profile="smoke", kernal_size=9, **kw)
    with pytest.raises(ValueError, match="valid settings"):
        cl.train(16, profile="smoke", recipe={"learning_rate": 1.0}, **kw)
    with pytest.raises(ValueError, match="too small"):
        cl.train(16, profile="smoke", image_size=16, **kw)
    assert not list(tmp_path.rglob("*"))


def test_images_from_disk_with_workers_give_the_same_run(tmp_path):
    """The GPU profiles' path (decode each image from disk in DataLoader workers) and the same data seeds:
    the run does not depend on the number of workers."""
    from_disk = cl.get_profile("smoke").replace(preload=False)
    kw = dict(epochs=1, progress=False, verbose=False)
    a = cl.train(16, profile=from_disk.replace(workers=0), out_dir=tmp_path / "a", **kw)
    b = cl.train(16, profile=from_disk.replace(workers=2), out_dir=tmp_path / "b", **kw)
    assert a.record["profile_settings"]["preload"] is False and b.record["profile_settings"]["workers"] == 2
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_list_valued_override_trains_records_and_resumes(tmp_path, monkeypatch):
    kw = dict(profile="smoke", epochs=2, out_dir=tmp_path, progress=False, verbose=False)
    _interrupt_at(monkeypatch, {3})
    with pytest.raises(KeyboardInterrupt):
        cl.train(16, depths=[1, 1, 1, 1], **kw)
    monkeypatch.undo()
    run = cl.train(16, depths=[1, 1, 1, 1], resume=True, **kw)
    assert run.record["config"]["depths"] == [1, 1, 1, 1] and run.record["resumes"] == 1
    assert run.record["overrides"] == {"depths": [1, 1, 1, 1], "profile": {"epochs": 2}}
    again = cl.train(16, depths=(1, 1, 1, 1), **kw)  # the same design: the same run folder, already trained
    assert again.run_dir == run.run_dir and again.record == run.record


@pytest.mark.parametrize("kwargs, message", [
    (dict(depths="1111"), "depths='1111' is not valid: use a tuple of positive integers"),
    (dict(kernel_size=7.5), "kernel_size=7.5 is not valid"),
    (dict(head_norm="yes"), "head_norm='yes' is not valid: use True or False"),
    (dict(recipe={"mix_prob": "high"}), "recipe setting mix_prob='high' is not valid: use a value of type float"),
    (dict(recipe={"randaugment": 9}), r"randaugment=9 is not valid: use a value of type tuple\[int, int\] \| None"),
    (dict(recipe={"label_smoothing": True}), "label_smoothing=True is not valid"),
])
def test_override_of_the_wrong_type_is_refused_before_training(kwargs, message, tmp_path, monkeypatch):
    monkeypatch.setattr(Trainer, "fit", lambda self, resume=False: pytest.fail("trained"))
    with pytest.raises(ValueError, match=message):
        cl.train(16, profile="smoke", out_dir=tmp_path, progress=False, verbose=False, **kwargs)
    assert not list(tmp_path.rglob("*"))


def test_recipe_list_setting_is_a_tuple(tmp_path):
    run = cl.train(16, profile="smoke", epochs=1, recipe={"randaugment": [1, 5]}, out_dir=tmp_path,
                   progress=False, verbose=False)
    assert run.record["recipe_settings"]["randaugment"] == [1, 5]


def test_resumes_counts_a_resume_that_died_before_its_checkpoint(tmp_path, monkeypatch):
    original, crash = Trainer._train_step, {"at": (1, 3)}  # in epoch 2, after the checkpoint of epoch 1

    def step(self, batches):
        if (self.epoch, self.step) == crash["at"]:
            raise RuntimeError("the process died (simulated)")
        return original(self, batches)

    monkeypatch.setattr(Trainer, "_train_step", step)
    kw = dict(profile="smoke", out_dir=tmp_path, progress=False, verbose=False)
    with pytest.raises(RuntimeError, match="died"):
        cl.train(16, **kw)
    with pytest.raises(RuntimeError, match="died"):
        cl.train(16, resume=True, **kw)  # resume 1 dies at the same place, before it writes a checkpoint
    crash["at"] = None
    assert cl.train(16, resume=True, **kw).record["resumes"] == 2


def test_divergence_quotes_the_learning_rate_of_its_step(tmp_path, monkeypatch):
    original, used = Trainer._train_step, []

    def step(self, batches):
        used.append(self.optimizer.param_groups[0]["lr"])  # what this step's update uses
        loss = original(self, batches)
        return loss * float("nan") if self.epoch == 2 else loss

    monkeypatch.setattr(Trainer, "_train_step", step)
    with pytest.raises(TrainingError, match="loss became nan in epoch 3, step 12") as error:
        cl.train(16, profile="smoke", out_dir=tmp_path, progress=False, verbose=False)
    assert f"(learning rate {used[-1]:.3g})" in str(error.value)


def test_grad_scaler_without_torch_amp_grad_scaler(tmp_path, monkeypatch):
    """torch < 2.3 has only torch.cuda.amp.GradScaler."""
    import warnings

    from convnext_lesson.training import runtime

    monkeypatch.delattr(torch.amp, "GradScaler")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # newer torch deprecates torch.cuda.amp.GradScaler
        scaler = runtime.grad_scaler(None)
        run = cl.train(16, profile="smoke", epochs=1, out_dir=tmp_path, progress=False, verbose=False)
    assert isinstance(scaler, torch.cuda.amp.GradScaler) and not scaler.is_enabled()
    assert run.record["amp"] == "none" and len(run.history) == 1
