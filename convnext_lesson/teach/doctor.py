"""``python -m convnext_lesson doctor``: what this machine has for the course, and what to do about what it lacks.

Run first, on any platform: the Python and package versions against the declared bounds, the device and the
profile the course will use and why, the datasets found, memory and disk. Every line says OK, NOTE (works, but
read it) or FIX (something to do, and what).
"""
from __future__ import annotations

import os
import platform
import shutil
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from ..training import memory
from ..training.data import default_download_dir, locate
from ..training.datasets import DATASETS
from ..training.profiles import ENV_VAR, default_profile_name, get_profile

MIN_PYTHON = (3, 11)
FREE_DISK_GB = 2  # an unpacked Imagenette pack, its archive and a few run folders


def _line(status: str, what: str, detail: str) -> str:
    return f"{status:5s} {what:15s} {detail}"


def declared_requirements() -> list[Requirement]:
    """The package's own dependencies, as its installed metadata declares them (no extras)."""
    try:
        found = metadata.requires("convnext-lesson") or []
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return []
    return [r for r in map(Requirement, found) if not r.marker or r.marker.evaluate({"extra": ""})]


def package_lines() -> list[str]:
    lines = []
    for req in declared_requirements():
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            lines.append(_line("FIX", req.name, f"missing; install it: pip install '{req}'"))
            continue
        ok = req.specifier.contains(version, prereleases=True)
        lines.append(_line("OK" if ok else "FIX", req.name, f"{version}" + ("" if ok else
                           f", the course needs {req.specifier}: pip install -U '{req}'")))
    return lines or [_line("NOTE", "packages", "convnext-lesson is not installed; from a clone: pip install -e .")]


def device_lines() -> list[str]:
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return [_line("OK", "device", f"CUDA GPU {name} ({torch.cuda.device_count()} visible); runs train there")]
    build = f"a CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU build"
    lines = [_line("OK", "device", f"the CPU ({os.cpu_count()} logical cores); no CUDA GPU found (torch is {build})")]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        lines.append(_line("NOTE", "device", "an Apple GPU (mps) is present; the course trains on the CPU by default, "
                           "and cl.train(..., device='mps') is offered but untested"))
    return lines


def profile_lines() -> list[str]:
    chosen = os.environ.get(ENV_VAR)
    try:
        prof = get_profile()
    except ValueError as error:
        return [_line("FIX", "profile", str(error))]
    why = f"from ${ENV_VAR}" if chosen else f"the default for this hardware ({default_profile_name()})"
    return [_line("OK", "profile", f"{prof.name}, {why}: {prof.description}")]


def data_lines() -> list[str]:
    lines = []
    for name in DATASETS:
        try:
            copy = locate(name)
        except (FileNotFoundError, ValueError) as error:
            where = str(error).split(". ")[0].removeprefix(f"{name} ")  # "not found (looked in ...)"
            lines.append(_line("NOTE", name, f"{where}; a run with --download (download=True) fetches it, or "
                               "set CONVNEXT_LESSON_DATA to a folder with a copy"))
            continue
        lines.append(_line("OK", name, f"{copy.origin} at {copy.root}"))
    return lines


def machine_lines() -> list[str]:
    lines = []
    free = memory.available_mb()
    if free is None:
        lines.append(_line("NOTE", "memory", "cannot be read here (psutil is missing: pip install psutil)"))
    else:
        status = "OK" if free >= 3 * 1024 else "NOTE"
        lines.append(_line(status, "memory", f"{free / 1024:.1f} GB free" + ("" if status == "OK" else
                           "; a cpu-profile run needs about 3 GB: close other programs first")))
    target = default_download_dir()
    probe = next((p for p in [target, *target.parents] if p.exists()), None)
    if probe is not None:
        disk = shutil.disk_usage(probe).free / 2**30
        lines.append(_line("OK" if disk >= FREE_DISK_GB else "FIX", "disk",
                           f"{disk:.0f} GB free where downloads go ({target})" + ("" if disk >= FREE_DISK_GB else
                           f"; free at least {FREE_DISK_GB} GB, or set CONVNEXT_LESSON_DATA to a folder with room")))
    return lines


def _short(text: str) -> str:
    """Paths as a reader can share them: the project's folder as <project>, the home folder as ~."""
    from ..training.results import PROJECT_ROOT

    return text.replace(str(PROJECT_ROOT), "<project>").replace(str(Path.home()), "~")


def report() -> str:
    import torch

    py_ok = sys.version_info[:2] >= MIN_PYTHON
    head = [_line("OK" if py_ok else "FIX", "python", f"{platform.python_version()} on {platform.system()} "
                  f"{platform.machine()}" + ("" if py_ok else f"; the course needs Python "
                                             f"{'.'.join(map(str, MIN_PYTHON))} or newer")),
            _line("OK", "torch build", f"{torch.__version__}")]
    lines = head + package_lines() + device_lines() + profile_lines() + data_lines() + machine_lines()
    return _short("\n".join(lines))


def main() -> int:
    text = report()
    print(text)
    fixes = sum(line.startswith("FIX") for line in text.splitlines())
    print(f"\n{fixes} thing(s) to fix" if fixes else "\nnothing to fix: the course runs here")
    return 1 if fixes else 0


def check_environment() -> None:
    """Print the doctor's report (notebook 00); ``python -m convnext_lesson doctor`` prints the same."""
    print(report())
