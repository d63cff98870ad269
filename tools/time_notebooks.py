"""Time the notebooks end to end under a profile, in the series' order, as a learner runs them.

    python tools/time_notebooks.py --profile cpu --runs runs/series   # every notebook not yet timed, in order
    python tools/time_notebooks.py --profile cpu --runs runs/series --upto 03   # 00 to 03 only
    python tools/time_notebooks.py --profile cpu --runs runs/series --restore convnext_lesson/reference
                                                   # go on with a series: first load the published runs
    python tools/time_notebooks.py --profile cpu --runs runs/late --restore convnext_lesson/reference \
        --restore-below 7 --only 06 07 08   # these notebooks alone, after the published runs of steps 0-6
    python tools/time_notebooks.py --profile cpu --table              # the recorded times

Each notebook runs in a fresh kernel with $CONVNEXT_LESSON_PROFILE set and one runs folder
($CONVNEXT_LESSON_RUNS) for the whole series, so a run that an earlier notebook trained is loaded, not
trained again: the time of a learner who goes through the notebooks in order. What a notebook trained is
read from the run folders whose ``result.json`` appeared while it ran. One record per notebook, written
when it ends, goes to ``convnext_lesson/reference/notebook_times/<profile>/<notebook>.json``: the wall
time, the device (CPU model and the vector instructions torch uses), torch, the runs trained and loaded,
the load average before and after (how busy the machine was), the commit and a ``--note``. Each notebook's
**Time:** paragraph is written from its record (``time_paragraph``; ``tools/build_notebooks.py --times``
puts it in), so a new record reaches the notebooks with a rebuild, and no time in them is typed.

A notebook that was stopped halfway counts only when run again whole: its unfinished run folders are
moved aside (to ``<runs>/interrupted/``, kept, not deleted) so that it trains them from the start.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from convnext_lesson.training import results

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RECORDS = ROOT / "convnext_lesson" / "reference" / "notebook_times"
KIND = "convnext-lesson-notebook-time"


def finished_runs(runs: Path) -> dict[str, dict]:
    """{run folder relative to ``runs``: its record} for every finished run."""
    found = {}
    for path in sorted(runs.glob(f"*/*/{results.RESULT_NAME}")):
        record = results.read_record(path)
        found[path.parent.relative_to(runs).as_posix()] = {"top1": round(record["top1"], 2),
                                                           "wall_time_s": round(record["wall_time_s"], 1)}
    return found


def move_unfinished(runs: Path) -> list[Path]:
    """Move run folders without a result (an interrupted notebook's) to ``runs/interrupted/``."""
    moved = []
    for folder in sorted(p for p in runs.glob("*/*") if p.is_dir() and p.parts[-2] != "interrupted"):
        if not (folder / results.RESULT_NAME).exists():
            target = runs / "interrupted" / f"{folder.parent.name}--{folder.name}--{int(time.time())}"
            target.parent.mkdir(parents=True, exist_ok=True)
            folder.rename(target)
            moved.append(target)
    return moved


def restore(reference: Path, runs: Path, profile: str, below: int | None = None) -> list[Path]:
    """Give ``runs`` a finished run folder (its ``result.json``) for every published record of ``profile`` in
    ``reference/runs`` and ``reference/variants`` (of steps below ``below`` only, when given): a series timed
    over several sessions then loads the runs an earlier session trained, as a learner's kernel loads what an
    earlier notebook trained; ``below`` keeps the runs the timed notebooks train themselves out."""
    from convnext_lesson.model.roadmap import get_step
    from convnext_lesson.training.plan import run_dir_for

    restored = []
    for record in results.find_records(reference / "runs") + results.find_records(reference / "variants"):
        if record["profile"] != profile or (below is not None and record["step"] >= below):
            continue
        folder = run_dir_for(runs, record["regime"], profile, record["dataset"]["name"],
                             get_step(record["step"], record["regime"]), record["seed"], record["overrides"])
        if not (folder / results.RESULT_NAME).exists():
            results.write_record(record, folder / results.RESULT_NAME)
            restored.append(folder)
    return restored


def device() -> str:
    return torch.cuda.get_device_name() if torch.cuda.is_available() else results.cpu_description()


def time_notebook(path: Path, profile: str, runs: Path) -> dict:
    """Run one notebook whole in a fresh kernel; its record (not yet written)."""
    import nbclient
    import nbformat

    for moved in move_unfinished(runs):
        print(f"   an interrupted run moved aside: {moved}", flush=True)
    before, load_before = finished_runs(runs), os.getloadavg()
    started, start = datetime.now(timezone.utc), time.perf_counter()
    os.environ.update({"CONVNEXT_LESSON_PROFILE": profile, "CONVNEXT_LESSON_RUNS": str(runs.resolve())})
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, timeout=None, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    wall = time.perf_counter() - start
    after = finished_runs(runs)
    commit, dirty = results.git_state()
    return {"kind": KIND, "notebook": path.stem, "profile": profile, "wall_time_s": round(wall, 1),
            "trained": {k: v for k, v in after.items() if k not in before},
            "runs_already_there": sorted(before),
            "device": device(), "torch": torch.__version__, "python": sys.version.split()[0],
            "git_commit": commit, "git_dirty": dirty,
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "load_average_1_5_15_min": {"before": [round(v, 2) for v in load_before],
                                        "after": [round(v, 2) for v in os.getloadavg()]}}


def time_phrase(record: dict) -> str:
    """How a notebook's time line states a measured time: "10 s" or "14 minutes"."""
    seconds = record["wall_time_s"]
    return f"{round(seconds, -1):.0f} s" if seconds < 90 else f"{round(seconds / 60)} minutes"


# what a record's note says when the machine also did other work while the notebook ran
SHARED = re.compile(r"\b(shared|also carried|other work|foreground|busy)\b", re.IGNORECASE)


def read_record(notebook: str, profile: str = "cpu", records: Path = RECORDS) -> dict | None:
    """The committed time record of ``notebook`` (e.g. "07_micro_design") under ``profile``, or None."""
    path = records / profile / f"{notebook}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _seconds(values: list[float]) -> str:
    low, high = round(min(values)), round(max(values))
    if len(values) == 1:
        return f"{low} s"
    return f"{low} s each" if low == high else f"{low}-{high} s each"


def device_words(device: str) -> str:
    """A record's device as a sentence names it: "cpu (2 cores, ...)" reads "a CPU (2 cores, ...)"."""
    found = re.fullmatch(r"cpu \((.*)\)", device)
    return f"a CPU ({found[1]})" if found else device


def time_paragraph(record: dict | None, colab: dict | None = None) -> str:
    """A notebook's **Time:** paragraph in Markdown (one line), written from its ``cpu`` time record (and its
    ``colab`` one, when there is one): every number in it is read from a record, none is typed."""
    if record is None:
        return ("**Time:** not yet timed end to end under `cpu` (`tools/time_notebooks.py` times it). "
                "`colab`: not timed on a T4 yet.")
    where = device_words(record["device"])
    if SHARED.search(record.get("note", "")):
        where += ", a machine shared with other work"
    text = (f"**Time:** `cpu` **{time_phrase(record)}**, measured end to end by `tools/time_notebooks.py` on "
            f"{where}, torch {record['torch']}, {record['started_at'][:10]}")
    already = record["runs_already_there"]
    if already:
        text += (f", after the notebooks before it (their {len(already)} "
                 f"{'run was' if len(already) == 1 else 'runs were'} already in the runs folder: a run already "
                 "there is loaded, not trained again)")
    trained = [run["wall_time_s"] for run in record["trained"].values()]
    if trained:
        text += (f": {len(trained)} training {'run' if len(trained) == 1 else 'runs'}, {_seconds(trained)}. "
                 "`smoke` (what the tests run) trains each network for seconds.")
    else:
        text += ". It trains none of the roadmap's runs."
    text += (f" `colab` **{time_phrase(colab)}** on {colab['device']}." if colab
             else " `colab`: not timed on a T4 yet.")
    if trained:
        text += (" The training cells print their progress, epoch by epoch. On another CPU, "
                 "`python -m convnext_lesson cpu-speed` measures how fast it trains these networks.")
    return text


# a notebook whose experiment is off under cpu (to stay within a lab sitting) says so in its source
EXPERIMENT_OFF = re.compile(r"cl\.lesson\.experiment_by_default\((\d+)\)")


def experiment_off_note(notebook: str, sources: Path = NOTEBOOKS / "src",
                        variants: Path = ROOT / "convnext_lesson" / "reference" / "variants") -> str:
    """For a notebook that trains its experiment only when asked under ``cpu`` (its source calls
    ``cl.lesson.experiment_by_default(step)``): a sentence that says so, with what the committed ``cpu`` run
    of the experiment took (read from its record); "" for every other notebook."""
    source = sources / f"{notebook}.py"
    found = EXPERIMENT_OFF.search(source.read_text(encoding="utf-8")) if source.exists() else None
    if not found:
        return ""
    step = int(found[1])
    runs = [r for r in results.find_records(variants) if r["step"] == step and r["profile"] == "cpu"]
    took = (f" (the committed `cpu` run of it took {time_phrase(runs[0])} on {device_words(runs[0]['device'])})" if runs else "")
    return (f" Under `cpu` the notebook's experiment is off by default, to keep it within a lab sitting: it is one "
            f"more training run{took}; `train_experiment = True` in its cell trains it.")


def notebook_paragraph(notebook: str, records: Path = RECORDS) -> str:
    """The Time paragraph of ``notebook`` from the committed records (``cpu``, and ``colab`` if timed), with
    ``experiment_off_note`` where it applies."""
    text = time_paragraph(read_record(notebook, "cpu", records), read_record(notebook, "colab", records))
    return text + experiment_off_note(notebook)


def write(record: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    tmp.rename(path)  # atomic: a stopped run leaves no half-written record


def table(records: Path) -> str:
    lines = ["| notebook | minutes | runs trained | device | machine load (1 min, before / after) |",
             "| --- | ---: | ---: | --- | --- |"]
    for path in sorted(records.glob("*.json")):
        r = json.loads(path.read_text(encoding="utf-8"))
        load = r["load_average_1_5_15_min"]
        lines.append(f"| {r['notebook']} | {r['wall_time_s'] / 60:.1f} | {len(r['trained'])} | {r['device']} | "
                     f"{load['before'][0]:.1f} / {load['after'][0]:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu", help="the profile the notebooks run under (default cpu)")
    parser.add_argument("--runs", type=Path, help="one runs folder for the whole series (required unless --table)")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="folder of the NN_*.ipynb notebooks")
    parser.add_argument("--records", type=Path, help="where the records go (default: the package's "
                                                     "reference/notebook_times/<profile>)")
    parser.add_argument("--upto", help="stop after this notebook (its number, e.g. 03); default: the last")
    parser.add_argument("--note", default="", help="said in every record written (how busy the machine was, ...)")
    parser.add_argument("--restore", type=Path, metavar="REFERENCE", help="first give --runs the runs published in "
                        "this folder (e.g. convnext_lesson/reference), to go on with a series an earlier "
                        "session began")
    parser.add_argument("--restore-below", type=int, metavar="STEP", help="with --restore: only the runs of steps "
                        "below STEP (the steps the notebooks before the timed ones train)")
    parser.add_argument("--only", nargs="+", metavar="NN", help="time these notebooks only, in this order "
                        "(e.g. 06 07 08); default: every notebook, in the series' order")
    parser.add_argument("--table", action="store_true", help="only print the recorded times")
    args = parser.parse_args(argv)
    records = args.records or RECORDS / args.profile
    if args.table:
        print(table(records))
        return 0
    if args.runs is None:
        parser.error("--runs is required: one runs folder for the whole series")
    notebooks = sorted(args.notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        parser.error(f"no NN_*.ipynb notebooks in {args.notebooks}")
    numbers = [p.name[:2] for p in notebooks]
    if args.upto is not None:
        if args.upto not in numbers:
            parser.error(f"--upto {args.upto}: no such notebook; valid: {', '.join(numbers)}")
        notebooks = notebooks[:numbers.index(args.upto) + 1]
    if args.only:
        unknown = [n for n in args.only if n not in numbers]
        if unknown:
            parser.error(f"--only {' '.join(unknown)}: no such notebook; valid: {', '.join(numbers)}")
        notebooks = [notebooks[numbers.index(n)] for n in args.only]
    if args.restore_below is not None and not args.restore:
        parser.error("--restore-below needs --restore (the folder of published runs)")
    args.runs.mkdir(parents=True, exist_ok=True)
    if args.restore:
        restored = restore(args.restore, args.runs, args.profile, args.restore_below)
        print(f"restored {len(restored)} published runs into {args.runs}")
    for path in notebooks:
        target = records / f"{path.stem}.json"
        if target.exists():
            continue
        print(f"== {path.stem} under {args.profile}", flush=True)
        record = {**time_notebook(path, args.profile, args.runs), "note": args.note}
        write(record, target)
        print(f"   {record['wall_time_s'] / 60:.1f} min, trained {len(record['trained'])} runs", flush=True)
    print(table(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
