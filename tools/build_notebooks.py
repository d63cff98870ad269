"""Build the course notebooks from their sources and regenerate their outputs.

    python tools/build_notebooks.py             # every notebook, executed under the smoke profile
    python tools/build_notebooks.py 03 08       # only these
    python tools/build_notebooks.py --no-execute
    python tools/build_notebooks.py 00 --prose-only   # only markdown changed: copy it in, keep the outputs
    CONVNEXT_LESSON_PROFILE=cpu python tools/build_notebooks.py 03   # outputs from another profile

Sources are notebooks/src/NN_name.py in jupytext's "percent" format (one cell per
`# %%`); the .ipynb files next to them are what learners open and nbval tests.
Cells tagged `nbval-check-output` have their outputs compared by nbval, so they
must print the same on every machine.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
WIDGET = "application/vnd.jupyter.widget-view+json"


def sources(selected: list[str]) -> list[Path]:
    found = sorted((NOTEBOOKS / "src").glob("[0-9][0-9]_*.py"))
    if selected:
        found = [p for p in found if any(p.name.startswith(s) for s in selected)]
        if not found:
            names = ", ".join(p.stem for p in sorted((NOTEBOOKS / "src").glob("*.py")))
            sys.exit(f"no notebook matches {selected}; available: {names}")
    return found


PROGRESS_BAR = re.compile(r"^[^\n]*\d+%\|")  # tqdm's text: "epoch 1/3:   0%|          | 0/12 [...]"


def static_outputs(outputs: list) -> list:
    """Outputs as a file shows them: widgets keep their static fallback (no saved widget state), and
    progress bars are dropped, since a saved bar shows its first frame ("0%") and every epoch already
    prints a line of text."""
    kept = []
    for output in outputs:
        data = output.get("data", {})
        if WIDGET in data:
            del data[WIDGET]
            if set(data) <= {"text/plain"} and PROGRESS_BAR.match(data.get("text/plain", "")):
                continue
        kept.append(output)
    return kept


def build(source: Path, execute: bool, timeout: int) -> float:
    import jupytext  # here, not at the top: the tests import static_outputs where only nbformat is installed
    import nbformat
    from nbclient import NotebookClient

    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.pop("jupytext", None)
    start = time.perf_counter()
    if execute:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=False,
                       resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    nb.metadata.pop("widgets", None)
    for index, cell in enumerate(nb.cells):  # stable files: ids by position, no timings in metadata
        cell.id = f"cell-{index:03d}"
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = static_outputs(cell.outputs)
    nbformat.write(nb, NOTEBOOKS / f"{source.stem}.ipynb")
    return time.perf_counter() - start


def cell_sources(nb) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in nb.cells]


def update_prose(source: Path) -> int:
    """Copy the markdown cells of ``source`` into its built notebook, whose outputs stay; only when the code
    cells are unchanged (otherwise the outputs would no longer be those of the code above them)."""
    import jupytext
    import nbformat

    new, path = jupytext.read(source), NOTEBOOKS / f"{source.stem}.ipynb"
    built = nbformat.read(path, as_version=4)
    code = [[s for s in cell_sources(nb) if s[0] == "code"] for nb in (new, built)]
    if code[0] != code[1] or len(new.cells) != len(built.cells):
        sys.exit(f"{source.name}: its code cells changed; rebuild it whole (python tools/build_notebooks.py "
                 f"{source.stem[:2]})")
    changed = 0
    for cell, new_cell in zip(built.cells, new.cells):
        if cell.cell_type == "markdown" and cell.source != new_cell.source:
            cell.source, changed = new_cell.source, changed + 1
    nbformat.write(built, path)
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="number prefixes, e.g. 01 03 (default: all)")
    parser.add_argument("--no-execute", action="store_true", help="write the notebooks without outputs")
    parser.add_argument("--prose-only", action="store_true", help="only copy changed markdown cells in, keeping "
                        "the outputs (refused when a code cell changed)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args()
    if args.prose_only:
        for source in sources(args.notebooks):
            print(f"{source.stem}.ipynb  {update_prose(source)} markdown cells updated")
        return
    os.environ.setdefault("CONVNEXT_LESSON_PROFILE", "smoke")
    fixed_runs = os.environ.get("CONVNEXT_LESSON_RUNS")
    for source in sources(args.notebooks):
        # a fresh runs folder per notebook: its outputs show its own training, never "already trained"
        os.environ["CONVNEXT_LESSON_RUNS"] = fixed_runs or tempfile.mkdtemp(prefix="convnext-lesson-build-")
        seconds = build(source, not args.no_execute, args.timeout)
        print(f"{source.stem}.ipynb  {seconds:6.1f} s  (profile {os.environ['CONVNEXT_LESSON_PROFILE']})")


if __name__ == "__main__":
    main()
