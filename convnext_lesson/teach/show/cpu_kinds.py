"""The same FLOPs on two kinds of CPU: the committed ``cpu-speed`` measurement, shown in notebook 09 and the README.

The cpu profile's training step with AVX-512 and with AVX2 kernels, on PyTorch's convolutions and on the course's
(model/cpu_kernels.py). One source for notebook 09 and the README (tools/results_section.py): both print these rows.
"""
from __future__ import annotations

import json
from pathlib import Path

from ...training import paths

MEASUREMENT = paths.REFERENCE / "cpu_speed" / "cpu-kernels-avx512-xeon.json"


def load(path: Path = MEASUREMENT) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def isa_label(setting: dict) -> str:
    """"AVX-512" or "AVX2 (emulated)": which kernels oneDNN and ATen were allowed, and whether that was real."""
    name = setting["isa"].split(" (")[0]
    return ("AVX-512" if name == "native" else name.upper()) + (" (emulated)" if "emulated" in setting["isa"] else "")


def rows(report: dict) -> list[dict]:
    """One row per (kind of CPU, step, path): images/s, the fraction of the fp32 matrix-product rate, and
    oneDNN's slowest kernel of that training step."""
    out = []
    for s in report["settings"]:
        for r in s["rows"]:
            if r["load"] != "quiet" or r["dtype"] != "float32":
                continue
            path = r.get("cpu_kernels", "library")
            kernels = s.get("kernels", {}).get(str(r["step"]) + ("" if path == "library" else f" {path}"), [])
            top = kernels[0] if kernels else None
            out.append({"cpu": isa_label(s), "step": r["step"], "path": path, "images_per_s": r["images_per_s"],
                        "of_matmul": r["gflops_per_s"] / s["matmul_gflops"]["float32"],
                        "slowest_kernel": (f"{top['direction']} ({top['implementation']}), "
                                           f"{top['ms_per_step']:.0f} ms" if top else "")})
    return out


def speedups(report: dict) -> dict[tuple[str, int], float]:
    """{(kind of CPU, step, path): its images/s over the library's} for the steps timed both ways."""
    rate = {(r["cpu"], r["step"], r["path"]): r["images_per_s"] for r in rows(report)}
    return {(cpu, step, path): rate[(cpu, step, path)] / rate[(cpu, step, "library")]
            for (cpu, step, path) in rate if path != "library" and (cpu, step, "library") in rate}


def provenance(report: dict) -> str:
    from ...training.cpu_speed import emulation_text
    from ...training.profiles import get_profile

    prof = get_profile("cpu")
    threads = sorted({r["threads"] for s in report["settings"] for r in s["rows"]})
    return (f"measured on {report['cpu']}, torch {report['torch']}, quiet, with `python -m convnext_lesson "
            f"cpu-speed`; each figure the median of 5 timings of 3 training steps at the cpu profile's size "
            f"(batch {prof.batch_size}, {prof.image_size} px, channels-last, {'/'.join(map(str, threads))} "
            f"threads); AVX2 emulated on the same CPU ({emulation_text('avx2')})")


def show(report: dict | None = None) -> None:
    """The table, printed with where it comes from (notebook 09)."""
    report = report or load()
    print(f"Our measurement ({provenance(report)}):\n")
    print(f"{'CPU':17s} {'step':>4s} {'kernels':9s} {'images/s':>8s} {'of matmul':>9s}  slowest kernel")
    for r in rows(report):
        print(f"{r['cpu']:17s} {r['step']:4d} {r['path']:9s} {r['images_per_s']:8.0f} {r['of_matmul']:9.2f}  "
              f"{r['slowest_kernel']}")
