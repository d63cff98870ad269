"""Notebook 02 (training recipe): graders and solutions."""
import math

import torch
import torch.nn.functional as F

from ....model.roadmap import build_model
from ....training.recipes import get_recipe, param_groups
from ..exercises import answered, exercise


def smooth_targets_solution(labels, num_classes, eps):
    """Label smoothing: 1 - eps on the true class, plus eps spread evenly over all classes."""
    one_hot = torch.nn.functional.one_hot(labels, num_classes).float()
    return one_hot * (1 - eps) + eps / num_classes


@exercise("02.label_smoothing", "write smooth_targets(labels, num_classes, eps): the (N, num_classes) target "
          "matrix that cross-entropy with label smoothing eps compares the predictions with",
          smooth_targets_solution)
def _grade_label_smoothing(answer):
    for labels, k, eps in ((torch.tensor([3]), 10, 0.1), (torch.tensor([0, 9, 4]), 10, 0.2),
                           (torch.tensor([999, 5]), 1000, 0.1)):
        got = answered(answer(labels, k, eps))
        got = torch.as_tensor(got, dtype=torch.float32)
        assert got.shape == (len(labels), k), (f"for {len(labels)} labels and {k} classes return a tensor of shape "
                                               f"({len(labels)}, {k}), not {tuple(got.shape)}")
        expected = smooth_targets_solution(labels, k, eps)
        assert torch.allclose(got.sum(1), torch.ones(len(labels)), atol=1e-5), (
            f"each row must sum to 1 (it is a probability distribution); yours sum to {got.sum(1).tolist()}")
        true = got[torch.arange(len(labels)), labels]
        assert torch.allclose(got, expected, atol=1e-6), (
            f"for {k} classes and eps={eps} the true class gets 1 - eps + eps/{k} = {1 - eps + eps / k:.4g} and "
            f"every other class eps/{k} = {eps / k:.4g}; yours gives the true class {true.tolist()}")
        logits = torch.randn(len(labels), k, generator=torch.Generator().manual_seed(0))
        loss = -(got * F.log_softmax(logits, 1)).sum(1).mean()
        reference = F.cross_entropy(logits, labels, label_smoothing=eps)
        assert torch.allclose(loss, reference, atol=1e-5)


def lr_at_solution(t, total_steps, warmup_steps, peak_lr, min_lr):
    """The learning rate of iteration t: linear warmup from peak/(w+1), then a half cosine down to min_lr."""
    if t < warmup_steps:
        return peak_lr * (t + 1) / (warmup_steps + 1)
    progress = (t - warmup_steps) / max(1, total_steps - warmup_steps)  # 0 at the end of warmup, 1 at the end
    return min_lr + (peak_lr - min_lr) * (1 + math.cos(math.pi * progress)) / 2


@exercise("02.warmup_cosine", "write lr_at(t, total_steps, warmup_steps, peak_lr, min_lr): the learning rate of "
          "iteration t (0-based) of a run with linear warmup then cosine decay, as the package's scheduler gives it",
          lr_at_solution)
def _grade_warmup_cosine(answer):
    from ...show.recipe_demo import lr_per_iteration

    for total, warmup, peak, low in ((36, 2, 1e-3, 1e-6), (200, 20, 4e-3, 1e-6), (50, 0, 1e-3, 0.0)):
        recipe = get_recipe("modern").replace(lr=peak, min_lr=low, warmup_fraction=warmup / total)
        rates = lr_per_iteration(recipe, total)
        for t in sorted({0, 1, max(warmup - 1, 0), warmup, warmup + 1, total // 2, total - 1}):
            got = float(answered(answer(t, total, warmup, peak, low)))
            assert math.isclose(got, rates[t], rel_tol=1e-4, abs_tol=1e-10), (
                f"run of {total} iterations, warmup {warmup}, peak {peak}, min {low}: at iteration {t} you say "
                f"{got:.6g}, the scheduler uses {rates[t]:.6g}. "
                + ("During warmup the rate rises linearly from peak/(warmup+1) at t=0 and reaches the peak at "
                   "t=warmup." if t <= warmup else "After warmup it follows half a cosine from the peak (at "
                   "t=warmup) towards min_lr (at t=total_steps)."))


def gets_weight_decay_solution(name, param):
    """Conv and linear weights decay; biases, norm scales/shifts (1-D) and layer scale do not."""
    return param.ndim > 1 and not name.endswith("layer_scale")


@exercise("02.weight_decay", "write gets_weight_decay(name, param) -> bool: True for the parameters AdamW should "
          "decay in the modern recipe (conv and linear weights), False for the rest",
          gets_weight_decay_solution)
def _grade_weight_decay(answer):
    answered(answer("probe.weight", torch.zeros(2, 2)))  # an unanswered exercise builds no model
    recipe = get_recipe("modern")
    for step in (1, 16):  # ResNet-50 (BatchNorm, no biases in convs) and ConvNeXt-T (LayerNorm, layer scale)
        model = build_model(step, num_classes=10)
        decay = {id(p) for p in param_groups(model, recipe.weight_decay, recipe.decay_norm_and_bias)[0]["params"]}
        wrong = []
        for name, p in model.named_parameters():
            got = answered(answer(name, p))
            if bool(got) != (id(p) in decay):
                wrong.append((name, tuple(p.shape), bool(got)))
        assert not wrong, (f"step {step}: {len(wrong)} parameters wrong, e.g. "
                           + "; ".join(f"{n} {s}: you say {'decay' if g else 'no decay'}" for n, s, g in wrong[:3]))
