"""Checkpoints that are never half-written, and that refuse to resume a different run.

``save`` writes to a temporary file in the same folder, flushes it to disk and
renames it over the old checkpoint (``os.replace`` is atomic), so a run killed at
any moment leaves either the previous checkpoint or the new one, whole.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

FORMAT = 1
CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that belongs to another run."""


def save(state: dict, path: str | os.PathLike) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def remove_stale_temporaries(folder: str | os.PathLike) -> None:
    """Temporary files a killed run left behind (never a checkpoint)."""
    for p in Path(folder).glob(f".{CHECKPOINT_NAME}.tmp-*"):
        p.unlink(missing_ok=True)


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


def check_compatible(saved_spec: dict, spec: dict, path) -> None:
    """Refuse to resume a checkpoint of another step, dataset, profile or recipe."""
    what = lambda s: f"step {s.get('step')} ({s.get('step_name')}) of regime {s.get('regime')}"  # noqa: E731
    if (saved_spec.get("step"), saved_spec.get("regime")) != (spec.get("step"), spec.get("regime")):
        raise CheckpointError(f"checkpoint {path} is from {what(saved_spec)}, not {what(spec)}; resume it with "
                              f"that step, or use another output folder")
    differ = sorted(k for k in set(saved_spec) | set(spec) if saved_spec.get(k) != spec.get(k))
    if differ:
        details = "; ".join(f"{k}: checkpoint {saved_spec.get(k)!r}, now {spec.get(k)!r}" for k in differ)
        raise CheckpointError(f"checkpoint {path} is from a different run ({details}); resume with the same "
                              "settings, or use another output folder")
