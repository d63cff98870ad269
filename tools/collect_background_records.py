"""Copy the records a background job published in another checkout into this one, with a note.

    python tools/collect_background_records.py SRC_REFERENCE_DIR --note "the machine was busy ..."

A background job (the recipe search, a ladder) runs from a checkout of its own commit so that edits
here cannot change what it trains; its new records are copied here as they finish (a record this checkout
already has is left alone, note and all). ``--note`` records what
the record itself cannot know, for example that other work shared the CPU, so its wall time is longer
than the profile's speed gives.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from convnext_lesson.training import results

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the other checkout's convnext_lesson/reference folder")
    parser.add_argument("--note", required=True)
    args = parser.parse_args(argv)
    target = ROOT / "convnext_lesson" / "reference"
    for path in sorted(args.source.rglob("*.json")):
        record = results.read_record(path)
        record = {**record, "note": args.note}
        out = target / path.relative_to(args.source)
        if out.exists():  # collected before, or committed before the job started: its note stays as it is
            continue
        results.write_record(record, out)
        print(f"{out.relative_to(ROOT)}: step {record['step']}, top-1 {record['top1']:.1f}%")


if __name__ == "__main__":
    main()
