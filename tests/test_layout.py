"""The package's three rooms and the rule between them, read from the source with ``ast``.

``model`` (the networks) imports nothing else of the package; ``training`` (running them) imports only
``model`` and itself; only ``teach`` (the notebooks' helpers) and the front door (``__init__``,
``__main__``, ``cli``) import ``teach``. Every import counts, also one inside a function.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "convnext_lesson"
ROOMS = ("model", "training", "teach")
FRONT_DOOR = ("__init__.py", "__main__.py", "cli.py")
FRONT = "the front door"
MAY_IMPORT = {"model": {"model"}, "training": {"model", "training"}, "teach": {"model", "training", "teach", FRONT}}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def room(name: str) -> str | None:
    """The room of a module of the package (FRONT for the front door), None for anything outside the package."""
    parts = name.split(".")
    if parts[0] != PACKAGE.name:
        return None
    return parts[1] if len(parts) > 1 and parts[1] in ROOMS else FRONT


def imports(source: str, name: str, is_package: bool = False):
    """(line, imported module) of every import of ``source``, the source of module ``name``; relative ones resolved."""
    here = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = here[:len(here) - node.level + 1] if node.level else []
            parent = ".".join(base + (node.module.split(".") if node.module else []))
            for alias in node.names:  # `from . import diagrams` in teach/show imports convnext_lesson.teach.show.diagrams
                yield node.lineno, f"{parent}.{alias.name}" if is_module(f"{parent}.{alias.name}") else parent


def violations(source: str, name: str, is_package: bool = False) -> list[str]:
    mine = room(name)
    found = []
    for line, target in imports(source, name, is_package):
        theirs = room(target)
        if theirs is not None and mine in MAY_IMPORT and theirs not in MAY_IMPORT[mine]:
            allowed = " and ".join(sorted(MAY_IMPORT[mine]))
            found.append(f"{name} (line {line}) imports {target}: {mine} may import only {allowed}")
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_room_or_the_front_door():
    stray = [str(p.relative_to(PACKAGE)) for p in MODULES
             if p.relative_to(PACKAGE).parts[0] not in ROOMS and p.name not in FRONT_DOOR]
    assert not stray, f"modules outside model/, training/ and teach/: {stray}"
    assert {room(module_name(p)) for p in MODULES} == set(ROOMS) | {FRONT}


def test_the_rooms_import_only_what_the_rule_allows():
    found = [v for p in MODULES for v in violations(p.read_text(encoding="utf-8"), module_name(p), p.name == "__init__.py")]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("where, source, expected", [
    ("model.counting", "def f():\n    from ..teach.show.receptive_field import one_thread\n",
     "convnext_lesson.model.counting (line 2) imports convnext_lesson.teach.show.receptive_field: model may import only "
     "model"),
    ("training.run", "import convnext_lesson.teach.notebook\n", "imports convnext_lesson.teach.notebook: training may"),
    ("training.run", "from .. import teach\n",
     "imports convnext_lesson.teach: training may import only model and training"),
    ("model.network", "from .. import training\n", "imports convnext_lesson.training: model may import only model"),
    ("training.engine", "import convnext_lesson as cl\n", "imports convnext_lesson: training may"),
])
def test_the_check_names_the_module_and_the_import(where, source, expected):
    [found] = violations(source, f"convnext_lesson.{where}")
    assert expected in found


def test_allowed_imports_pass_the_check():
    assert not violations("from ..model.roadmap import get_step\nfrom . import results\nimport torch\n",
                          "convnext_lesson.training.ladder")
    assert not violations("from ....model.layers import Block\nfrom ..exercises import exercise\n",
                          "convnext_lesson.teach.lab.solutions.nb05")
    assert not violations("from .teach import lesson\n", "convnext_lesson", is_package=True)


def test_every_module_opens_with_a_line_on_what_it_holds_and_stays_readable():
    missing, long = [], []
    for path in MODULES:
        text = path.read_text(encoding="utf-8")
        doc = (ast.get_docstring(ast.parse(text), clean=False) or "").split("\n")
        if not doc[0].strip() or (len(doc) > 1 and doc[1].strip()):  # a summary line, then a blank line or the end
            missing.append(str(path.relative_to(PACKAGE)))
        if len(text.splitlines()) > 400:
            long.append(f"{path.relative_to(PACKAGE)} ({len(text.splitlines())} lines)")
    assert not missing, f"modules without a one-line docstring: {missing}"
    assert not long, f"modules over 400 lines (split them): {long}"


def backward_calls(source: str) -> list[int]:
    """Lines of ``x.backward()``, ``torch.autograd.backward(...)`` and a bare ``backward(...)``."""
    return [node.lineno for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Attribute) and node.func.attr == "backward")
        or (isinstance(node.func, ast.Name) and node.func.id == "backward"))]


def test_only_the_trainer_runs_a_backward_pass():
    """One training loop: every backward pass is the engine's (the Trainer's step, which the benchmark times)."""
    calls = [f"{p.relative_to(PACKAGE)}:{line}" for p in MODULES for line in backward_calls(p.read_text(encoding="utf-8"))]
    assert calls and all(c.startswith("training/engine.py:") for c in calls), calls
    assert backward_calls("loss.backward()\ntorch.autograd.backward(loss)\nbackward(loss)\n") == [1, 2, 3]


def test_the_function_train_and_the_training_room_are_both_reachable():
    import convnext_lesson as cl
    import convnext_lesson.training.engine as engine

    assert callable(cl.train) and cl.train.__module__ == "convnext_lesson.training.run"
    assert engine.Trainer.__module__ == "convnext_lesson.training.engine"


# -- the training hallway: each thing decided once, one run path (issue 23's boundaries) --------------------------

def functions(path: Path):
    """(name, parameter count, line count) of every function and method in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            count = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) - (a.args[:1] != [] and a.args[0].arg
                                                                                in ("self", "cls"))
            yield node.name, count, node.end_lineno - node.lineno + 1


