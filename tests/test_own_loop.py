"""Notebook 02's loop check: a correct five-line step equals the Trainer bit for bit, a broken one does not."""
import pytest

from convnext_lesson.teach.lab import own_loop


def make_step(zero_grad: bool = True, schedule: bool = True):
    """The five-line step, or one with ``zero_grad`` or the scheduler's step left out."""
    def train_step(model, optimizer, scheduler, criterion, x, y):
        loss = criterion(model(x), y)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if schedule:
            scheduler.step()
        return loss
    return train_step


five_lines, no_zero_grad, no_scheduler = make_step(), make_step(zero_grad=False), make_step(schedule=False)


@pytest.mark.parametrize("step", [1, 16])  # step 16: LayerNorm, drop path, separate downsampling
def test_the_five_lines_are_the_trainer(step):
    check = own_loop.compare_with_trainer(five_lines, steps=3, step=step, profile="smoke")
    assert check.same_weights and check.first_difference is None
    assert all(theirs == mine for theirs, mine in check.losses)
    assert "every weight identical to the Trainer's: True" in str(check)


@pytest.mark.parametrize("broken", [no_zero_grad, no_scheduler], ids=["no zero_grad", "no scheduler"])
def test_a_broken_step_is_caught_and_the_first_step_is_still_right(broken):
    check = own_loop.compare_with_trainer(broken, steps=3, profile="smoke")
    assert not check.same_weights and check.first_difference is not None
    theirs, mine = check.losses[0]
    assert theirs == mine  # both start from the same weights: the first loss cannot tell
    assert check.losses[2][0] != check.losses[2][1]
    assert f"(first difference: {check.first_difference})" in str(check)
