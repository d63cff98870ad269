"""The README's results tables are generated from the committed records and checked against them."""
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
tool = runpy.run_path(str(ROOT / "tools" / "results_section.py"))


def record(step, seed, top1, overrides=None, wall=600.0):
    return {"step": step, "seed": seed, "top1": top1, "overrides": overrides or {}, "wall_time_s": wall,
            "params": 4_140_000, "regime": "resnet50", "profile": "cpu", "device": "cpu (2 cores, AMD EPYC, AVX2)",
            "dataset": {"name": "imagenette"}, "image_size": 64, "epochs": 4 if step == 0 else 12,
            "recipe": "original" if step == 0 else "modern"}


def test_steps_table_has_every_step_and_says_which_were_not_run():
    table = tool["steps_table"]([record(1, 0, 74.0), record(1, 1, 74.5, wall=660.0), record(3, 0, 71.0)])
    rows = table.splitlines()[2:]
    assert len(rows) == 17
    assert rows[1] == "| 1 | modern training recipe | 4.14M | 2 | 74.0, 74.5 | 74.2 | 78.82 | 10.5 min |"
    assert rows[2] == "| 2 | stage ratio | | 0 | not run yet | | 79.36 | |"


def test_variants_are_compared_with_their_own_step_and_seed():
    records = [record(9, 0, 60.0)]
    table = tool["variants_table"]([record(9, 0, 61.5, {"kernel_size": 13}), record(6, 0, 58.0, {"expansion": 2})],
                                   records)
    assert "| 9 | kernel_size=13 | 61.5 | 60.0 | +1.5 | 10.0 min |" in table
    assert "| 6 | expansion=2 | 58.0 | not run yet |  | 10.0 min |" in table
    elsewhere = {**record(9, 0, 55.0, {"kernel_size": 3}), "device": "cpu (2 cores, Intel Xeon, AVX512)"}
    assert "| 9 | kernel_size=3 | 55.0 | 60.0 (another CPU) | -5.0 | 10.0 min |" in tool["variants_table"]([elsewhere],
                                                                                                    records)


def test_section_totals_every_run_and_names_the_provenance():
    text = tool["section"]([record(0, 0, 44.0, wall=200), record(1, 0, 74.0, wall=700)],
                           [record(1, 0, 70.0, {"expansion": 2}, wall=900)])
    assert "cpu (2 cores, AMD EPYC, AVX2), profile cpu, imagenette at 64 px, 12 epochs + step 0: 4, seed 0" in text
    assert "3 runs, 0.5 h of training in all" in text
    assert "| 1 | modern training recipe | 0 | +2.69 | +30.0 | unknown | 1 / 1 | same sign as the paper, noise not measured yet |" in text
    assert tool["section"]([], []) == "No reference runs are committed yet."


def test_readme_tables_are_what_the_committed_records_give():
    assert tool["main"](["--check"]) == 0, "run: python tools/results_section.py --write"


def test_notebook_times_table():
    assert tool["notebook_times"]([]) == "No notebook has been timed under `cpu` yet."
    row = {"notebook": "01_resnet50", "wall_time_s": 157.9, "trained": {"a": {}}, "runs_already_there": [],
           "device": "cpu (2 cores, AMD EPYC, AVX512)", "started_at": "2026-12-03T13:58:30+00:00"}
    assert tool["notebook_times"]([row]).splitlines()[2] == (
        "| 01_resnet50 | 2.6 min | 1 | 0 | cpu (2 cores, AMD EPYC, AVX512) | 2026-12-03 |")