def test_only_the_public_train_takes_15_or_more_parameters():
    wide = [f"{p.relative_to(PACKAGE)}:{name} ({n})" for p in MODULES for name, n, _ in functions(p) if n >= 15]
    assert wide == ["training/run.py:train (21)"], wide


def test_the_two_run_paths_are_short():
    lengths = {name: lines for p in (PACKAGE / "training" / "run.py", PACKAGE / "training" / "finetune.py")
               for name, _, lines in functions(p) if name in ("execute", "finetune")}
    assert set(lengths) == {"execute", "finetune"} and max(lengths.values()) <= 40, lengths


def test_the_data_room_does_not_import_the_recipes_and_tells_formats_apart_in_one_place():
    for name in ("data", "datasets", "download", "images"):
        path = PACKAGE / "training" / f"{name}.py"
        targets = {t for _, t in imports(path.read_text(encoding="utf-8"), f"convnext_lesson.training.{name}")}
        assert "convnext_lesson.training.recipes" not in targets, name
    # CIFAR's pickles: described in datasets.py, read by images.reader; no other module special-cases them
    mentions = sorted(str(p.relative_to(PACKAGE)) for p in MODULES if "CIFAR_PICKLE_FOLDER" in p.read_text(encoding="utf-8")
                      or '"cifar10"' in p.read_text(encoding="utf-8"))
    assert mentions == ["training/datasets.py", "training/images.py"], mentions


def asks_torch_for_devices(source: str) -> bool:
    """Whether ``source`` asks torch which devices exist (``torch.cuda.is_available()``, ``...mps.is_available()``,
    ``torch.cuda.device_count()``) or builds a rank's GPU device (``torch.device("cuda", ...)``)."""
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Attribute) and f.value.attr in ("cuda", "mps") \
                and f.attr in ("is_available", "device_count"):
            return True
        if isinstance(f, ast.Attribute) and f.attr == "device" and len(node.args) == 2:
            return True
    return False


def test_the_device_is_decided_by_the_runtime():
    """The runtime decides the device (and a torchrun rank's GPU); besides it only the two modules that tell the
    learner what the machine has look for devices."""
    asking = sorted(str(p.relative_to(PACKAGE)) for p in MODULES if asks_torch_for_devices(p.read_text(encoding="utf-8")))
    assert asking == ["teach/doctor.py", "teach/notebook.py", "training/runtime.py"], asking
    assert asks_torch_for_devices("import torch\ntorch.cuda.is_available()\n")
    assert asks_torch_for_devices("torch.device('cuda', rank)\n")
    assert not asks_torch_for_devices("torch.device('meta')\ntorch.cuda.get_device_name(0)\n")


def test_threads_are_changed_in_one_place():
    setting = sorted(str(p.relative_to(PACKAGE)) for p in MODULES if "set_num_threads(" in p.read_text(encoding="utf-8"))
    assert setting == ["model/threads.py"], setting


def test_the_readings_of_our_runs_read_only_records():
    """teach/readings computes from the records alone: it draws nothing and asks nothing of the learner, so it
    imports neither teach/show nor teach/lab (which may both read it)."""
    readings = sorted((PACKAGE / "teach" / "readings").glob("*.py"))
    assert readings
    for path in readings:
        for _, target in imports(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py"):
            assert not target.startswith(("convnext_lesson.teach.show", "convnext_lesson.teach.lab")), (path, target)
