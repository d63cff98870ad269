"""Every notebook exercise accepts its worked solution and rejects wrong or missing answers."""
import pytest

from convnext_lesson.teach.lab import exercises

ALL = sorted(exercises.all_exercises())


def test_there_are_exercises():
    assert "01.bottleneck_params" in ALL


@pytest.mark.parametrize("exercise_id", ALL)
def test_solution_is_accepted(exercise_id):
    ok, message = exercises.grade(exercise_id, exercises.all_exercises()[exercise_id].solution)
    assert ok is True, message


@pytest.mark.parametrize("exercise_id", ALL)
def test_wrong_and_missing_answers_are_told_apart(exercise_id):
    ok, message = exercises.grade(exercise_id, lambda *args, **kwargs: 0)
    assert ok is False and message.startswith(("Not yet right", "Your code raised"))
    ok, message = exercises.grade(exercise_id, lambda *args, **kwargs: None)
    assert ok is None and "Not answered yet" in message


def test_unknown_exercise():
    with pytest.raises(ValueError, match="valid: 01.bottleneck_params"):
        exercises.check("99.nothing", None)
