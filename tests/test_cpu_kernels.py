"""The course's CPU kernels (the folded depthwise weight gradient, pointwise convolutions as matrix products):
equal to PyTorch's own to float32 rounding, chosen as the rule says, kept by a resumed run, and invisible to
everything that reads weights."""
import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import convnext_lesson as cl
from convnext_lesson.model import cpu_kernels
from convnext_lesson.model.cpu_kernels import DepthwiseConv2d, PointwiseConv2d, set_kernels
from convnext_lesson.training import kernel_choice
from convnext_lesson.training.kernel_choice import choose_kernels
from convnext_lesson.teach.readings import cpu_kernels as reading
from convnext_lesson.training import checkpoint, results


def grads(layer, x):
    x = x.clone().requires_grad_()
    out = layer(x)
    out.backward(torch.linspace(-1, 1, out.numel()).view_as(out).to(memory_format=torch.preserve_format))
    return out, x.grad, layer.weight.grad, None if layer.bias is None else layer.bias.grad


# maps larger and smaller than the padding (the folded path's two layouts), 1x1 (all padding), odd sizes
@pytest.mark.parametrize("size", [(9, 9), (4, 4), (3, 5), (2, 2), (1, 1)])
@pytest.mark.parametrize("kernel", [3, 7])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("channels_last", [True, False])
def test_the_folded_path_matches_the_library_forward_and_every_gradient(size, kernel, bias, channels_last):
    torch.manual_seed(0)
    reference = nn.Conv2d(6, 6, kernel, padding=kernel // 2, groups=6, bias=bias)
    folded = DepthwiseConv2d(6, kernel, bias=bias)
    folded.load_state_dict(reference.state_dict())
    set_kernels(folded, "folded")
    x = torch.randn(5, 6, *size)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    for got, want in zip(grads(folded, x), grads(reference, x)):
        if want is None:
            assert got is None
        else:
            assert got.shape == want.shape
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert folded.weight.grad.abs().sum() > 0  # the comparison above compared something


@pytest.mark.parametrize("size", [(5, 5), (2, 3), (1, 1)])
@pytest.mark.parametrize("bias", [True, False])
def test_a_pointwise_conv_as_a_matrix_product_matches_the_library(size, bias):
    torch.manual_seed(0)
    reference = nn.Conv2d(6, 10, 1, bias=bias)
    matmul = PointwiseConv2d(6, 10, bias=bias)
    matmul.load_state_dict(reference.state_dict())
    set_kernels(matmul, "course")
    x = torch.randn(4, 6, *size).contiguous(memory_format=torch.channels_last)
    got, want = grads(matmul, x), grads(reference, x)
    assert got[0].is_contiguous(memory_format=torch.channels_last)  # the layout the next layer expects
    for g, w in zip(got, want):
        if w is None:
            assert g is None
        else:
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)
    assert "Conv" not in type(matmul(x).grad_fn).__name__  # a matrix product, not a convolution


def test_the_folded_path_is_taken_only_where_it_applies():
    layer = DepthwiseConv2d(4, 3, bias=True)
    set_kernels(layer, "folded")
    x = torch.randn(2, 4, 5, 5, requires_grad=True)
    assert "_FoldedDepthwise" in type(layer(x).grad_fn).__name__
    with torch.no_grad():
        assert layer(x).grad_fn is None
    with torch.autocast("cpu", torch.bfloat16):  # bf16: the library's (the fold is measured in float32)
        assert "_FoldedDepthwise" not in type(layer(x).grad_fn).__name__
    set_kernels(layer, "library")
    assert "_FoldedDepthwise" not in type(layer(x).grad_fn).__name__
    pointwise = PointwiseConv2d(4, 6, bias=True)
    set_kernels(pointwise, "course")
    assert "Convolution" in type(pointwise(x).grad_fn).__name__  # not channels-last: the library's conv
    with pytest.raises(ValueError, match="choose one of library, folded, course"):
        set_kernels(layer, "fast")


def test_a_depthwise_layer_keeps_nn_conv2d_s_parameters():
    """Same state dict as nn.Conv2d: torchvision's and the official weights load as before (test_weights)."""
    layer, plain = DepthwiseConv2d(8, 7, bias=True), nn.Conv2d(8, 8, 7, padding=3, groups=8)
    assert isinstance(layer, nn.Conv2d)
    assert {k: v.shape for k, v in layer.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}
    net = cl.Network(cl.get_step(16).config, 10)
    assert sum(isinstance(m, DepthwiseConv2d) for m in net.modules()) == sum(net.config.depths)
    assert sum(isinstance(m, PointwiseConv2d) for m in net.modules()) == 2 * sum(net.config.depths)
    assert not any(isinstance(m, DepthwiseConv2d) for m in cl.Network(cl.get_step(1).config, 10).modules())
    assert {k: v.shape for k, v in PointwiseConv2d(8, 16, bias=True).state_dict().items()} == {
        k: v.shape for k, v in nn.Conv2d(8, 16, 1).state_dict().items()}


def test_auto_follows_its_rule(monkeypatch):
    net = cl.Network(cl.get_step(16).config.replace(depths=(1, 1, 1, 1), widths=(8, 16, 32, 64), stem_width=8), 10)
    images = torch.randn(2, 3, 32, 32)
    assert choose_kernels("folded", net, lambda: images, amp=False) == ("folded", None)
    assert choose_kernels("auto", net, lambda: images, amp=True) == ("library", None)
    resnet = cl.Network(cl.get_step(1).config.replace(depths=(1, 1, 1, 1), widths=(8, 16, 32, 64), stem_width=8), 10)
    assert choose_kernels("auto", resnet, lambda: images, amp=False) == ("library", None)  # no depthwise conv
    for library, course, chosen in ((1.0, 0.5, "course"), (1.0, 0.95, "library"), (1.1, 1.0, "course")):
        monkeypatch.setattr(kernel_choice, "time_kernel_paths", lambda *a, t={"library": library, "course": course}: t)
        assert choose_kernels("auto", net, lambda: images, amp=False)[0] == chosen
    with pytest.raises(ValueError, match="choose one of auto, library, folded, course"):
        choose_kernels("fastest", net, lambda: images, amp=False)


