"""The table of step effects: differences of seed means, a pooled noise band, and the reading."""
import math

import pytest

from convnext_lesson.teach.readings.step_effects import effects_table, pooled_std, step_effects


def runs(**tops):
    """{"s1": [74.0, 74.4]} -> records of step 1 with those top-1 values."""
    return [{"regime": "resnet50", "step": int(k[1:]), "top1": t} for k, ts in tops.items() for t in ts]


def test_pooled_std_weights_steps_by_their_degrees_of_freedom():
    assert pooled_std({1: [1.0, 3.0], 2: [5.0]}) == pytest.approx(math.sqrt(2))
    assert pooled_std({1: [1.0, 3.0], 2: [0.0, 1.0, 2.0]}) == pytest.approx(math.sqrt((2 + 2) / 3))
    assert pooled_std({1: [70.0], 2: [71.0]}) is None


def test_effects_read_inside_the_noise_same_or_opposite_sign():
    effects = {e.index: e for e in step_effects(runs(s0=[44.0], s1=[74.0, 74.4], s2=[74.3], s3=[71.0, 71.4]))}
    assert sorted(effects) == [1, 2, 3]
    s = math.sqrt(0.08)  # both repeated steps vary by 0.4: variance 0.08
    assert effects[2].ours == pytest.approx(0.1) and effects[2].band == pytest.approx(2 * s * math.sqrt(1.5))
    assert effects[2].verdict == "inside the noise"
    assert effects[1].verdict == "same sign as the paper" and effects[1].paper == pytest.approx(78.82 - 76.13)
    assert effects[3].ours == pytest.approx(-3.1) and effects[3].verdict == "opposite sign to the paper"


def test_kernel_branches_are_compared_with_the_last_adopted_step():
    effects = step_effects(runs(s7=[60.0], s8=[60.5], s9=[61.0], s11=[62.0]))
    assert [(e.index, e.parent, e.band) for e in effects] == [(8, 7, None), (9, 7, None), (11, 9, None)]
    assert "| 11 | kernel size 11 | 9 | -0.10 | +1.0 | unknown | 1 / 1 | opposite sign to the paper, noise not measured yet |" in (
        effects_table(runs(s9=[61.0], s11=[62.0])))


def test_notebook_08_prints_the_committed_runs_effects(capsys):
    import convnext_lesson as cl

    cl.lesson.step_effects_so_far()
    records = [r for rs in cl.reference_results(profile="cpu").values() for r in rs]
    assert capsys.readouterr().out.strip() == effects_table(records)
    cl.lesson.step_effects_so_far(reference_profile="full")  # no GPU runs are committed
    assert capsys.readouterr().out.strip() == "No committed full reference runs of resnet50 yet."
