"""Both ends of the roadmap are the published networks: same weights, same logits."""
import pytest
import torch
import torchvision
from randomized import randomize
from official_layout import OfficialConvNeXt

import convnext_lesson as cl


def logits(model, x):
    with torch.no_grad():
        return model.eval()(x)


def assert_same_logits(a, b):
    assert a.std() > 0.1, "logits nearly constant: the comparison would prove nothing"
    assert (a - b).abs().max().item() <= 1e-5


def test_resnet50_equals_torchvision(images):
    theirs = randomize(torchvision.models.resnet50())
    ours = cl.build_model(0)
    assert cl.count_params(ours) == cl.count_params(theirs) == 25_557_032
    cl.load_torchvision_weights(ours, theirs.state_dict())
    assert_same_logits(logits(theirs, images), logits(ours, images))


def test_convnext_tiny_equals_torchvision(images):
    theirs = randomize(torchvision.models.convnext_tiny())
    ours = cl.build_model(16)
    assert cl.count_params(ours) == cl.count_params(theirs) == 28_589_128
    cl.load_torchvision_weights(ours, theirs.state_dict())
    assert_same_logits(logits(theirs, images), logits(ours, images))


def test_convnext_tiny_equals_official_layout(images):
    theirs = randomize(OfficialConvNeXt())
    assert len(theirs.state_dict()) == 182
    ours = cl.load_official_weights(cl.build_model(16), theirs.state_dict())
    assert_same_logits(logits(theirs, images), logits(ours, images))


@pytest.mark.parametrize("step", [0, 16])
def test_export_to_torchvision_round_trip(step, images):
    ours = randomize(cl.build_model(step), seed=3)
    theirs = torchvision.models.resnet50() if step == 0 else torchvision.models.convnext_tiny()
    theirs.load_state_dict(cl.to_torchvision_state_dict(ours), strict=True)
    assert_same_logits(logits(ours, images), logits(theirs, images))


def test_export_to_official_layout(images):
    ours = randomize(cl.build_model(16), seed=4)
    theirs = OfficialConvNeXt()
    theirs.load_state_dict(cl.to_official_state_dict(ours), strict=True)
    assert_same_logits(logits(ours, images), logits(theirs, images))


def test_family_loads_torchvision_layouts():
    ours = cl.build_convnext("S", num_classes=10)
    theirs = torchvision.models.convnext_small(num_classes=10)
    cl.load_torchvision_weights(ours, theirs.state_dict())
    x = torch.randn(1, 3, 64, 64)
    assert torch.allclose(logits(ours, x), logits(theirs, x), atol=1e-5)


def test_wrong_shapes_name_the_tensors():
    state = torchvision.models.resnet50(num_classes=10).state_dict()
    with pytest.raises(ValueError, match=r"wrong shape: fc.weight: got \(10, 2048\), expected \(1000, 2048\)"):
        cl.load_torchvision_weights(cl.build_model(0), state)


def test_other_network_layout_is_refused():
    with pytest.raises(ValueError, match="missing"):
        cl.load_torchvision_weights(cl.build_model(16), torchvision.models.resnet50().state_dict())


def test_intermediate_step_has_no_published_weights():
    with pytest.raises(ValueError, match="two ends of the roadmap"):
        cl.to_torchvision_state_dict(cl.build_model(9))


def test_official_layout_has_no_resnet():
    with pytest.raises(ValueError, match="no resnet weights"):
        cl.to_official_state_dict(cl.build_model(0))
