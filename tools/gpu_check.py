"""The GPU check, ready for the day a GPU is lent: one script, under 8 minutes on an H100, results as JSON.

    python tools/gpu_check.py --out gpu_check.json            # on a CUDA machine
    python tools/gpu_check.py --dry-run --out check.json      # here, on the CPU: every part at toy sizes

What it runs, each part timed and recorded whatever the others do:

1. ``trainer-tests``: the trainer's and the GPU paths' tests (tests/test_training.py, tests/test_gpu_paths.py),
   which train on CUDA there because the default device is CUDA.
2. ``ladder-full``: steps 0, 1 and 16 under the ``full`` profile for one epoch, on the tiny Imagenette sample
   that ships with the package (the full pack does not fit beside the repository in what a device call carries).
3. ``throughput``: train-step images/s of step 1 and step 16 against torchvision's ResNet-50 and ConvNeXt-T,
   fp32 and bf16, channels-last, eager and compiled (``benchmark.measure_throughput``, which sets cuDNN's
   autotuner and TF32 as training does and resets dynamo for each network).
4. ``resume``: two epochs straight against one epoch, an interruption, and a resume: the largest difference of
   any weight (on a CPU zero; on a GPU cuDNN's kernel choice and atomic adds may make it small, not zero).
5. ``oom``: a real out-of-memory error (step 16 at a batch no GPU holds) that the trainer must survive by
   halving its micro-batch; the record says the micro-batch it settled on.

The GPU machine has no network and no fvcore: carry the wheels that ``tools/gpu_check_wheels.sh`` builds into
``.whl/`` and install them there first (the script's header says how).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def trainer_tests(dry: bool) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/test_training.py",
           "tests/test_gpu_paths.py"] + (["-k", "nan_loss or precision"] if dry else [])
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    return {"passed": proc.returncode == 0, "summary": proc.stdout.strip().splitlines()[-1:]}


def ladder_full(dry: bool, runs: Path) -> dict:
    import convnext_lesson as cl

    out = {}
    for step in (0, 1, 16):
        run = cl.train(step, profile="smoke" if dry else "full", dataset="imagenette-tiny", epochs=1,
                       out_dir=runs / "ladder", progress=False, verbose=False)
        r = run.record
        out[step] = {k: r[k] for k in ("top1", "images_per_s", "peak_memory_mb", "amp", "tf32", "cudnn_benchmark",
                                       "device", "wall_time_s")}
    return out


def throughput(dry: bool) -> list[dict]:
    import torch
    import torchvision

    import convnext_lesson as cl
    from convnext_lesson.training.benchmark import measure_throughput

    nets = {"step 1": lambda: cl.build_model(1), "torchvision resnet50": torchvision.models.resnet50,
            "step 16": lambda: cl.build_model(16), "torchvision convnext_tiny": torchvision.models.convnext_tiny}
    sizes = dict(batch_size=2, image_size=32, warmup=1, repeats=2) if dry else dict(batch_size=128, image_size=224,
                                                                                       warmup=5, repeats=10)
    rows = []
    for name, make in nets.items():
        for dtype in (torch.float32, torch.bfloat16):
            for compiled in (False, True):
                if dry and compiled and name.startswith("torchvision"):
                    continue  # compiling four networks on two CPU cores proves nothing more
                result = measure_throughput(make(), mode="train", dtype=dtype, channels_last=True, compile=compiled,
                                            **sizes)
                rows.append({"network": name, **result.as_dict()})
    return rows


def resume(dry: bool, runs: Path) -> dict:
    import signal

    import convnext_lesson as cl
    from convnext_lesson.training.engine import Trainer

    kwargs = dict(profile="smoke", dataset="imagenette-tiny", epochs=2, progress=False, verbose=False)
    straight = cl.train(16, out_dir=runs / "straight", **kwargs)
    original, count = Trainer._train_step, {"n": 0}

    def step(self, batches):  # Ctrl-C (a real SIGINT) after the 5th optimizer step, as the tests do on the CPU
        loss = original(self, batches)
        count["n"] += 1
        if count["n"] == 5:
            signal.raise_signal(signal.SIGINT)
        return loss

    Trainer._train_step = step
    try:
        cl.train(16, out_dir=runs / "resumed", **kwargs)
    except KeyboardInterrupt:
        pass
    finally:
        Trainer._train_step = original
    resumed = cl.train(16, out_dir=runs / "resumed", resume=True, **kwargs)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    diff = max((a[k].float() - b[k].float()).abs().max().item() for k in a if a[k].is_floating_point())
    return {"max_weight_difference": diff, "identical": diff == 0.0, "resumes": resumed.record["resumes"],
            "device": resumed.record["device"]}


def oom(dry: bool, runs: Path) -> dict:
    import torch

    import convnext_lesson as cl

    if dry or not torch.cuda.is_available():
        return {"skipped": "needs a CUDA GPU: a CPU run would use the machine's whole memory instead"}
    run = cl.train(16, profile="full", dataset="imagenette-tiny", batch_size=8192, epochs=1, out_dir=runs / "oom",
                   progress=False, verbose=False)
    return {k: run.record[k] for k in ("batch_size", "micro_batch", "accumulation", "peak_memory_mb")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")) / "gpu_check.json")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "gpu_check")
    parser.add_argument("--dry-run", action="store_true", help="every part at toy sizes, on any device")
    parser.add_argument("--parts", nargs="+", default=["trainer-tests", "ladder-full", "throughput", "resume", "oom"])
    args = parser.parse_args(argv)
    import torch

    report = {"dry_run": args.dry_run, "torch": torch.__version__, "cuda": torch.version.cuda,
              "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU", "parts": {}}
    parts = {"trainer-tests": lambda: trainer_tests(args.dry_run), "ladder-full": lambda: ladder_full(args.dry_run, args.runs),
             "throughput": lambda: throughput(args.dry_run), "resume": lambda: resume(args.dry_run, args.runs),
             "oom": lambda: oom(args.dry_run, args.runs)}
    unknown = sorted(set(args.parts) - set(parts))
    if unknown:
        parser.error(f"unknown part {', '.join(unknown)}; valid: {', '.join(parts)}")
    ok = True
    for name in args.parts:
        start = time.perf_counter()
        try:
            result, error = parts[name](), None
        except Exception:  # one part failing must not hide the others' results
            result, error, ok = None, traceback.format_exc(limit=5), False
        report["parts"][name] = {"seconds": round(time.perf_counter() - start, 1), "result": result, "error": error}
        print(f"{name}: {'failed' if error else 'done'} in {report['parts'][name]['seconds']} s", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")  # after every part
    tests = report["parts"].get("trainer-tests", {}).get("result") or {}
    return 0 if ok and tests.get("passed", True) else 1


if __name__ == "__main__":
    sys.exit(main())
