"""How fast this CPU trains the course's networks, and why: a measurement a lab can run on each of its machines.

    python -m convnext_lesson cpu-speed                      # steps 1, 15, 16 as the cpu profile trains them
    python -m convnext_lesson cpu-speed --busy --threads 1 2 --wait-policy default passive
    python -m convnext_lesson cpu-speed --isa native avx2 --kernels --out cpu-speed.json
    python -m convnext_lesson cpu-speed --cpu-kernels library course   # PyTorch's convolutions and the course's

For each setting it times the training step (forward, backward, update, as the Trainer runs it) of the ``cpu``
profile's networks at its size, against this machine's fp32 (and bf16) matrix-product rate: how much of what
the arithmetic units can do the loop gets. ``--busy`` repeats each timing beside one spinning process (a
laptop doing something else); ``--threads`` and ``--wait-policy`` (OpenMP's: how idle threads wait) are the
settings that decide how two threads share a busy machine. ``--isa avx2`` makes oneDNN, ATen and MKL take their
AVX2 paths on an AVX-512 machine (an emulation of a laptop's CPU: said so in the output); ``--kernels`` adds
oneDNN's own timing of each convolution kernel (which implementation, forward or which gradient).

Every setting that must be fixed before torch starts (the ISA, the wait policy, oneDNN's verbose mode) runs in
a process of its own.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager

# How the cpu profile's threads are chosen (issue: a run beside a busy process fell to 0.31x), fixed before the
# measurement that reads it (tools/cpu_speed_decision.py applies it to the committed cpu-speed output).
THREAD_RULE = (
    "Candidates: torch's default thread count with OpenMP's default wait policy (today's setting), the same "
    "with OMP_WAIT_POLICY=PASSIVE, and one thread with each wait policy. Measured by cpu-speed on steps 1 and 16, "
    "quiet and beside one spinning process. A candidate passes if, on both steps, beside the busy process it "
    "keeps at least 0.6x of today's quiet speed, and quiet it is within 5% of today's quiet speed. Of those "
    "that pass, the one fastest beside the busy process is chosen. If none passes, the run adapts: it takes the "
    "candidate that passes the busy half of the test when another process keeps a core busy as it starts, "
    "today's setting otherwise, and says which it took and why.")

# The AVX2 emulation holds each library that picks kernels by CPU to AVX2: oneDNN (convolutions), ATen (its own
# vectorised ops) and MKL (matrix products: without its cap, a matrix product ran at the AVX-512 rate).
ISA_ENV = {"native": {}, "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2",
                                  "MKL_ENABLE_INSTRUCTIONS": "AVX2"}}


def emulation_text(isa: str) -> str:
    """How an ISA other than the CPU's own was emulated, in words (for the output and the records)."""
    return ", ".join(f"{k}={v}" for k, v in ISA_ENV[isa].items())
