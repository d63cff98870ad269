"""Checked notebook cells print only what every machine and every supported torch prints.

nbval compares a checked cell's output character for character, so the rule for
those cells (README, "Checked cells") is: print counts, shapes, configuration and
the results of checks (True/False); print a computed float only at a precision far
above float32's arithmetic differences between CPU kernel sets; never print a torch
module, whose text changes between torch versions (``bias=True`` appeared in
LayerNorm's in torch 2.9).
"""
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# what only a torch module's repr prints: "BatchNorm2d(64, eps=1e-05, ...", "ReLU(inplace=True)", "Identity()"
MODULE_REPR = re.compile(r"\b(eps|inplace|approximate|elementwise_affine|track_running_stats)=|\bIdentity\(\)")


def checked_cells(path: Path):
    for index, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] == "code" and "nbval-check-output" in cell.get("metadata", {}).get("tags", []):
            text = "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                           for o in cell.get("outputs", []))
            yield index, text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_checked_cells_print_no_torch_module(path):
    offenders = [index for index, text in checked_cells(path) if MODULE_REPR.search(text)]
    assert not offenders, (f"{path.name}: checked cells {offenders} print a torch module, whose text depends on "
                           "the torch version; print it in an unchecked cell")


def test_the_module_pattern_catches_what_it_is_for():
    assert MODULE_REPR.search("(norm): LayerNorm2d((96,), eps=1e-06, elementwise_affine=True)")
    assert MODULE_REPR.search("BatchNorm2d(64, eps=1e-05, momentum=0.1)")
    assert MODULE_REPR.search("(act): ReLU(inplace=True)") and MODULE_REPR.search("(pool): Identity()")
    assert not MODULE_REPR.search("step 15 · BN -> LN: BatchNorm becomes LayerNorm over channels")
    assert not MODULE_REPR.search("GELU(x)     ['-0.004', '-0.159']")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_checked_cells(path):
    assert list(checked_cells(path)), f"{path.name} has no cell tagged nbval-check-output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_light(path):
    """Every rebuild adds a notebook to the history again: photographs as JPEG, no saved widget state."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in notebook["metadata"], f"{path.name} saves widget state"
    assert path.stat().st_size < 400_000, f"{path.name} weighs {path.stat().st_size / 1000:.0f} KB (at most 400)"


def test_build_keeps_static_outputs_and_drops_progress_bars():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_notebooks", Path(__file__).resolve().parents[1]
                                                  / "tools" / "build_notebooks.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    widget = {"model_id": "x", "version_major": 2, "version_minor": 0}
    bar = {"output_type": "display_data", "data": {build.WIDGET: widget,
                                                    "text/plain": "epoch 1/3:   0%|          | 0/12 [00:00<?, ?it/s]"}}
    explorer = {"output_type": "display_data", "data": {build.WIDGET: dict(widget), "image/png": "iVBOR",
                                                         "text/plain": "step 3: patchify stem"}}
    line = {"output_type": "stream", "name": "stdout", "text": "epoch 1/3: train loss 2.646\n"}
    kept = build.static_outputs([bar, line, explorer])
    assert kept == [line, {"output_type": "display_data", "data": {"image/png": "iVBOR",
                                                                    "text/plain": "step 3: patchify stem"}}]
