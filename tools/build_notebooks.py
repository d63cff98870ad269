"""Build the course notebooks from their sources and regenerate their outputs.

    python tools/build_notebooks.py             # every notebook, executed under the smoke profile
    python tools/build_notebooks.py 03 08       # only these
    python tools/build_notebooks.py --no-execute
    python tools/build_notebooks.py 00 --prose-only   # only markdown changed: copy it in, keep the outputs
    python tools/build_notebooks.py --colab        # only rewrite install cells, badges and Colab metadata
    python tools/build_notebooks.py --times        # only rewrite the Time paragraphs from the time records
    CONVNEXT_LESSON_PROFILE=cpu python tools/build_notebooks.py 03   # outputs from another profile

Sources are notebooks/src/NN_name.py in jupytext's "percent" format (one cell per
`# %%`); the .ipynb files next to them are what learners open and nbval tests.
Cells tagged `nbval-check-output` have their outputs compared by nbval, so they
must print the same on every machine.

Every build first writes each source's **Time:** paragraph, between its two marker lines (TIME_BEGIN and
TIME_END), from the notebook's time records in convnext_lesson/reference/notebook_times/ (tools/
time_notebooks.py writes them and words the paragraph): no time in it is typed.
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import re
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
WIDGET = "application/vnd.jupyter.widget-view+json"
INSTALL_START = "import importlib.util, subprocess, sys\n"
INSTALL_END = "# end of the install cell's Colab part\n"
BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
COLAB_METADATA = {"colab": {"provenance": [], "gpuType": "T4"}, "accelerator": "GPU"}
TIME_BEGIN = "# <!-- time: begin (written by tools/build_notebooks.py from reference/notebook_times/cpu) -->"
TIME_END = "# <!-- time: end -->"
WIDTH = 110  # a source's comment lines, "# " included
# a word that Markdown reads as the start of a block (list item, quote, heading, rule) when a line begins with it
BLOCK_START = re.compile(r"^(?:[-+*]|#{1,6}|\d{1,9}[.)]|=+|-+)$|^>")
UNIT = re.compile(r"(s|minutes?|hours?|img/s|images/s)\b")  # a word kept on the line of the number before it


def release() -> tuple[str, str]:
    """(the repository's address, the release tag the course installs): both from pyproject.toml, the one place
    they live. A release is tagged v<version>, so a class installs what was tested, whatever main does later."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project["urls"]["Repository"], f"v{project['version']}"


def install_code() -> str:
    """The Colab part of every notebook's first code cell: install the course once, and on failure show pip's
    own output (Colab hides a subprocess's) and what to do next."""
    url, tag = release()
    return (INSTALL_START +
            'if importlib.util.find_spec("convnext_lesson") is None:  # on Colab: install the course package once\n'
            f'    SOURCE = "git+{url}@{tag}"\n'
            f'    # offline or a private copy? SOURCE = "/content/convnext_lesson-{tag[1:]}-py3-none-any.whl" (uploaded)\n'
            '    # or SOURCE = "/content/drive/MyDrive/convnext-lesson" (a clone on Drive)\n'
            '    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", SOURCE], capture_output=True, '
            'text=True)\n'
            "    if pip.returncode != 0:  # Colab hides a subprocess's output: show pip's, then stop\n"
            '        print(pip.stdout[-3000:], pip.stderr[-3000:], sep="\\n")\n'
            '        raise RuntimeError(f"pip could not install the course from {SOURCE}: its output is above. "\n'
            '                           "Is the runtime online? If not, set SOURCE as the comments above say.")\n'
            + INSTALL_END)


def colab_url(notebook: str) -> str:
    url, tag = release()
    return f"https://colab.research.google.com/github/{url.removeprefix('https://github.com/')}/blob/{tag}/notebooks/{notebook}"


def badge(notebook: str) -> str:
    return f"{BADGE}({colab_url(notebook)})"


def with_install_cell(code: str) -> str:
    """``code`` (a first code cell) with its Colab part replaced by ``install_code()``."""
    start = code.index(INSTALL_START)
    end = code.index(INSTALL_END) + len(INSTALL_END) if INSTALL_END in code else code.index("import torch\n")
    return code[:start] + install_code() + code[end:]


def with_badge(markdown: str, notebook: str) -> str:
    """A first markdown cell with the notebook's Colab badge on the line under its title."""
    lines = [line for line in markdown.split("\n") if not line.startswith(BADGE)]
    return "\n".join(lines[:1] + [badge(notebook)] + lines[1:])


def apply_colab(nb, notebook: str):
    """Install cell, badge and Colab metadata (a GPU runtime) of a notebook, in place."""
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    first_code.source = with_install_cell(first_code.source)
    first_md = next(c for c in nb.cells if c.cell_type == "markdown")
    first_md.source = with_badge(first_md.source, notebook)
    nb.metadata.update(COLAB_METADATA)
    return nb


@functools.cache
def times_tool():
    """tools/time_notebooks.py, imported when needed (it imports torch; the tests import this file without)."""
    spec = importlib.util.spec_from_file_location("time_notebooks", ROOT / "tools" / "time_notebooks.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def comment_lines(markdown: str, width: int = WIDTH) -> list[str]:
    """One Markdown paragraph as a source's ``# `` lines of at most ``width`` characters (a longer piece keeps
    its own line), broken only at spaces outside `code`, never between a number and its unit ("534 s") and
    never before a word that would start a Markdown block."""
    pieces: list[str] = []
    for word in markdown.split():
        if pieces and (pieces[-1].count("`") % 2 or (re.search(r"\d$", pieces[-1]) and UNIT.match(word))):
            pieces[-1] += " " + word
        else:
            pieces.append(word)
    lines: list[str] = []
    for piece in pieces:
        if lines and len(lines[-1]) + 1 + len(piece) <= width:
            lines[-1] += " " + piece
        elif lines and BLOCK_START.match(piece.split()[0]) and " " in lines[-1][2:]:  # the last word goes down too
            head, last = lines[-1].rsplit(" ", 1)
            lines[-1:] = [head, f"# {last} {piece}"]
        else:
            lines.append("# " + piece)
    return lines


def time_lines(notebook: str, records: Path | None = None) -> list[str]:
    """The source lines between TIME_BEGIN and TIME_END of ``notebook`` (e.g. "07_micro_design"), from the
    records in ``records`` (default: the committed ones, convnext_lesson/reference/notebook_times)."""
    tool = times_tool()
    return comment_lines(tool.notebook_paragraph(notebook, records or tool.RECORDS))


def write_times(source: Path) -> bool:
    """Write the notebook's Time paragraph between the markers of ``source``; whether the source changed."""
    text = source.read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines.count(TIME_BEGIN) != 1 or lines.count(TIME_END) != 1 or lines.index(TIME_BEGIN) > lines.index(TIME_END):
        sys.exit(f"{source.name}: needs one line\n{TIME_BEGIN}\nand after it one line\n{TIME_END}\n"
                 "in its first markdown cell, where the Time paragraph goes")
    new = "\n".join(lines[:lines.index(TIME_BEGIN) + 1] + time_lines(source.stem) + lines[lines.index(TIME_END):])
    if new != text:
        source.write_text(new, encoding="utf-8")
    return new != text


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

    nb = apply_colab(jupytext.read(source), f"{source.stem}.ipynb")
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


def update_prose(source: Path, only_times: bool = False) -> int:
    """Copy the markdown cells of ``source`` (``only_times``: only those that hold a Time paragraph) into its
    built notebook, whose outputs stay; only when the code cells are unchanged (otherwise the outputs would no
    longer be those of the code above them)."""
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
        if only_times and TIME_BEGIN[2:] not in new_cell.source.split("\n"):
            continue
        if cell.cell_type == "markdown" and cell.source != new_cell.source:
            cell.source, changed = new_cell.source, changed + 1
    nbformat.write(built, path)
    return changed


def update_colab(source: Path) -> None:
    """Write the install cell and badge into a source and its built notebook (whose outputs stay: with the
    package installed, the install cell prints nothing), and the Colab metadata into the notebook. The source
    is edited as text (a percent-format comment per markdown line), so nothing else in it moves."""
    import nbformat

    text = source.read_text(encoding="utf-8")
    lines = [line for line in with_install_cell(text).split("\n") if not line.startswith("# " + BADGE)]
    title = next(i for i, line in enumerate(lines) if line.startswith("# # "))
    lines.insert(title + 1, "# " + badge(f"{source.stem}.ipynb"))
    source.write_text("\n".join(lines), encoding="utf-8")
    path = NOTEBOOKS / f"{source.stem}.ipynb"
    if path.exists():
        nbformat.write(apply_colab(nbformat.read(path, as_version=4), path.name), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="number prefixes, e.g. 01 03 (default: all)")
    parser.add_argument("--no-execute", action="store_true", help="write the notebooks without outputs")
    parser.add_argument("--prose-only", action="store_true", help="only copy changed markdown cells in, keeping "
                        "the outputs (refused when a code cell changed)")
    parser.add_argument("--colab", action="store_true", help="only rewrite the install cells, badges and Colab "
                        "metadata of the sources and notebooks from pyproject.toml (outputs kept)")
    parser.add_argument("--times", action="store_true", help="only rewrite the Time paragraphs of the sources "
                        "from the time records and copy them into the notebooks as --prose-only does (no execution)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args()
    if args.colab:
        for source in sources(args.notebooks):
            update_colab(source)
            print(f"{source.stem}: install cell, badge and Colab metadata written")
        return
    for source in sources(args.notebooks):  # a build writes what it builds from the records first
        if write_times(source):
            print(f"{source.name}: Time paragraph rewritten from its records")
    if args.prose_only or args.times:
        for source in sources(args.notebooks):
            print(f"{source.stem}.ipynb  {update_prose(source, only_times=args.times)} markdown cells updated")
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
