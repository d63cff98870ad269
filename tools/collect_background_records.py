"""Copy the records a background job made into this checkout's package, with a note.

    python tools/collect_background_records.py SRC_REFERENCE_DIR --note "the machine was busy ..."
    python tools/collect_background_records.py RUNS_DIR --note "..." [--replace]

A background job (the recipe search, a ladder, a timed series) runs from a checkout of its own commit so
that edits here cannot change what it trains; its records are copied here as they finish. The source is
either that checkout's ``convnext_lesson/reference`` folder (records it published) or a runs folder
(``<regime>-<profile>-<dataset>/<run>/result.json``, e.g. the one ``tools/time_notebooks.py`` fills).
From a runs folder a plain step run goes to ``reference/runs/`` (what the roadmap plots draw) and a run
with overrides (a notebook's experiment, a follow-up) to ``reference/variants/``, named after its run
folder; unfinished runs are skipped. A record this checkout already has is left alone, note and all,
unless ``--replace`` is given (to replace runs made by older code). ``--note`` records what the record
itself cannot know, for example that other work shared the CPU, so its wall time is longer than the
profile's speed gives.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from convnext_lesson.training import results

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "convnext_lesson" / "reference"


def from_reference(source: Path, target: Path) -> list[tuple[Path, dict]]:
    """(where it goes, record) for every record under another checkout's reference folder."""
    found = []
    for path in sorted(source.rglob("*.json")):
        if json.loads(path.read_text(encoding="utf-8")).get("kind") == results.KIND:  # not the notebook timings
            found.append((target / path.relative_to(source), results.read_record(path)))
    return found


def from_runs(source: Path, target: Path) -> list[tuple[Path, dict]]:
    """(where it goes, record) for every finished run under a runs folder; machine paths dropped."""
    found = []
    for path in sorted(source.glob(f"*/*/{results.RESULT_NAME}")):
        record = results.portable(results.read_record(path))
        if record["overrides"]:
            out = target / "variants" / f"{path.parts[-3]}-{path.parts[-2]}.json"
        else:
            out = target / "runs" / results.record_file_name(record)
        found.append((out, record))
    return found


def collect(source: Path, note: str, replace: bool = False, target: Path = REFERENCE) -> list[Path]:
    is_runs = any(source.glob(f"*/*/{results.RESULT_NAME}"))
    written = []
    for out, record in (from_runs if is_runs else from_reference)(source, target):
        if out.exists() and not replace:  # collected before, or committed before the job started
            continue
        results.write_record({**record, "note": note}, out)
        written.append(out)
        label = f"step {record['step']}" + (f" {record['overrides']}" if record["overrides"] else "")
        print(f"{out.relative_to(REFERENCE.parent) if out.is_relative_to(REFERENCE.parent) else out}: {label}, top-1 {record['top1']:.1f}%")
    return written


def main(argv=None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="another checkout's convnext_lesson/reference folder, or a runs "
                                                  "folder")
    parser.add_argument("--note", required=True)
    parser.add_argument("--replace", action="store_true", help="overwrite records this checkout already has")
    parser.add_argument("--into", default="", help="a subfolder of the reference folder for a folder of records "
                                                   "(e.g. followups, for tools/followups.py --records)")
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        parser.error(f"{args.source} is not a folder")
    return collect(args.source, args.note, args.replace, REFERENCE / args.into)


if __name__ == "__main__":
    main()
