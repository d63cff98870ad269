"""Self-checking exercises for the notebooks.

A notebook cell defines the learner's answer (usually a function), then calls
``check("01.bottleneck_params", answer)``. The check runs the answer on a few cases
and prints what is right or, precisely, what is wrong; an unanswered exercise (the
answer returns ``None`` or raises ``NotImplementedError``) says so without failing
the notebook. ``solution(exercise_id)`` prints a worked solution, kept out of the
notebook so that it does not give the answer away.
"""
from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass
from typing import Any, Callable

_REGISTRY: dict[str, "Exercise"] = {}


class NotAnswered(Exception):
    """The learner has not written an answer yet."""


@dataclass
class Exercise:
    id: str
    task: str
    grade: Callable[[Any], None]  # raises AssertionError with a helpful message when wrong
    solution: Any  # the worked answer; its source is what ``solution()`` prints


def exercise(id: str, task: str, solution: Any):
    """Register a grading function: ``@exercise("01.x", "what to do", solution_fn)``."""
    def register(grade):
        _REGISTRY[id] = Exercise(id, task, grade, solution)
        return grade
    return register


def _get(exercise_id: str) -> Exercise:
    _load_all()
    if exercise_id not in _REGISTRY:
        raise ValueError(f"unknown exercise {exercise_id!r}; valid: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[exercise_id]


def grade(exercise_id: str, answer: Any) -> tuple[bool | None, str]:
    """(True, message) if right, (False, what is wrong) if wrong, (None, ...) if not answered."""
    ex = _get(exercise_id)
    try:
        ex.grade(answer)
    except (NotAnswered, NotImplementedError):
        return None, f"Not answered yet. Task: {ex.task}"
    except AssertionError as wrong:
        return False, f"Not yet right: {wrong}"
    except Exception as error:  # the learner's code crashed: show why, do not crash the notebook
        return False, f"Your code raised {type(error).__name__}: {error}"
    return True, "Correct!"


def check(exercise_id: str, answer: Any) -> bool | None:
    ok, message = grade(exercise_id, answer)
    print(("✅ " if ok else "⏳ " if ok is None else "❌ ") + message)
    if ok is False:
        print(f"   (Stuck? convnext_lesson.exercises.solution({exercise_id!r}) shows a solution.)")
    return ok


def solution(exercise_id: str) -> None:
    """Print a worked solution."""
    answer = _get(exercise_id).solution
    print(textwrap.dedent(inspect.getsource(answer)) if callable(answer) else repr(answer))


def all_exercises() -> dict[str, Exercise]:
    _load_all()
    return dict(_REGISTRY)


def answered(value: Any) -> Any:
    """Raise NotAnswered for a placeholder ``None`` answer."""
    if value is None:
        raise NotAnswered
    return value


def _load_all() -> None:
    """Import every module of ``convnext_lesson.solutions`` (one per notebook) to register its exercises."""
    import importlib
    import pkgutil

    from . import solutions
    for module in pkgutil.iter_modules(solutions.__path__):
        importlib.import_module(f"{solutions.__name__}.{module.name}")
