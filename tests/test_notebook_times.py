"""Every notebook's Time paragraph is written from its measurement records, and no other prose types a time.

The paragraph sits between two marker lines of the notebook's first markdown cell; tools/build_notebooks.py
writes it there from convnext_lesson/reference/notebook_times/ (words: tools/time_notebooks.py). Outside
those blocks, the notebooks' markdown states no duration or speed of ours: those go stale as soon as a
machine, a torch or a run changes. Fast: nothing is executed.
"""
import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted((NOTEBOOKS / "src").glob("[0-9][0-9]_*.py"))
REBUILD = "python tools/build_notebooks.py --times"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build, tool = load("build_notebooks"), load("time_notebooks")
BEGIN, END = build.TIME_BEGIN, build.TIME_END


def between(lines: list[str], begin: str, end: str, where: str) -> list[str]:
    assert lines.count(begin) == 1 and lines.count(end) == 1, f"{where}: one line {begin!r} and one {end!r}"
    assert lines.index(begin) < lines.index(end), where
    return lines[lines.index(begin) + 1:lines.index(end)]


def source_block(source: Path) -> list[str]:
    return between(source.read_text(encoding="utf-8").split("\n"), BEGIN, END, source.name)


def notebook_block(source: Path) -> list[str]:
    notebook = nbformat.read(NOTEBOOKS / f"{source.stem}.ipynb", as_version=4)
    cells = [c for c in notebook.cells if c.cell_type == "markdown" and BEGIN[2:] in c.source.split("\n")]
    assert len(cells) == 1, f"{source.stem}.ipynb: one markdown cell holds the Time paragraph; run: {REBUILD}"
    return between(cells[0].source.split("\n"), BEGIN[2:], END[2:], f"{source.stem}.ipynb")


# (a) the blocks are what the committed records say --------------------------------------------------------

def test_every_notebook_has_a_time_record_and_markers():
    assert len(SOURCES) == 11
    for source in SOURCES:
        assert tool.read_record(source.stem) is not None, f"{source.stem}: no cpu time record"
        first_cell = source.read_text(encoding="utf-8").split("\n# %%", 1)[0]
        assert BEGIN in first_cell and END in first_cell, f"{source.name}: the markers are in the first cell"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem[:2])
def test_time_paragraph_is_the_one_its_records_write(source):
    lines = build.time_lines(source.stem)
    assert source_block(source) == lines, f"{source.name}: its Time paragraph is not its records'; run: {REBUILD}"
    assert notebook_block(source) == [line[2:] for line in lines], (
        f"{source.stem}.ipynb: its Time paragraph is not its records'; run: {REBUILD}")


def test_a_new_record_without_a_rebuild_is_caught(tmp_path):
    records = tmp_path / "notebook_times"
    shutil.copytree(tool.RECORDS, records)
    path = records / "cpu" / "07_micro_design.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**record, "wall_time_s": record["wall_time_s"] * 1.5}), encoding="utf-8")
    stale = [s.stem for s in SOURCES if build.time_lines(s.stem, records) != source_block(s)]
    assert stale == ["07_micro_design"]


