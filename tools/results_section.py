"""Write the README's results tables from the committed records, so that they cannot drift from them.

    python tools/results_section.py            # print the generated parts
    python tools/results_section.py --write    # replace them in README.md (between their markers)
    python tools/results_section.py --check    # exit 1 if README.md's parts are not what the records give

Three generated parts. Between ``<!-- results: begin -->`` and ``<!-- results: end -->``: where the runs came
from, one row per step (our seeds and their mean beside the paper's top-1), the step effects with the
noise band and their reading (``teach.readings.step_effects``), the notebooks' experiments (``reference/variants/``)
and the CPU time it all took. Between ``<!-- follow-ups: begin -->`` and its end: each follow-up's
hypothesis, rule, runs and reading (``teach.readings.followups``). Between ``<!-- notebook times: begin -->`` and its end: each notebook's
measured time under ``cpu`` (``tools/time_notebooks.py``). What the numbers mean is written by hand,
outside the markers, from these tables.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from statistics import mean, median

from convnext_lesson.model.roadmap import roadmap_steps
from convnext_lesson.teach.readings.followups import FOLLOWUPS, FOLLOWUPS_DIR, followups_text
from convnext_lesson.teach.show.roadmap_figure import run_label
from convnext_lesson.teach.readings.step_effects import effects_table, label_as_run
from convnext_lesson.training.results import find_records

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "convnext_lesson" / "reference"
README = ROOT / "README.md"
TIMES = REFERENCE / "notebook_times" / "cpu"
SPEED = REFERENCE / "cpu_speed"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def steps_table(records: list[dict]) -> str:
    """One row per roadmap step: our seeds' top-1, their mean, the paper's, the time per run."""
    lines = ["| step | change | params | seeds | top-1 per seed (ours) | mean (ours) | paper top-1 | time per run |",
             "| ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |"]
    for step in roadmap_steps("resnet50"):
        runs = sorted((r for r in records if r["step"] == step.index), key=lambda r: r["seed"])
        if not runs:
            lines.append(f"| {step.index} | {step.label} | | 0 | not run yet | | {step.paper_top1:.2f} | |")
            continue
        tops = ", ".join(f"{r['top1']:.1f}" for r in runs)
        lines.append(f"| {step.index} | {label_as_run(step, runs)} | {runs[0]['params'] / 1e6:.2f}M | {len(runs)} | {tops} | "
                     f"{mean(r['top1'] for r in runs):.1f} | {step.paper_top1:.2f} | "
                     f"{minutes(median(r['wall_time_s'] for r in runs))} |")
    return "\n".join(lines)


def variants_table(variants: list[dict], records: list[dict]) -> str:
    """The notebooks' experiments: a step with one change, beside that step's own seed-0 run."""
    plain = {(r["step"], r["seed"]): r for r in records}
    lines = ["| step | changed | top-1 (ours) | the step itself, same seed | difference | time |",
             "| ---: | --- | ---: | ---: | ---: | ---: |"]
    for v in sorted(variants, key=lambda v: (v["step"], str(v["overrides"]))):
        changed = ", ".join(f"{k}={val}" for k, val in v["overrides"].items())
        base = plain.get((v["step"], v["seed"]))
        other_cpu = " (another CPU)" if base and base["device"] != v["device"] else ""
        versus = (f"{base['top1']:.1f}{other_cpu} | {v['top1'] - base['top1']:+.1f}" if base else "not run yet | ")
        lines.append(f"| {v['step']} | {changed} | {v['top1']:.1f} | {versus} | {minutes(v['wall_time_s'])} |")
    return "\n".join(lines)


def section(records: list[dict], variants: list[dict]) -> str:
    if not records:
        return "No reference runs are committed yet."
    steps_run = {r["step"] for r in records}
    every = records + variants
    total = sum(r["wall_time_s"] for r in every)
    parts = [f"Runs: {run_label(records)}. Recipe: the original one for step 0, the scaled modern one "
             "for steps 1-16 (\"Choosing the short-run recipe\").",
             f"**Each step, ours beside the paper's** ({len(steps_run)} of {len(roadmap_steps('resnet50'))} "
             f"steps run, {len(records)} runs):",
             steps_table(records),
             "**What each step changed** (its top-1 minus that of the step it changes; the band is twice the "
             "standard deviation of that difference, from the seed repeats):",
             effects_table(records)]
    if variants:
        parts += ["**The notebooks' experiments** (one change to a step, the same profile and seed; \"another CPU\": "
                  "the step's own run was trained on another kind of CPU, whose rounding alone moves a run, so the "
                  "difference is not the change's alone, docs/findings.md):",
                  variants_table(variants, records)]
    parts.append(f"CPU time: {len(every)} runs, {total / 3600:.1f} h of training in all (wall time, as recorded; "
                 f"a run's `note` says when other work shared the machine).")
    return "\n\n".join(parts)


def notebook_times(records: list[dict]) -> str:
    """Each notebook's measured time under cpu, with the runs it trained and the machine."""
    if not records:
        return "No notebook has been timed under `cpu` yet."
    lines = ["| notebook | `cpu`, measured | runs trained in it | runs already in the runs folder | device | date |",
             "| --- | ---: | ---: | ---: | --- | --- |"]
    for r in sorted(records, key=lambda r: r["notebook"]):
        lines.append(f"| {r['notebook']} | {minutes(r['wall_time_s'])} | {len(r['trained'])} | "
                     f"{len(r['runs_already_there'])} | {r['device']} | {r['started_at'][:10]} |")
    total = sum(r["wall_time_s"] for r in records)
    return "\n".join(lines) + f"\n\nThe {len(records)} notebooks above, one after another: {minutes(total)}."


