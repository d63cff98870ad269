"""GPU code paths made honest before a GPU runs them: each fix shown on the CPU, where it can be."""
import functools
import gc
import weakref

import pytest
import torch

import convnext_lesson as cl
from convnext_lesson.training import benchmark, runtime
from convnext_lesson.training.engine import Trainer, TrainingError
from convnext_lesson.training.profiles import get_profile, scale_config


def test_every_compiled_network_is_compiled_even_after_the_recompile_limit(monkeypatch):
    compiled_calls = {"n": 0}

    def counting_backend(gm, example_inputs):  # dynamo hands each captured graph to its backend
        def run(*args):
            compiled_calls["n"] += 1  # a call that went through a compiled graph (new or cached)
            return gm.forward(*args)
        return run

    real = torch.compile
    monkeypatch.setattr(torch, "compile", functools.partial(real, backend=counting_backend))
    prof = get_profile("smoke")
    limit = getattr(torch._dynamo.config, "recompile_limit", None) or torch._dynamo.config.cache_size_limit
    for step in list(range(17)) * (1 + limit // 17):  # more networks than dynamo recompiles one forward for
        before = compiled_calls["n"]
        net = cl.Network(scale_config(cl.get_step(step).config, prof.width_mult, prof.depth_mult), 10)
        benchmark.measure_throughput(net, mode="inference", batch_size=2, image_size=32, device="cpu",
                                     compile=True, warmup=1, repeats=1, iters_per_repeat=1)
        assert compiled_calls["n"] > before, f"step {step} ran eagerly: dynamo fell back after its recompile limit"


def test_precision_is_a_choice_and_full_precision_is_the_way_out():
    cpu = torch.device("cpu")
    assert runtime.resolve_amp("auto", cpu) is None and runtime.resolve_amp("none", cpu) is None
    assert runtime.resolve_amp("bf16", cpu) == torch.bfloat16
    with pytest.raises(ValueError, match="fp16' needs a CUDA GPU"):
        runtime.resolve_amp("fp16", cpu)
    with pytest.raises(ValueError, match="choose one of auto, bf16, fp16, none"):
        runtime.resolve_amp("fp32", cpu)
    plan = cl.plan_run(16, profile="smoke", amp="bf16")
    assert plan.amp == torch.bfloat16 and plan.variant == {"amp": "bf16"}  # its own run folder
    assert cl.plan_run(16, profile="smoke", amp="none").variant == {}  # on a CPU, the same as auto


def test_a_bf16_run_records_its_precision_and_the_cuda_settings(tmp_path):
    run = cl.train(16, profile="smoke", epochs=1, amp="bf16", out_dir=tmp_path, progress=False, verbose=False)
    r = run.record
    assert r["amp"] == "bf16" and r["tf32"] is False and r["cudnn_benchmark"] is False


def test_the_nan_error_names_the_precision_switch(tmp_path, monkeypatch):
    original = Trainer._train_step
    monkeypatch.setattr(Trainer, "_train_step", lambda self, b: original(self, b) * float("nan"))
    with pytest.raises(TrainingError, match="--amp none"):
        cl.train(16, profile="smoke", epochs=1, out_dir=tmp_path, progress=False, verbose=False)


def test_speed_measurements_set_what_training_sets(monkeypatch):
    calls = []
    monkeypatch.setattr(benchmark, "configure_cuda", lambda device: calls.append(device) or
                        {"tf32": True, "cudnn_benchmark": True})
    net = cl.build_model(16, num_classes=10, depths=(1, 1, 1, 1), widths=(8, 16, 32, 64), stem_width=8)
    result = benchmark.measure_throughput(net, batch_size=2, image_size=32, device="cpu", warmup=1, repeats=1)
    assert calls == [torch.device("cpu")] and result.tf32 and result.cudnn_benchmark


def test_an_out_of_memory_error_is_handled_where_its_tensors_are_free(tmp_path, monkeypatch):
    held = []

    def step(self, batches):
        if self.micro > 8:
            tensor = torch.empty(1000)  # stands for the failed step's activations
            held.append(weakref.ref(tensor))
            next(batches)
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return original(self, batches)

    def shrink(self, message):
        gc.collect()
        assert held[0]() is None, "the failed step's tensors are still alive while memory is freed"
        return real_shrink(self, message)

    original, real_shrink = Trainer._train_step, Trainer._shrink_after_oom
    monkeypatch.setattr(Trainer, "_train_step", step)
    monkeypatch.setattr(Trainer, "_shrink_after_oom", shrink)
    run = cl.train(16, profile="smoke", epochs=1, out_dir=tmp_path, progress=False, verbose=False)
    assert run.record["micro_batch"] == 8 and len(held) == 1


def test_out_of_memory_in_evaluation_splits_the_batch_and_gives_the_same_result(tmp_path, monkeypatch):
    plain = cl.train(16, profile="smoke", epochs=1, out_dir=tmp_path / "a", progress=False, verbose=False)
    real_forward = cl.Network.forward

    def forward(self, x):
        if not self.training and len(x) > 4:  # a GPU that evaluates 4 images at a time (simulated)
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_forward(self, x)

    monkeypatch.setattr(cl.Network, "forward", forward)
    split = cl.train(16, profile="smoke", epochs=1, out_dir=tmp_path / "b", progress=False, verbose=False)
    assert split.history[-1]["val_top1"] == plain.history[-1]["val_top1"]
    assert split.history[-1]["val_loss"] == pytest.approx(plain.history[-1]["val_loss"], rel=1e-6)
