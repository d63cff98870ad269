"""Check that the committed lock installs on every platform learners bring, without those machines.

    python tools/check_lock.py              # resolve the lock for each platform and Python version (network)
    python tools/check_lock.py --if-changed # only when the lock or pyproject.toml changed since the last check

For each target, the lock's environment markers are evaluated *for the target* (pip would evaluate them for
the machine it runs on), and the pins that remain go to ``pip install --dry-run --no-deps`` with the target's
``--platform`` tags and ``--python-version``: every pin must have a file that installs there. pip matches a
``--platform`` tag exactly, so each target lists every tag its wheels may carry (manylinux up to glibc 2.28,
macOS 11 to 15). The lock is a complete universal resolution, so checking each pin without its dependencies
checks the whole install. The result and the hashes of the files it checked go to ``tools/lock_check.json``;
a test fails when the lock or ``pyproject.toml`` no longer matches that record, so a changed lock is checked.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements-lock.txt"
RECORD = ROOT / "tools" / "lock_check.json"
CHECKED = (LOCK, ROOT / "pyproject.toml")
PYTHONS = ("3.11.5", "3.12.0", "3.13.0")  # the oldest the lock takes (soupsieve needs 3.11.5), then each newer


def _linux(machine: str) -> list[str]:
    return [f"manylinux2014_{machine}"] + [f"manylinux_2_{v}_{machine}" for v in range(17, 29)] + [f"linux_{machine}"]


# name -> (the marker environment's platform part, pip's --platform tags)
TARGETS = {
    "linux-x86_64": ({"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                      "platform_machine": "x86_64"}, _linux("x86_64")),
    "linux-aarch64": ({"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                       "platform_machine": "aarch64"}, _linux("aarch64")),
    "macos-arm64": ({"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix",
                     "platform_machine": "arm64"},
                    [f"macosx_{v}_0_{arch}" for v in range(11, 16) for arch in ("arm64", "universal2")]),
    "windows-amd64": ({"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt",
                       "platform_machine": "AMD64"}, ["win_amd64"]),
}


def files_hash() -> str:
    digest = hashlib.sha256()
    for path in CHECKED:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def pins_for(target: str, python: str, lock: Path = LOCK) -> list[str]:
    """The lock's pins that apply to ``target`` at ``python``, markers evaluated for that machine."""
    env = {**TARGETS[target][0], "python_version": ".".join(python.split(".")[:2]), "python_full_version": python,
           "implementation_name": "cpython", "platform_python_implementation": "CPython"}
    pins = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        if req.marker is None or Marker(str(req.marker)).evaluate(env):
            pins.append(f"{req.name}{req.specifier}")
    return pins


def resolve(target: str, python: str) -> tuple[bool, int, str]:
    """(every pin has a file for the target, how many pins, pip's last lines when it failed)."""
    pins = pins_for(target, python)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(pins) + "\n")
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "-q", "--target", tempfile.gettempdir(),
           "--python-version", python, "--implementation", "cp", "-r", f.name]
    for tag in TARGETS[target][1]:
        cmd += ["--platform", tag]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    Path(f.name).unlink()
    errors = [l for l in (proc.stdout + proc.stderr).splitlines() if "WARNING: Location" not in l]
    return proc.returncode == 0, len(pins), "\n".join(errors[-3:])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--if-changed", action="store_true", help="skip when the recorded check still matches")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--pythons", nargs="+", default=list(PYTHONS))
    args = parser.parse_args(argv)
    if args.if_changed and RECORD.exists() and json.loads(RECORD.read_text(encoding="utf-8"))["files"] == files_hash():
        print(f"{LOCK.name} and pyproject.toml unchanged since the recorded check ({RECORD.name})")
        return 0
    rows, ok = [], True
    for target in args.targets:
        for python in args.pythons:
            good, n, why = resolve(target, python)
            ok &= good
            rows.append({"target": target, "python": python, "pins": n, "resolves": good})
            print(f"{target:14s} Python {python}: {n:3d} pins, {'resolves' if good else 'FAILS'}" +
                  ("" if good else f"\n    {why}"), flush=True)
    if ok and args.targets == list(TARGETS) and args.pythons == list(PYTHONS):
        RECORD.write_text(json.dumps({"files": files_hash(), "date": date.today().isoformat(), "results": rows},
                                     indent=1) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