def generated() -> dict[str, str]:
    """{marker name: its generated Markdown}."""
    records = [r for r in find_records(REFERENCE / "runs") if r["profile"] == "cpu" and r["regime"] == "resnet50"]
    variants = [r for r in find_records(REFERENCE / "variants") if r["profile"] == "cpu"]
    times = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(TIMES.glob("*.json"))]
    return {"results": section(records, variants), "follow-ups": followups(), "step 16 parts": step16_parts(),
            "notebook times": notebook_times(times), "cpu speed": cpu_speed(), "recipe search": recipe_search()}


def cpu_speed() -> str:
    """The committed cpu-speed measurements: threads on a busy machine (and THREAD_RULE's reading), bf16, and
    the AVX2 paths with oneDNN's slowest kernels."""
    from convnext_lesson.teach.readings import bf16
    from convnext_lesson.training.cpu_speed import THREAD_RULE, emulation_text, thread_reading

    threads = json.loads((SPEED / "threads-avx512-xeon.json").read_text(encoding="utf-8"))
    native = next(s for s in threads["settings"] if s["isa"] == "native" and s["wait_policy"] == "default")
    default = max(r["threads"] for r in native["rows"])
    quiet = {(r["step"], r["dtype"]): r["images_per_s"] for r in native["rows"]
             if r["load"] == "quiet" and r["threads"] == default}
    lines = [f"Measured on {threads['cpu']}, torch {threads['torch']}, each figure the median of 5 timings of 3 "
             f"training steps (`python -m convnext_lesson cpu-speed`); today's setting trains step 1 at "
             f"{quiet[(1, 'float32')]:.0f} and step 16 at {quiet[(16, 'float32')]:.0f} images/s, quiet.", "",
             f"*Threads, rule (written before the measurement):* {THREAD_RULE}", "",
             "| threads | OpenMP wait | quiet, step 1 / 16 | beside a busy process, step 1 / 16 | passes |",
             "| ---: | --- | --- | --- | --- |"]
    for c in thread_reading(threads):
        verdict = " and ".join(k for k, ok in (("quiet", c["passes_quiet"]), ("busy", c["passes_busy"])) if ok)
        lines.append(f"| {c['threads']} | {c['wait_policy']} | {c['quiet'][1]:.2f} / {c['quiet'][16]:.2f} | "
                     f"{c['busy'][1]:.2f} / {c['busy'][16]:.2f} | {verdict or 'neither'} |")
    lines += ["", "(Speeds as fractions of today's quiet speed: torch's default threads, OpenMP's default wait.)", ""]
    if (1, "bfloat16") in quiet:
        ups = {s: quiet[(s, "bfloat16")] / quiet[(s, "float32")] for s in bf16.STEPS}
        read = bf16.reading(ups)
        lines += [f"*bf16 autocast, quiet:* step 1 {quiet[(1, 'bfloat16')]:.0f} images/s ({ups[1]:.2f}x fp32), "
                  f"step 16 {quiet[(16, 'bfloat16')]:.0f} ({ups[16]:.2f}x); the matrix product "
                  f"{native['matmul_gflops']['bfloat16']:.0f} against {native['matmul_gflops']['float32']:.0f} "
                  "GFLOP/s.", "", f"*bf16, rule (written before the runs):* {bf16.RULE}", ""]
        lines += [f"- step {s}: bf16 {', '.join(f'{t:.1f}' for t in r['bf16'])} against fp32 "
                  f"{', '.join(f'{t:.1f}' for t in r['fp32'])}: {r['difference']:+.1f} points (band ±{r['band']:.1f})"
                  for s, r in read["rows"].items()]
        lines += ["", f"*bf16, decision:* {read['decision']}.", ""]
    steps = json.loads((SPEED / "steps-avx512-xeon.json").read_text(encoding="utf-8"))
    loop = {(s["isa"].split(" (")[0], r["step"], r.get("cpu_kernels", "library")): r["images_per_s"]
            for s in steps["settings"] for r in s["rows"] if r["load"] == "quiet" and r["dtype"] == "float32"}
    quiet_loop = {step: v for (isa, step, kernels), v in loop.items() if isa == "native" and kernels == "library"}
    ladder = [r for r in find_records(REFERENCE / "runs") if r["profile"] == "cpu" and r["regime"] == "resnet50"]
    lines += [f"*Time per step, quiet and as recorded.* The training loop of every step, quiet, on {steps['cpu']} "
              "(cpu-speed), with its own AVX-512 kernels and held to AVX2 ones (an emulation: "
              f"{emulation_text('avx2')}), on PyTorch's convolutions (library) and on the course's (course; a "
              "run's auto takes them where they are faster, in the steps with depthwise convolutions, 4-16), "
              "beside what the ladder's records measured over their whole runs (library; mean over seeds; a "
              "record with a note was trained while the machine did other work, which lowers its speed):", "",
              "| step | AVX-512 loop, library / course, images/s | AVX2 (emulated) loop, library / course | "
              "records: images/s | records: minutes a run | records: machine | records with a note (not quiet) |",
              "| ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for step in sorted(quiet_loop):
        rs = [r for r in ladder if r["step"] == step]
        devices = sorted({r["device"].split("(", 1)[1].split(",")[1].strip() for r in rs})
        pair = {isa: " / ".join(f"{loop[(isa, step, k)]:.0f}" if (isa, step, k) in loop else "-"
                                for k in ("library", "course")) for isa in ("native", "avx2")}
        lines.append(f"| {step} | {pair['native']} | {pair['avx2']} | {mean(r['images_per_s'] for r in rs):.0f} | "
                     f"{mean(r['wall_time_s'] for r in rs) / 60:.1f} | {', '.join(devices)} | "
                     f"{sum(bool(r.get('note')) for r in rs)} of {len(rs)} |")
    return "\n".join(lines + ["", cpu_kernels()])


def cpu_kernels() -> str:
    """AVX-512 against AVX2 kernels, each on PyTorch's convolutions and on the course's; auto's rule; the checks."""
    from convnext_lesson.teach.readings import cpu_kernels as checks
    from convnext_lesson.teach.show import cpu_kinds
    from convnext_lesson.training.kernel_choice import AUTO_RULE

    report = cpu_kinds.load()
    lines = [f"*AVX-512 and AVX2 kernels, PyTorch's convolutions and the course's* ({cpu_kinds.provenance(report)}; "
             "`library`: PyTorch's convolutions, `folded`: the depthwise weight gradient as a forward convolution, "
             "`course`: that and the pointwise convolutions as matrix products; the slowest kernel is oneDNN's, "
             "which does not see the matrix products):", "",
             "| kernels allowed | step | CPU kernels | images/s | of the fp32 matrix-product rate | "
             "oneDNN's slowest kernel (a step) |", "| --- | ---: | --- | ---: | ---: | --- |"]
    lines += [f"| {r['cpu']} | {r['step']} | {r['path']} | {r['images_per_s']:.0f} | {r['of_matmul']:.2f} | "
              f"{r['slowest_kernel']} |" for r in cpu_kinds.rows(report)]
    ups = cpu_kinds.speedups(report)
    lines += ["", "Against PyTorch's convolutions: " + "; ".join(
        f"{cpu} step {step} {path} {up:.2f}x" for (cpu, step, path), up in sorted(ups.items())) + ".", "",
        f"*auto, rule (written before the runs):* {AUTO_RULE}"]
    for check, rule in checks.RULES.items():
        read = checks.reading(check)
        lines += ["", f"*Do the `{check}` kernels keep the results? Rule (written before the runs):* {rule}", ""]
        lines += [f"- {arm}: {', '.join(f'{t:.1f}' for t in r['tops'])} against the library's "
                  f"{', '.join(f'{t:.1f}' for t in r['library'])}: {r['difference']:+.1f} points "
                  f"(band ±{r['band']:.1f})" for arm, r in read["rows"].items()]
        lines += ["", f"*Reading:* {read['decision']}."]
    return "\n".join(lines)


def step16_parts() -> str:
    """Step 16 taken apart: each part's runs, the hypothesis, the rule fixed before the runs and its reading."""
    from convnext_lesson.teach.readings import step16_parts as parts

    runs = find_records(parts.PARTS_DIR)
    read = parts.reading()
    return "\n\n".join([
        parts.parts_table(),
        f"*Hypothesis (written before the runs):* {parts.HYPOTHESIS}",
        f"*Rule:* {parts.RULE} {parts.START_RULE}",
        f"*Decision rule:* {parts.DECISION_RULE}",
        f"*Reading:* {read['hypothesis']}. *Which part of the start:* {read['start']}.",
        f"*Decision:* {parts.decision()}.",
        f"*The ConvNeXt shape at the cpu profile:* {parts.goal()}.",
        f"Runs of the parts so far (beside the ladder's): {len(runs)}, "
        f"{sum(r['wall_time_s'] for r in runs) / 3600:.1f} h of training."])


def followups() -> str:
    """The follow-ups' readings, and the CPU time their runs took."""
    runs = [r for name in FOLLOWUPS for r in find_records(FOLLOWUPS_DIR / name)]  # the parts are counted apart
    hours = sum(r["wall_time_s"] for r in runs) / 3600
    return followups_text() + f"\n\nFollow-up runs so far: {len(runs)}, {hours:.1f} h of training."


def recipe_search() -> str:
    """The recipe search: one row per finished variant, its provenance, and each variant against ``base``."""
    from convnext_lesson.teach.show import recipe_demo as rd

    rows, missing = rd.recipe_search_rows()
    if not rows:
        return "No recipe-search run is committed yet."
    steps = rd.RECIPE_SEARCH_STEPS
    lines = ["| variant | recipe changes | " + " | ".join(f"step {s} top-1" for s in steps) + " | mean |",
             "| --- | --- | " + " | ".join("---:" for _ in steps) + " | ---: |"]
    for row in rows:
        lines.append(f"| {row['variant']} | {rd._changes_text(row['changes'])} | "
                     + " | ".join(f"{row['top1'][s]:.1f}%" for s in steps)
                     + f" | {sum(row['top1'].values()) / len(steps):.1f}% |")
    provenance = "; ".join(f"{device}, profile {profile}, {dataset} at {px} px, {epochs} epochs, seed "
                           f"{', '.join(map(str, seeds))}"
                           for device, profile, dataset, px, epochs, seeds in sorted({r["provenance"] for r in rows}))
    against = [f"- `{c['variant']}` against `base`: {rd.comparison_text(c)}" for c in rd.recipe_search_against_base()]
    note = rd.recipe_search_build_note()
    against = "\n".join(against + ([f"- {note}"] if note else []))
    text = "\n".join(lines) + f"\n\nRuns: {provenance}; one run per cell.\n\n{against}"
    if missing:
        text += "\n\nNot run yet: " + ", ".join(missing) + "."
    return text


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}: begin -->", f"<!-- {name}: end -->"


