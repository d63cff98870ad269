"""The install files agree with each other."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    return dict(re.match(r"^\s*-?\s*([A-Za-z0-9_.\-]+)==(\S+)", line).groups()
                for line in lines if re.match(r"^\s*-?\s*[A-Za-z0-9_.\-]+==", line))


def test_environment_yml_uses_the_lock_versions():
    lock = {k.lower(): v for k, v in pins((ROOT / "requirements-lock.txt").read_text(encoding="utf-8").splitlines()).items()}
    conda = pins((ROOT / "environment.yml").read_text(encoding="utf-8").splitlines())
    assert {"torch", "torchvision", "fvcore", "nbval"} <= set(conda)
    for name, version in conda.items():
        assert lock[name.lower()] == version, name
    assert lock["torch"] == "2.14.1" and lock["torchvision"] == "0.29.1"


def test_every_dependency_is_locked():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lock = {k.lower() for k in pins((ROOT / "requirements-lock.txt").read_text(encoding="utf-8").splitlines())}
    names = project["dependencies"] + project["optional-dependencies"]["dev"]
    for requirement in names:
        assert re.match(r"[A-Za-z0-9_.\-]+", requirement)[0].lower() in lock, requirement
    assert not any("==" in r for r in project["dependencies"]), "the package itself pins nothing (Colab keeps its torch)"


def test_a_plain_install_ships_the_three_rooms_and_their_data():
    setuptools = __import__("setuptools")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    found = set(setuptools.find_packages(str(ROOT), include=config["packages"]["find"]["include"]))
    rooms = {"convnext_lesson", "convnext_lesson.model", "convnext_lesson.training", "convnext_lesson.teach",
             "convnext_lesson.teach.lab.solutions"}
    assert rooms <= found, rooms - found
    package = ROOT / "convnext_lesson"
    shipped = {p for glob in config["package-data"]["convnext_lesson"] for p in package.glob(glob)}
    assert any(p.parent.name == "runs" for p in shipped) and any(p.parent.name == "data_files" for p in shipped)
    # every committed record travels with a pip install (Colab reads them there): none left out by the globs
    records = {p for p in (package / "reference").rglob("*.json")}
    assert records <= shipped, sorted(str(p.relative_to(package)) for p in records - shipped)


def test_readme_has_the_commands_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "<!-- ci: setup -->" in readme and "<!-- ci: test -->" in readme
    assert "readme_block setup" in (ROOT / ".ci/run").read_text(encoding="utf-8")


def test_the_oldest_torch_ci_tests_the_declared_lower_bounds():
    script = (ROOT / "tools" / "oldest_torch.sh").read_text(encoding="utf-8")
    tested = {name.lower(): version for name, version in re.findall(r"^(TORCH|TORCHVISION|NUMPY)=(\S+)$", script, re.M)}
    declared = {}
    for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]:
        name, _, bound = requirement.partition(">=")
        declared[name] = bound
    assert tested and all(declared[name] == version for name, version in tested.items()), (tested, declared)
    assert set(tested) == {"torch", "torchvision", "numpy"}