def test_the_build_writes_the_paragraph_between_the_markers(tmp_path):
    source = tmp_path / "07_micro_design.py"
    text = (NOTEBOOKS / "src" / source.name).read_text(encoding="utf-8")
    head, rest = text.split(BEGIN + "\n", 1)
    source.write_text(head + BEGIN + "\n# **Time:** `cpu` **1 minute**, typed by hand\n" + END
                      + rest.split(END, 1)[1], encoding="utf-8")
    assert build.write_times(source) is True
    assert source.read_text(encoding="utf-8") == text
    assert build.write_times(source) is False  # nothing left to write
    (tmp_path / "08_convnext.py").write_text("# %% [markdown]\n# # 08\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="time: begin"):
        build.write_times(tmp_path / "08_convnext.py")


# the paragraph itself: every number read from the record ------------------------------------------------

RECORD = {"notebook": "99_test", "wall_time_s": 1234.5, "device": "cpu (6 cores, Some CPU, AVX2)",
          "torch": "9.8.7", "started_at": "2031-04-05T06:07:08+00:00", "git_commit": "f" * 40,
          "trained": {"a/step01-x-seed0": {"top1": 70.0, "wall_time_s": 111.4},
                      "a/step02-y-seed0": {"top1": 71.0, "wall_time_s": 333.6},
                      "a/step02-y-seed0-abcdef12": {"top1": 72.0, "wall_time_s": 222.2}},
          "runs_already_there": ["a/b"] * 7, "note": "a quiet machine, nothing else ran"}
SAME = ["21 minutes", "6 cores, Some CPU, AVX2", "9.8.7", "2031-04-05"]  # wall time, device, torch, date
FROM_RECORD = SAME + ["7 runs", "3 training runs", "111-334 s each"]


def without(text: str, parts: list[str]) -> str:
    for part in parts:
        assert part in text
        text = text.replace(part, "")
    return text


def test_every_number_of_the_paragraph_is_read_from_the_record():
    text = tool.time_paragraph(RECORD)
    assert text.startswith("**Time:** `cpu` **21 minutes**, measured end to end by `tools/time_notebooks.py` on a "
                           "CPU (6 cores, Some CPU, AVX2), torch 9.8.7, 2031-04-05, after the notebooks before it")
    assert "shared" not in text and "`smoke` (what the tests run) trains each network for seconds" in text
    assert "`python -m convnext_lesson cpu-speed`" in text and "not timed on a T4 yet" in text
    assert not re.search(r"\d", without(text, FROM_RECORD + ["T4"])), text  # no typed number

    one = tool.time_paragraph({**RECORD, "wall_time_s": 61.0, "runs_already_there": [],
                               "trained": {"a/b": {"top1": 1.0, "wall_time_s": 59.6}}})
    assert "**60 s**" in one and ": 1 training run, 60 s." in one and "before it" not in one
    nothing = tool.time_paragraph({**RECORD, "trained": {}, "runs_already_there": ["a/b"]})
    assert "It trains none of the roadmap's runs." in nothing and "their 1 run was already" in nothing
    assert "cpu-speed" not in nothing and "epoch by epoch" not in nothing
    assert not re.search(r"\d", without(nothing, SAME + ["1 run", "T4"]))
    colab = tool.time_paragraph(RECORD, {**RECORD, "wall_time_s": 300.0, "device": "Tesla T4"})
    assert "`colab` **5 minutes** on Tesla T4." in colab and "not timed on a T4" not in colab
    assert "not yet timed end to end under `cpu`" in tool.time_paragraph(None)


def test_a_shared_machine_is_said_in_words_not_in_the_notes():
    note = ("2-core AMD EPYC with AVX-512; the machine also carried light foreground work (editing, single "
            "quick tests); heavier foreground jobs, if any, are named in the session's closing note")
    text = tool.time_paragraph({**RECORD, "note": note})
    assert "a machine shared with other work" in text and "foreground" not in text and "editing" not in text


def test_comment_lines_wrap_as_the_sources_do():
    text = tool.time_paragraph(RECORD) + " and a list: 1. item - 2) # > x"
    lines = build.comment_lines(text)
    assert " ".join(line[2:] for line in lines) == text
    assert all(line.startswith("# ") and len(line) <= build.WIDTH for line in lines)
    assert not any(build.BLOCK_START.match(line[2:].split()[0]) for line in lines[1:])  # no list, quote, heading
    assert all(line.count("`") % 2 == 0 for line in lines)  # `code` stays on one line
    assert all(not re.search(r"\d$", line) for line in lines)  # "534 s" stays together
    for source in SOURCES:
        assert all(len(line) <= build.WIDTH for line in build.time_lines(source.stem)), source.name


# (b) no hand-typed time about our runs in the notebooks' markdown ---------------------------------------

NUMBER = (r"(?:\d[\d,]*(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
          r"twenty|thirty|forty|fifty|sixty|ninety)")
UNIT = (r"(?:s|secs?|seconds?|ms|milliseconds?|mins?|minutes?|h|hrs?|hours?|"
        r"img/s|images?/s|images per second|samples?/s|it/s)")
# "143 s", "14.5 minutes", "8 more minutes", "10-15 minutes", "a ten-minute run", "757.9 images/s"
TYPED = re.compile(rf"(?<![\w.]){NUMBER}(?:\s*(?:-|–|to)\s*{NUMBER})?(?:\s+(?:more|extra|further))?(?:\s+|-){UNIT}"
                   r"(?![\w/])", re.IGNORECASE)
PAPERS = re.compile(r"paper|V100|A100")  # a sentence that says whose measurement it quotes
GENERATED = re.compile(rf"{re.escape(BEGIN[2:])}.*?{re.escape(END[2:])}", re.DOTALL)


def typed_times(markdown: str) -> list[str]:
    """The sentences of ``markdown`` (outside the generated blocks) that type a duration or speed, unless they
    say it is the paper's; a semicolon ends a sentence here, so that a mention of the paper in one clause does
    not cover a time of ours in the next."""
    sentences = re.split(r"(?<=[.!?;])\s+|\n\s*\n", GENERATED.sub("", markdown))
    return [s for s in sentences if TYPED.search(s) and not PAPERS.search(s)]


def typed_in_markdown(path: Path, rule) -> list[tuple[int, str]]:
    """(cell index, sentence) for every sentence ``rule`` finds in the notebook's markdown cells."""
    notebook = nbformat.read(path, as_version=4)
    return [(i, s) for i, cell in enumerate(notebook.cells) if cell.cell_type == "markdown" for s in rule(cell.source)]


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem[:2])
def test_no_markdown_types_a_time_of_ours(path):
    found = typed_in_markdown(path, typed_times)
    assert not found, (f"{path.name}: markdown types a time of ours (it goes stale): {found}. Point at the Time "
                       "paragraph (written from the records) instead, or say the number is the paper's")