def readme_part(text: str, name: str) -> str:
    begin, end = markers(name)
    if begin not in text or end not in text:
        raise SystemExit(f"README.md lacks the {begin} / {end} markers")
    return text.split(begin, 1)[1].split(end, 1)[0].strip()


def replace_part(text: str, name: str, new: str) -> str:
    readme_part(text, name)  # the markers are there
    begin, end = markers(name)
    head, rest = text.split(begin, 1)
    return f"{head}{begin}\n{new}\n{end}{rest.split(end, 1)[1]}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="replace the generated part of README.md")
    action.add_argument("--check", action="store_true", help="exit 1 if README.md's part is out of date")
    args = parser.parse_args(argv)
    parts = generated()
    text = README.read_text(encoding="utf-8")
    if args.check:
        stale = [name for name, new in parts.items() if readme_part(text, name) != new]
        if stale:
            print(f"README.md's {' and '.join(stale)} tables are not what the committed records give: run "
                  "python tools/results_section.py --write", file=sys.stderr)
            return 1
        return 0
    if args.write:
        for name, new in parts.items():
            text = replace_part(text, name, new)
        README.write_text(text, encoding="utf-8")
        print(f"README.md: {', '.join(parts)} written from the committed records")
        return 0
    print("\n\n".join(parts.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
