"""One JSON record per training run, with everything needed to trust and compare it.

Schema (``schema_version`` 1; a field is added, never renamed, within a version):

=====================  ==============================================================
schema_version         1
kind                   "convnext-lesson-run"
step, step_name,       roadmap step index, name and Figure 2 label; regime
step_label, regime
recipe                 "original" or "modern"; ``recipe_settings`` the scaled values
profile                profile name; ``profile_settings`` its values (after overrides)
dataset                {name, origin ("folder" / "offline-pack" / "official"), file,
                       checksum ("sha256:..." / "md5:..."), train_images, val_images,
                       num_classes, root}
image_size, epochs,    training resolution, epochs, effective batch, micro-batch and
batch_size,            accumulation (after any out-of-memory retry), processes, seed
micro_batch,
accumulation,
world_size, seed
config, overrides      the trained network's NetConfig (scaled by the profile), and what
                       makes the run differ from the profile's plain step: config fields,
                       ``recipe`` changes, ``profile`` sizing, ``ema``, and ``data`` (a copy
                       other than the offline pack)
params                 parameter count of the trained network
gflops                 {"trained_resolution", "at_224"}: GFLOPs of the trained network,
                       paper convention (conv + linear multiply-accumulates / 1e9)
top1, top5             validation accuracy (%) after the last epoch
best_top1, best_top5,  the best epoch's accuracy (%) and which epoch (1-based)
best_epoch
ema                    null, or {decay, top1, top5} of the EMA weights after the last epoch
paper_top1,            the paper's ImageNet-1K numbers for this step (at 224 px)
paper_gflops
wall_time_s            training + evaluation time, summed over resumed segments
images_per_s           training throughput over the whole run (all processes)
peak_memory_mb         GPU: peak allocated memory; CPU: peak resident memory of the process
device, device_count   e.g. "NVIDIA H100 80GB HBM3" or "cpu (2 cores, AMD EPYC, AVX2)"
amp, channels_last,    precision ("bf16", "fp16" or "none") and speed options used
compiled
torch, torchvision,    library versions (cuda null on a CPU build or machine)
cuda, python
git_commit, git_dirty  the project's commit, and whether the tree had uncommitted changes
started_at,            ISO 8601 UTC times; ``resumes`` how many times the run was resumed
finished_at, resumes
history                per epoch: epoch, train_loss, val_loss, val_top1, val_top5, lr,
                       images_per_s, train_time_s, peak_memory_mb (and ema_val_* with EMA)
=====================  ==============================================================
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

import torch

from .files import atomic_write_text
from .paths import PROJECT_ROOT, REFERENCE_RUNS
from .runtime import cpu_description, device_description  # noqa: F401 (cpu_description: read from here too)

SCHEMA_VERSION = 1
KIND = "convnext-lesson-run"
RESULT_NAME = "result.json"
REFERENCE_DIR = REFERENCE_RUNS  # shipped inside the package, so that a pip install (Colab) finds them too
REQUIRED = ("schema_version", "kind", "step", "regime", "profile", "dataset", "image_size", "epochs", "seed", "top1",
            "top5", "params", "gflops", "wall_time_s", "history")


def git_state(root: Path = PROJECT_ROOT) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the project checkout, or (None, None) outside one."""
    if not (root / ".git").exists():
        return None, None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=10).stdout.strip())
        return commit, dirty
    except (OSError, subprocess.SubprocessError):
        return None, None


def environment(device: torch.device) -> dict:
    import torchvision

    name, count = device_description(device)
    commit, dirty = git_state()
    return {"device": name, "device_count": count, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "cuda": torch.version.cuda if device.type == "cuda" else None, "python": platform.python_version(),
            "git_commit": commit, "git_dirty": dirty}


def write_record(record: dict, path: str | os.PathLike) -> Path:
    """Write a record atomically (temporary file, then rename)."""
    validate(record)
    return atomic_write_text(path, json.dumps(record, indent=2, sort_keys=False) + "\n")


def validate(record: dict) -> dict:
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise ValueError(f"not a run record: missing {', '.join(missing)}")
    if record["schema_version"] != SCHEMA_VERSION:
        raise ValueError(f"record schema_version {record['schema_version']} is not supported (this package reads "
                         f"version {SCHEMA_VERSION}); update convnext_lesson")
    for key in ("top1", "step", "seed", "epochs", "image_size"):  # what every table formats as a number
        value = record[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"not a valid run record: {key}={value!r} must be a number")
    return record


def read_record(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read run record {path}: {error}") from error
    try:
        return validate(record)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error


def record_file_name(record: dict) -> str:
    """``<regime>-<profile>-<dataset>-step<NN>-seed<S>.json``, the name of a published record."""
    return (f"{record['regime']}-{record['profile']}-{record['dataset']['name']}-step{record['step']:02d}-"
            f"seed{record['seed']}.json")


def portable(record: dict) -> dict:
    """``record`` with only the last part of ``dataset.root``: where the data lay on the training machine is
    nobody else's business, and which copy it was is in ``dataset.file`` and ``dataset.checksum``."""
    dataset = dict(record["dataset"])
    if dataset.get("root"):
        dataset["root"] = Path(dataset["root"]).name
    return {**record, "dataset": dataset}


def publish_record(run: str | os.PathLike, folder: str | os.PathLike = REFERENCE_DIR) -> Path:
    """Copy a run's record (its ``result.json`` or run folder) into ``folder`` under ``record_file_name``,
    made ``portable``."""
    path = Path(run)
    record = portable(read_record(path / RESULT_NAME if path.is_dir() else path))
    return write_record(record, Path(folder) / record_file_name(record))


def find_records(folder: str | os.PathLike) -> list[dict]:
    """Every record under ``folder`` (``result.json`` of run folders, or any ``*.json`` record)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    records = []
    for path in sorted(folder.rglob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(record, dict) and record.get("kind") == KIND:
            records.append(validate(record))
    return records


def by_step(records: list[dict], regime: str = "resnet50", profile: str | None = None) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for r in records:
        if r["regime"] == regime and (profile is None or r["profile"] == profile):
            out.setdefault(r["step"], []).append(r)
    return dict(sorted(out.items()))


def reference_results(regime: str = "resnet50", profile: str | None = None, root=None) -> dict[int, list[dict]]:
    """The committed reference runs (``convnext_lesson/reference/runs/``) of a regime: {step index: [records]}.

    Empty when there are none. ``profile`` keeps only runs of that profile.
    """
    from ..model.roadmap import REGIMES

    from .profiles import PROFILES

    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; valid regimes: {', '.join(REGIMES)}")
    if profile is not None and profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    return by_step(find_records(Path(root) if root else REFERENCE_DIR), regime, profile)


def summary_table(records: list[dict]) -> str:
    """A Markdown table: our top-1 and GFLOPs next to the paper's, one row per record."""
    lines = ["| step | change | params | GFLOPs (trained res.) | top-1 (ours) | epochs | px | wall time | "
             "paper top-1 | paper GFLOPs |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in sorted(records, key=lambda r: (r["step"], r["seed"])):
        lines.append(f"| {r['step']} | {r.get('step_label', r.get('step_name', ''))} | {r['params'] / 1e6:.2f}M | "
                     f"{r['gflops']['trained_resolution']:.3f} | {r['top1']:.1f}% | {r['epochs']} | "
                     f"{r['image_size']} | {_duration(r['wall_time_s'])} | {r.get('paper_top1', '')} | "
                     f"{r.get('paper_gflops', '')} |")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