# (c) no hand-typed accuracy of ours: top-1 points and percentages go stale as the records change

POINTS = re.compile(rf"(?<![\w.])[+-−]?{NUMBER}(?:\s*(?:-|–|to)\s*{NUMBER})?\s*(?:points?|pts)\b", re.IGNORECASE)
PERCENT = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s*%")
ACCURACY = re.compile(r"top-1|accura", re.IGNORECASE)
# whose number it is (the paper's, ImageNet's, torchvision's) or a rule's margin (not a result)
NOT_OURS = re.compile(r"paper|ImageNet|torchvision|Table \d|COCO|ADE20K|\btie\b|margin")


def typed_accuracies(markdown: str) -> list[str]:
    """The sentences of ``markdown`` (outside the generated blocks) that type top-1 points, or a percentage in
    a sentence about accuracy, unless they say whose number it is."""
    sentences = re.split(r"(?<=[.!?;])\s+|\n\s*\n", GENERATED.sub("", markdown))
    return [s for s in sentences if (POINTS.search(s) or (PERCENT.search(s) and ACCURACY.search(s)))
            and not NOT_OURS.search(s)]


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem[:2])
def test_no_markdown_types_an_accuracy_of_ours(path):
    found = typed_in_markdown(path, typed_accuracies)
    assert not found, (f"{path.name}: markdown types an accuracy of ours (it goes stale): {found}. Print it "
                       "from the records in a cell, or say whose number it is")