WAIT_ENV = {"default": {}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"}}
STEPS = (1, 15, 16)


def matmul_gflops(dtype_name: str = "float32", n: int = 2048, repeats: int = 5) -> float:
    """The best of ``repeats`` timings of an n x n matrix product: what the arithmetic units can do."""
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b  # warm-up
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def cpu_has_native_bf16() -> bool:
    """AVX-512 BF16 or AMX: bf16 arithmetic in hardware (elsewhere torch emulates it, slowly)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def train_step_speed(step: int, dtype_name: str = "float32", warmup: int = 3, repeats: int = 5,
                     iters_per_repeat: int = 3, cpu_kernels: str = "library") -> dict:
    """Images/s of one training step of roadmap ``step`` as the ``cpu`` profile trains it (its network, image
    size, batch and memory layout), and the GFLOP/s that makes (forward and backward, 3x the forward's MACs x 2).
    ``cpu_kernels``: how depthwise and pointwise convolutions are computed (model/cpu_kernels.py)."""
    import torch

    from ..model.counting import count_flops
    from ..model.cpu_kernels import set_kernels
    from ..model.network import Network
    from ..model.roadmap import get_step
    from .benchmark import measure_throughput
    from .plan import short_run_start
    from .profiles import get_profile, scale_config

    prof = get_profile("cpu")
    cfg = short_run_start(scale_config(get_step(step).config, prof.width_mult, prof.depth_mult))
    torch.manual_seed(0)
    net = Network(cfg, 10)
    set_kernels(net, cpu_kernels)
    gflop_per_image = 3 * 2 * count_flops(Network(cfg, 10), prof.image_size)  # fwd + bwd ~ 3 fwd; MAC = 2 FLOP
    dtype = getattr(torch, dtype_name)
    result = measure_throughput(net, mode="train", batch_size=prof.batch_size, image_size=prof.image_size,
                                device="cpu", dtype=dtype, channels_last=prof.channels_last, warmup=warmup,
                                repeats=repeats, iters_per_repeat=iters_per_repeat)
    return {"images_per_s": result.images_per_s, "spread": result.spread,
            "gflops_per_s": result.images_per_s * gflop_per_image}


@contextmanager
def busy_machine(busy: bool):
    """One other process spinning on a core for the block (``busy``), as a laptop doing something else."""
    if not busy:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        yield
    finally:
        spinner.kill()
        spinner.wait()


def has_depthwise(step: int) -> bool:
    from ..model.roadmap import get_step

    return get_step(step).config.depthwise


def measure(steps, threads, busy: bool, bf16: bool, kernel_choices=("library",)) -> dict:
    """This process's measurements (its ISA and wait policy were fixed by its environment). Paths other than the
    library's are timed in float32 ("folded" only on steps with depthwise convolutions: elsewhere it is the
    library's)."""
    from ..model.threads import cpu_threads

    dtypes = ["float32"] + (["bfloat16"] if bf16 else [])
    out = {"matmul_gflops": {d: matmul_gflops(d) for d in dtypes}, "rows": []}
    for step in steps:
        for count in threads:
            for load in (["quiet", "busy"] if busy else ["quiet"]):
                for dtype in dtypes:
                    for path in kernel_choices:
                        if not _applies(path, step, dtype):
                            continue
                        with cpu_threads(count), busy_machine(load == "busy"):
                            speed = train_step_speed(step, dtype, cpu_kernels=path)
                        out["rows"].append({"step": step, "threads": count, "load": load, "dtype": dtype,
                                            "cpu_kernels": path, **speed})
    return out


def _applies(path: str, step: int, dtype: str = "float32") -> bool:
    return path == "library" or (dtype == "float32" and (path == "course" or has_depthwise(step)))


def run_for_kernels(step: int, iterations: int = 3, cpu_kernels: str = "library") -> None:
    """``iterations`` training steps between two markers, for oneDNN's verbose timing of each primitive (set
    ONEDNN_VERBOSE=1 before torch starts: a process of its own; ``parse_onednn_verbose`` reads it)."""
    import torch

    from ..model.cpu_kernels import set_kernels
    from ..model.network import Network
    from ..model.roadmap import get_step
    from .engine import forward_backward
    from .plan import short_run_start
    from .profiles import get_profile, scale_config

    prof = get_profile("cpu")
    net = Network(short_run_start(scale_config(get_step(step).config, prof.width_mult, prof.depth_mult)), 10)
    net = net.to(memory_format=torch.channels_last)
    set_kernels(net, cpu_kernels)
    x = torch.randn(prof.batch_size, 3, prof.image_size, prof.image_size).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (prof.batch_size,))
    for _ in range(2):  # warm-up: oneDNN creates its primitives
        forward_backward(net, x, y, torch.nn.functional.cross_entropy)
    print("== timed", flush=True)
    for _ in range(iterations):
        forward_backward(net, x, y, torch.nn.functional.cross_entropy)
    print("== done", flush=True)


def parse_onednn_verbose(text: str, iterations: int) -> list[dict]:
    """Milliseconds per training step of each (primitive, implementation, direction) in oneDNN's verbose lines
    printed between ``== timed`` and ``== done``."""
    totals: dict[tuple, float] = {}
    timed = False
    for line in text.splitlines():
        if line.startswith("== "):
            timed = line == "== timed"
            continue
        parts = line.split(",")
        if not timed or not line.startswith("onednn_verbose") or "exec" not in parts:
            continue
        at = parts.index("exec")
        try:
            key, ms = (parts[at + 2], parts[at + 3], parts[at + 4]), float(parts[-1])
        except (IndexError, ValueError):
            continue
        totals[key] = totals.get(key, 0.0) + ms
    rows = [{"primitive": k[0], "implementation": k[1], "direction": k[2], "ms_per_step": v / iterations}
            for k, v in totals.items()]
    return sorted(rows, key=lambda r: -r["ms_per_step"])


def _child(args: list[str], env: dict) -> str:
    result = subprocess.run([sys.executable, "-m", "convnext_lesson.training.cpu_speed", *args],
                            env={**os.environ, **env}, capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"the measurement failed: {result.stderr[-2000:]}")
    return result.stdout


def run(steps=STEPS, threads=(None,), isas=("native",), wait_policies=("default",), busy: bool = False,
        bf16: bool | None = None, kernels: bool = False, kernel_choices=("library",)) -> dict:
    """Every requested setting, each (ISA, wait policy) in a process of its own; the result as one dict."""
    import torch

    from .runtime import cpu_description

    bf16 = cpu_has_native_bf16() if bf16 is None else bf16
    threads = [t or torch.get_num_threads() for t in threads]
    report = {"cpu": cpu_description(), "torch": torch.__version__, "native_bf16": cpu_has_native_bf16(),
              "settings": []}
    for isa in isas:
        for wait in wait_policies:
            spec = {"steps": list(steps), "threads": threads, "busy": busy, "bf16": bf16,
                    "kernel_choices": list(kernel_choices)}
            found = json.loads(_child(["--worker", json.dumps(spec)], {**ISA_ENV[isa], **WAIT_ENV[wait]}).splitlines()[-1])
            entry = {"isa": isa + (f" (emulated: {emulation_text(isa)})" if isa != "native" else ""),
                     "wait_policy": wait, **found}
            if kernels:
                entry["kernels"] = {
                    f"{step}" + ("" if path == "library" else f" {path}"): parse_onednn_verbose(_child(
                        ["--kernels", str(step), path], {**ISA_ENV[isa], **WAIT_ENV[wait], "ONEDNN_VERBOSE": "1"}), 3)
                    for step in steps for path in kernel_choices if _applies(path, step)}
            report["settings"].append(entry)
    return report


def _path(row: dict) -> str:
    """A row's CPU kernels (reports from before the choice existed: the library's)."""
    return row.get("cpu_kernels", "library")


def format_report(report: dict) -> str:
    lines = [f"{report['cpu']}, torch {report['torch']}, native bf16: {'yes' if report['native_bf16'] else 'no'}"]
    for s in report["settings"]:
        peak = s["matmul_gflops"]
        lines += ["", f"ISA {s['isa']}, OpenMP wait policy {s['wait_policy']}: matrix product "
                  + ", ".join(f"{d} {g:.0f} GFLOP/s" for d, g in peak.items()),
                  "step threads load   dtype     kernels         img/s  spread  GFLOP/s  of the matmul rate  busy/quiet"]
        quiet = {(r["step"], r["threads"], r["dtype"], _path(r)): r["images_per_s"]
                 for r in s["rows"] if r["load"] == "quiet"}
        for r in s["rows"]:
            ratio = (f"{r['images_per_s'] / quiet[(r['step'], r['threads'], r['dtype'], _path(r))]:.2f}"
                     if r["load"] == "busy" else "")
            lines.append(f"{r['step']:>4} {r['threads']:>7} {r['load']:<6} {r['dtype']:<9} {_path(r):<14} "
                         f"{r['images_per_s']:6.0f} "
                         f"{r['spread']:6.0%} {r['gflops_per_s']:8.0f}  {r['gflops_per_s'] / peak[r['dtype']]:18.2f}"
                         f"  {ratio:>10}")
        for step, rows in s.get("kernels", {}).items():
            total = sum(r["ms_per_step"] for r in rows)
            lines.append(f"  step {step}, oneDNN's kernels ({total:.0f} ms a training step in all), the largest:")
            lines += [f"    {r['ms_per_step']:7.1f} ms  {r['primitive']} {r['direction']} ({r['implementation']})"
                      for r in rows[:6]]
    return "\n".join(lines)


def thread_reading(report: dict, steps=(1, 16)) -> list[dict]:
    """``THREAD_RULE`` applied to a cpu-speed report measured with ``--busy``, several thread counts and both
    wait policies: per candidate (threads, wait policy), its quiet and busy speeds as fractions of today's quiet
    speed (torch's default threads, default wait policy) on each step, and whether it passes each half."""
    native = [s for s in report["settings"] if s["isa"] == "native"]
    speed = {(s["wait_policy"], r["threads"], r["step"], r["load"]): r["images_per_s"]
             for s in native for r in s["rows"] if r["dtype"] == "float32" and _path(r) == "library"}
    default = max(t for (_, t, _, _) in speed)  # torch's default: one thread per core
    today = {step: speed[("default", default, step, "quiet")] for step in steps}
    out = []
    for wait, threads in sorted({(w, t) for (w, t, _, _) in speed}, key=lambda c: (c[0] != "default", -c[1])):
        quiet = {st: speed[(wait, threads, st, "quiet")] / today[st] for st in steps}
        busy = {st: speed[(wait, threads, st, "busy")] / today[st] for st in steps}
        out.append({"threads": threads, "wait_policy": wait, "quiet": quiet, "busy": busy,
                    "passes_quiet": all(v >= 0.95 for v in quiet.values()),
                    "passes_busy": all(v >= 0.6 for v in busy.values())})
    return out


def _worker(argv: list[str]) -> None:
    if argv[0] == "--worker":
        spec = json.loads(argv[1])
        print(json.dumps(measure(spec["steps"], spec["threads"], spec["busy"], spec["bf16"],
                                 spec.get("kernel_choices", ["library"]))))
    elif argv[0] == "--kernels":
        run_for_kernels(int(argv[1]), cpu_kernels=argv[2] if len(argv) > 2 else "library")


if __name__ == "__main__":
    _worker(sys.argv[1:])
