"""Checkpoints that are never half-written, and that refuse to resume a different run.

``save`` writes to a temporary file in the same folder, flushes it to disk and
renames it over the old checkpoint (``os.replace`` is atomic), so a run killed at
any moment leaves either the previous checkpoint or the new one, whole.

``lock_run_folder`` lets one process at a time train a run folder: an ``flock`` on
a lock file beside it, which the operating system releases when the process ends,
however it ends (a killed run never leaves its folder locked). Windows has no ``flock``:
there the ``filelock`` package (installed with torch) takes the platform's own lock.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import torch

from .files import atomic_write

FORMAT = 1
CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that belongs to another run."""


def save(state: dict, path: str | os.PathLike) -> None:
    atomic_write(path, lambda f: torch.save({"format": FORMAT, **state}, f))


def remove_stale_temporaries(folder: str | os.PathLike) -> None:
    """Temporary files a killed run left behind (never a checkpoint); call it holding the folder's lock."""
    for pattern in (f".{CHECKPOINT_NAME}.tmp-*", ".result.json.tmp-*"):
        for p in Path(folder).glob(pattern):
            p.unlink(missing_ok=True)


@contextmanager
def lock_run_folder(run_dir: str | os.PathLike):
    """Hold ``run_dir`` for this process; ``CheckpointError`` if another process holds it.

    The lock file lies beside the folder (``.<name>.lock``), so the run folder holds
    only the checkpoint and the record; it keeps the holder's pid for the message.
    """
    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        with _other_platforms_lock(run_dir):
            yield
        return
    with open(run_dir.parent / f".{run_dir.name}.lock", "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            pid = f.read().strip()
            raise _busy(run_dir, pid) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            f.truncate(0)
            fcntl.flock(f, fcntl.LOCK_UN)


def _busy(run_dir: Path, pid: str = "") -> CheckpointError:
    return CheckpointError(f"another process{f' (pid {pid})' if pid else ''} is training {run_dir}; wait for it "
                           "to finish (or stop it), or use another output folder")


@contextmanager
def _other_platforms_lock(run_dir: Path):
    """The run-folder lock without ``fcntl``: ``filelock``'s, which is the kernel's own lock on Windows."""
    import filelock

    lock = filelock.FileLock(str(run_dir.parent / f".{run_dir.name}.lock"), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise _busy(run_dir) from None
    try:
        yield
    finally:
        lock.release()


def load(path: str | os.PathLike, map_location="cpu") -> dict:
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # truncated, not a checkpoint, written by something else
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(error).__name__}: {error}); delete it "
                              "to start the run over") from error
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a convnext_lesson checkpoint (format {FORMAT})")
    return state


def _current_names(spec: dict) -> dict:
    """A spec written before its keys took the record's names, renamed, so that unfinished runs keep resuming:
    ``recipe`` (the settings) is now ``recipe_settings``, and a roadmap run's ``dataset`` names its copy (then
    ``data``; absent from checkpoints written before copies were told apart) rather than the dataset."""
    spec = dict(spec)
    if isinstance(spec.get("recipe"), dict):
        spec["recipe_settings"] = spec.pop("recipe")
        if "step" in spec:  # a roadmap run (a fine-tuning run's dataset was and is its name)
            copy = spec.pop("data", None)
            spec.pop("dataset")
            spec |= {"dataset": copy} if copy else {}
    return spec


def check_compatible(saved_spec: dict, spec: dict, path) -> None:
    """Refuse to resume a checkpoint of another step, dataset, profile or recipe."""
    saved_spec = _current_names(saved_spec)
    what = lambda s: f"step {s.get('step')} ({s.get('step_name')}) of regime {s.get('regime')}"  # noqa: E731
    if (saved_spec.get("step"), saved_spec.get("regime")) != (spec.get("step"), spec.get("regime")):
        raise CheckpointError(f"checkpoint {path} is from {what(saved_spec)}, not {what(spec)}; resume it with "
                              f"that step, or use another output folder")
    # a key the checkpoint lacks was added to the spec after it was written: not a difference
    differ = sorted(k for k in spec if k in saved_spec and saved_spec[k] != spec[k])
    if differ:
        details = "; ".join(f"{k}: checkpoint {saved_spec.get(k)!r}, now {spec.get(k)!r}" for k in differ)
        raise CheckpointError(f"checkpoint {path} is from a different run ({details}); resume with the same "
                              "settings, or use another output folder")
