"""Every notebook installs the course from the one declared source, shows pip's error, and opens in Colab on a GPU."""
import importlib.util
import re
import runpy
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
build = runpy.run_path(str(ROOT / "tools" / "build_notebooks.py"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_the_source_and_its_tag_come_from_pyproject():
    url, tag = build["release"]()
    assert url.startswith("https://github.com/") and re.fullmatch(r"v\d+\.\d+\.\d+", tag)
    assert f'SOURCE = "git+{url}@{tag}"' in build["install_code"]()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_has_the_install_cell_the_badge_and_colab_metadata(path):
    nb = nbformat.read(path, as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code.source.startswith(build["install_code"]())
    assert build["badge"](path.name) in next(c for c in nb.cells if c.cell_type == "markdown").source
    assert nb.metadata["accelerator"] == "GPU" and nb.metadata["colab"]["gpuType"] == "T4"
    source = (ROOT / "notebooks" / "src" / f"{path.stem}.py").read_text(encoding="utf-8")
    assert build["install_code"]() in source and "# " + build["badge"](path.name) in source


def test_the_readme_links_each_notebook_to_the_same_colab_address():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert build["colab_url"](path.name) in readme, path.name
    assert "blob/main/notebooks" not in readme


def test_a_failed_install_shows_pips_own_output_and_what_to_do(monkeypatch, capsys, tmp_path):
    code = build["install_code"]().replace(build["install_code"]().split('SOURCE = "')[1].split('"')[0],
                                           str(tmp_path / "missing.whl"))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "convnext_lesson" else real(name, *a))
    with pytest.raises(RuntimeError, match="pip could not install the course from .*missing.whl: its output is above"):
        exec(code, {})
    assert "missing.whl" in capsys.readouterr().out  # pip's own message, shown
