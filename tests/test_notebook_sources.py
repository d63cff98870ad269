"""The notebooks learners open are built from notebooks/src/: cell for cell, the same text."""
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = sorted((NOTEBOOKS / "src").glob("[0-9][0-9]_*.py"))


def test_every_source_has_its_notebook_and_no_notebook_lacks_a_source():
    assert [p.stem for p in SOURCES] == sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem[:2])
def test_built_notebook_has_its_sources_cells(source):
    built = nbformat.read(NOTEBOOKS / f"{source.stem}.ipynb", as_version=4)
    cells = [(c.cell_type, c.source) for c in jupytext.read(source).cells]
    assert [(c.cell_type, c.source) for c in built.cells] == cells, (
        f"rebuild it: python tools/build_notebooks.py {source.stem[:2]} (--prose-only if only markdown changed)")