def readme_prose(text: str) -> str:
    """README.md without its generated parts (between ``<!-- name: begin -->`` and its end) and code blocks."""
    text = re.sub(r"<!-- ([\w -]+): begin -->.*?<!-- \1: end -->", "", text, flags=re.DOTALL)
    return re.sub(r"```.*?```", "", text, flags=re.DOTALL)


def test_readme_types_no_accuracy_of_ours():
    found = [s for part in readme_prose((ROOT / "README.md").read_text(encoding="utf-8")).split("\n\n")
             for s in typed_accuracies(part)]
    assert not found, (f"README.md types accuracies of ours outside its generated parts: {found}. Name the "
                       "table row instead, or generate the sentence (tools/results_section.py)")


def test_the_readme_rule_sees_prose_and_skips_generated_parts():
    typed = "Our step 16 reaches 67.6% top-1."
    assert typed_accuracies(readme_prose(f"intro\n\n{typed}\n"))
    assert not typed_accuracies(readme_prose(f"<!-- results: begin -->\n{typed}\n<!-- results: end -->\n"))


@pytest.mark.parametrize("typed", [
    # what notebook 02 said before its reading was printed from the records
    "RandAugment at magnitude 9 cost both networks about 10 points, and Mixup/CutMix on every batch cost 5 to 6.",
    "Our step 16 reaches 67.6% top-1 after 12 epochs.", "the variant is 1.2 points better",
])
def test_the_rule_catches_typed_accuracies(typed):
    assert typed_accuracies(typed)


@pytest.mark.parametrize("fine", [
    "is worth +2.7 points of ImageNet top-1 in the paper (76.13 -> 78.82)",
    "a variant within 0.5 points of the best counts as a tie", "a random part of the image, 8% to 100% of its area",
    "More than 99% of the parameters are decayed", "the table above prints each variant's points against base",
])
def test_the_accuracy_rule_leaves_other_numbers_alone(fine):
    assert not typed_accuracies(fine)


@pytest.mark.parametrize("typed", [
    # what the notebooks said before their times were read from the records
    "Under `cpu` each step trains for about 8 minutes on a 2-core laptop.",
    "(sized by your profile: seconds under `smoke`; about 8 more minutes under `cpu`).",
    "A ten-minute run that was broken from its first step costs ten minutes.",
    "Answering that takes real runs, ten minutes or more each on a\nlaptop.",
    "*Optional* (about 10 minutes under `cpu`): train a variant yourself.",
    'The `colab` and `full` sizes, and the "about 10 minutes per step" of `colab`, are estimates.',
    "most of it one training run of step 0 (4 epochs, 143 s there; 306 s on a 2-core AVX2 machine)",
    "534 s there (14.5\nminutes on a quiet 2-core AVX2 machine)",
    "**Time:** `smoke` (what the tests run) about 1 minute on 2 CPU cores",
    "steps 12-15 (324-454 s each)", "`colab` about 30\nminutes (an estimate)", "our network trains 812 img/s.",
    "Train step 16 the way the paper builds it: `cl.train(16)` (seconds under `smoke`, where the accuracies mean "
    "nothing; about 8 more minutes under `cpu`, where the table above says what to expect).",
])
def test_the_rule_catches_typed_times(typed):
    assert typed_times(typed)


@pytest.mark.parametrize("fine", [
    "On a V100 the two run at about the same speed (774.7 against 757.9 images/s); on an A100 with TF32 ...",
    "The paper trains for 300 epochs, about 40 hours on 8 GPUs.",
    "Two checks take seconds and catch most mistakes.", "counting XL takes a few seconds",
    "A Convnet for the 2020s", "fresh ones are ones and zeros", "a run of 10,000 iterations, 12 epochs",
    "the 4x4 stride-4 conv, 224 px, 1.6-2.1 times", BEGIN[2:] + "\n**Time:** `cpu` **37 minutes** 324-605 s each\n"
    + END[2:],
])
def test_the_rule_leaves_other_text_alone(fine):
    assert not typed_times(fine)
