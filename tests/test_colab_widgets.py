"""The explorers under whatever ipywidgets is installed: the lock's 8 here, Colab's 7.7.1 when
tools/colab_simulation.py runs this file in its Colab-like environment. The course keeps Colab's 7.7.1
(pyproject's bound allows it), so pip never upgrades ipywidgets inside a running Colab kernel."""
import base64
import tomllib
from pathlib import Path

import ipywidgets
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import display
from packaging.requirements import Requirement

from convnext_lesson.teach.show import explorer

ROOT = Path(__file__).resolve().parents[1]
COLAB_IPYWIDGETS = "7.7.1"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def published(monkeypatch):
    """What a notebook receives when a widget is displayed: the bundles IPython publishes."""
    shell = InteractiveShell.instance()
    sent = []
    monkeypatch.setattr(shell.display_pub, "publish", lambda data, metadata=None, **kw: sent.append(data))
    monkeypatch.setattr(explorer, "reference_runs", lambda regime="resnet50": {})
    return sent


def check_bundle(bundle: dict, widget) -> None:
    """The live widget for a kernel, and the picture and text for a viewer without one."""
    assert bundle[explorer.WIDGET_VIEW]["model_id"] == widget.model_id
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_SIGNATURE)
    assert bundle["text/plain"] == widget.summary_text()


def test_the_bound_keeps_colabs_ipywidgets():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    [req] = [Requirement(r) for r in project["dependencies"] if r.startswith("ipywidgets")]
    assert req.specifier.contains(COLAB_IPYWIDGETS) and req.specifier.contains("8.1.9")


def test_the_roadmap_explorer_shows_and_updates(published):
    widget = explorer.roadmap_explorer(step=0)
    display(widget)
    [bundle] = published
    check_bundle(bundle, widget)
    assert "0: ResNet-50" in widget.step_title.value and "25,557,032" in widget.numbers.value
    widget.step_slider.value = 9  # the slider's observer runs on either major version
    assert "9: kernel size 7" in widget.step_title.value and "kernel_size: 3 → 7" in widget.difference.value
    assert "step 9" in widget.summary_text()


def test_the_kernel_explorer_shows(published):
    widget = explorer.kernel_explorer(kernel_size=3)
    display(widget)
    [bundle] = published
    check_bundle(bundle, widget)
    assert widget.summary["step"] == 7 and "kernel 3x3" in bundle["text/plain"]


def test_the_version_switch_matches_the_installed_ipywidgets():
    assert explorer.IPYWIDGETS_7 == ipywidgets.__version__.startswith("7.")
    # 7 displays through _ipython_display_, which IPython asks before any bundle; 8 has no such method
    assert hasattr(explorer.RoadmapExplorer, "_ipython_display_") == explorer.IPYWIDGETS_7
