"""Every "paper" column the course prints holds the paper's printed values (Table 10, Table 11, Table 1).

The values below are transcribed from the paper itself, independently of the package's registry, so a
typo in either the registry or a notebook's output fails here.
"""
import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest

import convnext_lesson as cl

# Table 10 (ResNet-50 regime): step -> (top-1, GFLOPs as printed, typos included)
TABLE_10 = {0: (76.13, 4.09), 1: (78.82, 4.09), 2: (79.36, 4.53), 3: (79.51, 4.42), 4: (78.28, 2.35),
            5: (80.50, 5.27), 6: (80.64, 4.64), 7: (79.92, 4.07), 8: (80.35, 4.10), 9: (80.57, 4.15),
            10: (80.57, 4.21), 11: (80.47, 4.29), 12: (80.62, 4.15), 13: (81.27, 4.15), 14: (81.41, 4.15),
            15: (81.47, 4.46), 16: (81.97, 4.49)}
# Table 11 (ResNet-200 regime, single runs)
TABLE_11 = {0: (78.20, 15.01), 1: (81.14, 15.01), 2: (81.33, 14.52), 3: (81.59, 14.38), 4: (80.54, 7.23),
            5: (81.85, 16.76), 6: (82.64, 15.68), 7: (82.04, 14.63), 8: (82.32, 14.70), 9: (82.30, 14.81),
            10: (82.27, 14.95), 11: (82.18, 15.13), 12: (82.19, 14.81), 13: (82.71, 14.81), 14: (83.17, 14.81),
            15: (83.35, 14.81), 16: (83.60, 15.35)}
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# a step_table row: "  15  BN -> LN                   25.84M   4.146   4.157 │        4.46*       81.47"
ROW = re.compile(r"^\s*(\d+)\s+.+?\s+[\d.]+M\s+[\d.]+\s+[\d.]+ │\s+([\d.]+)\*?\s+([\d.]+)$")


def table_rows(text: str) -> dict[int, tuple[float, float]]:
    """{step: (paper top-1, paper GFLOPs)} of every step_table row in a printed text."""
    rows = {}
    for line in text.splitlines():
        if match := ROW.match(line):
            rows[int(match[1])] = (float(match[3]), float(match[2]))
    return rows


@pytest.mark.parametrize("regime, table", [("resnet50", TABLE_10), ("resnet200", TABLE_11)])
def test_step_table_prints_the_papers_values(regime, table):
    out = io.StringIO()
    with redirect_stdout(out):
        cl.lesson.step_table(range(17), regime=regime)
    assert table_rows(out.getvalue()) == table


def test_the_row_pattern_reads_a_row():
    assert table_rows("  15  BN -> LN                   25.84M   4.146   4.157 │        4.46*       81.47") == {
        15: (81.47, 4.46)}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_tables_print_the_papers_values(path):
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
        table = TABLE_11 if "Table 11" in text else TABLE_10
        for step, values in table_rows(text).items():
            assert values == table[step], f"{path.name}: step {step} prints {values}, the paper {table[step]}"


def test_family_registry_holds_table_1():
    table_1 = {"T": (28.6, 4.5, 82.1), "S": (50.2, 8.7, 83.1), "B": (88.6, 15.4, 83.8), "L": (197.8, 34.4, 84.3)}
    for variant, (params, gflops, top1) in table_1.items():
        paper = cl.FAMILY[variant]
        assert (paper["paper_params_m"], paper["paper_gflops"], paper["paper_top1"]) == (params, gflops, top1)
    assert cl.FAMILY["XL"]["paper_params_m"] == 350.2 and cl.FAMILY["XL"]["paper_gflops"] == 60.9