def test_auto_s_measurement_leaves_the_run_as_it_was():
    """No random numbers drawn, no BatchNorm statistics moved, no gradients left, the paths kept."""
    config = cl.get_step(6).config.replace(depths=(1, 1, 1, 1), widths=(8, 16, 32, 64), stem_width=8,
                                           drop_path=0.5)  # stochastic depth draws random numbers in training
    net = cl.Network(config, 10).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    images = torch.randn(2, 3, 32, 32)
    torch.manual_seed(3)
    times = kernel_choice.time_kernel_paths(net, images, rounds=1)
    assert set(times) == {"library", "course"} and all(t > 0 for t in times.values())
    assert torch.rand(1).item() == (torch.manual_seed(3), torch.rand(1).item())[1]
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items()) and net.training
    assert all(p.grad is None for p in net.parameters())
    assert {m.weight_grad for m in net.modules() if isinstance(m, DepthwiseConv2d)} == {"library"}


def test_a_run_records_its_path_and_a_resume_keeps_it(tmp_path):
    done = cl.train(16, profile="smoke", out_dir=tmp_path, progress=False, verbose=False, cpu_kernels="course")
    assert done.record["cpu_kernels"] == "course" and done.record["cpu_kernels_timing"] is None
    state = checkpoint.load(done.run_dir / checkpoint.CHECKPOINT_NAME)
    assert state["cpu_kernels"] == "course"
    # a run started on the library's path, stopped after one epoch, resumed under a call that asks for course
    state.update(cpu_kernels="library", epoch=1, history=state["history"][:1])
    checkpoint.save({k: v for k, v in state.items() if k != "format"}, done.run_dir / checkpoint.CHECKPOINT_NAME)
    (done.run_dir / results.RESULT_NAME).unlink()
    again = cl.train(16, profile="smoke", out_dir=tmp_path, progress=False, verbose=False, resume=True,
                     cpu_kernels="course")
    assert again.record["cpu_kernels"] == "library"


def test_auto_choosing_the_library_trains_exactly_the_library_s_run(tmp_path, monkeypatch):
    """auto's measurement draws nothing from the run's random numbers: its run equals a plain library run."""
    monkeypatch.setattr(kernel_choice, "AUTO_MARGIN", 1e9)  # auto measures, then keeps the library's path
    auto = cl.train(16, profile="smoke", out_dir=tmp_path / "a", progress=False, verbose=False, cpu_kernels="auto")
    plain = cl.train(16, profile="smoke", out_dir=tmp_path / "b", progress=False, verbose=False)
    assert auto.record["cpu_kernels"] == plain.record["cpu_kernels"] == "library"
    assert set(auto.record["cpu_kernels_timing"]) == {"library", "course"}
    assert plain.record["cpu_kernels_timing"] is None
    assert [h["train_loss"] for h in auto.record["history"]] == [h["train_loss"] for h in plain.record["history"]]
    assert all(torch.equal(a, b) for a, b in zip(auto.model.state_dict().values(), plain.model.state_dict().values()))


def test_the_checks_rules_read_hold_or_library(tmp_path):
    def record(seed, top1, kernels):
        return {"schema_version": results.SCHEMA_VERSION, "kind": results.KIND, "step": 16, "regime": "resnet50",
                "profile": "cpu", "dataset": {"name": "imagenette"}, "image_size": 64, "epochs": 12, "seed": seed,
                "top1": top1, "top5": 90.0, "params": 1, "gflops": {}, "wall_time_s": 1.0, "history": [],
                "amp": "none", **(kernels or {})}

    ladder, runs = tmp_path / "ladder", tmp_path / "runs"
    for seed, top in enumerate((67.6, 69.7, 67.7)):
        results.write_record(record(seed, top, None), ladder / f"l{seed}.json")
    assert reading.reading("course", runs, ladder)["decision"] == "not run yet: native, avx2"
    for arm, tops in (("native", (68.0, 69.0, 67.9)), ("avx2", (67.5, 69.2, 68.3))):
        for seed, top in enumerate(tops):
            results.write_record(record(seed, top, {"cpu_kernels": "course"}), runs / arm / f"r{seed}.json")
    read = reading.reading("course", runs, ladder)
    assert read["holds"] and read["decision"] == "the cpu profile keeps cpu_kernels='auto'"
    assert reading.reading("folded", runs, ladder)["holds"] is None  # course records are not the folded check's
    for seed in range(3):
        results.write_record(record(seed, 60.0, {"cpu_kernels": "course"}), runs / "avx2" / f"r{seed}.json")
    read = reading.reading("course", runs, ladder)
    assert read["holds"] is False and "library" in read["decision"] and not read["rows"]["avx2"]["inside"]
    # the first check's records name their path depthwise_grad
    assert reading.reading("folded", tmp_path / "f", ladder)["decision"] == "not run yet: native"
    for seed, top in enumerate((67.6, 69.7, 67.7)):  # its AVX2 arm was never run (NOT_RUN)
        results.write_record(record(seed, top, {"depthwise_grad": "folded"}), tmp_path / "f" / "native" / f"{seed}.json")
    assert reading.reading("folded", tmp_path / "f", ladder)["decision"].startswith("native inside the noise; avx2 not run")
    assert json.loads(json.dumps(read))  # plain data, for the README's table
