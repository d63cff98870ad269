"""Redraw the README's roadmap picture from committed run records: the paper's roadmap beside ours,
one row per step as in the paper's Figure 2.

    python tools/roadmap_picture.py                       # the package's cpu reference runs -> docs/roadmap.png
    python tools/roadmap_picture.py --records DIR --out PNG
"""
from __future__ import annotations

import argparse
from pathlib import Path

from convnext_lesson.training.results import REFERENCE_DIR, find_records
from convnext_lesson.teach.show.roadmap_figure import roadmap_figure
from convnext_lesson.teach.readings.step16_parts import paper_start_tops

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=Path, default=REFERENCE_DIR, help="folder of run records")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "roadmap.png")
    args = parser.parse_args(argv)
    records = find_records(args.records)
    if not records:
        parser.error(f"no run records in {args.records}")
    # one panel of ours: networks of one profile on one dataset and resolution (epochs follow the recipe:
    # step 0's original recipe trains 90/300 of the modern one's, as in the paper)
    sizes = {(r["profile"], r["dataset"]["name"], r["image_size"]) for r in records}
    if len(sizes) > 1:
        parser.error(f"the records in {args.records} come from runs of different sizes (profile, dataset, px): "
                     f"{sorted(sizes)}; keep one size per folder")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    profile = sorted(sizes)[0][0]
    roadmap_figure(records, paper_start=paper_start_tops(profile)).savefig(args.out, dpi=100, bbox_inches="tight")
    print(f"{args.out}: the paper's roadmap beside {len(records)} runs ({', '.join(map(str, sorted(sizes)[0]))})")
    return args.out


if __name__ == "__main__":
    main()
