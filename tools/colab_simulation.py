"""A Colab simulation anyone can run: Colab's versions in a fresh environment, the course installed by the
notebooks' own install cell, notebook 00 and a training notebook run under the smoke profile.

    python tools/colab_simulation.py                     # in a temporary folder, removed afterwards
    python tools/colab_simulation.py --dir sim           # in ./sim, kept (a second run reuses its venv)
    python tools/colab_simulation.py --json result.json  # also write the result there

What it does, each step timed:

1. a fresh venv with Colab's versions (COLAB below; pip picks PyPI's Linux torch, the CUDA build, which also
   runs on a CPU) and the notebook runner (pytest, nbval, ipykernel), with Colab's versions held as constraints;
2. a clone of this repository's committed HEAD, standing in for the repository address in pyproject.toml;
3. copies of the notebooks whose install cell installs ``git+file://<clone>@<commit>`` instead of the release,
   so the cell itself installs the course inside the running kernel, as on Colab;
4. a stand-in ``google.colab`` (``drive.mount`` makes the folder, ``output`` does nothing), imported when the
   kernel starts, as Colab's kernel has it; notebook 00's Drive cell is switched on, mounted in the work folder;
5. ``pytest --nbval-lax`` on notebook 00 (which installs the course) and NOTEBOOK, under CONVNEXT_LESSON_PROFILE=smoke;
6. the versions after the install (did pip keep Colab's torch, numpy and ipywidgets?) and where the course came from;
7. tests/test_colab_widgets.py of the clone against the installed course: the explorers under Colab's ipywidgets.

It prints a JSON result (versions, each step's pass/fail and seconds). It runs on this machine's Python and
CPU, not Colab's Python or GPU: the result says so. It needs the network for the wheels (pip's cache helps).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What Colab ships (as issue 22 found it); only these four are Colab's, everything else resolves fresh.
COLAB = {"torch": "2.11.0", "torchvision": "0.26.0", "numpy": "2.1.3", "ipywidgets": "7.7.1"}
COLAB_PYTHON = "3.13"
RUNNER = ["pytest", "nbval", "ipykernel"]
NOTEBOOKS = ["00_setup_and_tour", "01_resnet50"]  # the tour, and a notebook that trains (step 0)

STUB = {  # the stand-in google.colab ("google" stays a namespace package, so other google.* still import)
    "google/colab/__init__.py": '"""Stand-in for Colab\'s module (tools/colab_simulation.py)."""\n'
                                "from . import drive, output  # noqa: F401\n",
    "google/colab/output.py": "def enable_custom_widget_manager():\n    pass\n\n\n"
                              "def disable_custom_widget_manager():\n    pass\n",
    "google/colab/drive.py": "import os\n\n\ndef mount(mountpoint, force_remount=False, **kwargs):\n"
                             "    os.makedirs(os.path.join(mountpoint, 'MyDrive'), exist_ok=True)\n"
                             "    print(f'Mounted at {mountpoint}')\n\n\n"
                             "def flush_and_unmount(**kwargs):\n    pass\n",
}


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


def step(result: dict, name: str, fn) -> bool:
    """Run ``fn`` (returns (ok, details)), record its outcome and seconds; False stops the simulation."""
    start = time.perf_counter()
    try:
        ok, details = fn()
    except Exception as error:  # a step that crashes is a failed step, reported like the others
        ok, details = False, f"{type(error).__name__}: {error}"
    seconds = round(time.perf_counter() - start, 1)
    result["steps"].append({"step": name, "passed": ok, "seconds": seconds, "details": details})
    print(f"{'PASS' if ok else 'FAIL'}  {name}  ({seconds} s)", file=sys.stderr, flush=True)
    return ok


def tail(proc: subprocess.CompletedProcess, chars: int = 3000) -> str:
    return (proc.stdout + proc.stderr)[-chars:]


def make_venv(venv: Path, pins: Path) -> tuple[bool, str]:
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pins.write_text("".join(f"{k}=={v}\n" for k, v in COLAB.items()), encoding="utf-8")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(pins)]
    proc = run(pip + [f"{k}=={v}" for k, v in COLAB.items()] + RUNNER)
    # a reused venv: without this, notebook 00's install cell would find the course and install nothing
    run([str(venv / "bin" / "python"), "-m", "pip", "uninstall", "-q", "-y", "convnext-lesson"])
    return proc.returncode == 0, tail(proc, 2000) if proc.returncode else "installed"


def clone(target: Path) -> tuple[bool, str]:
    if target.exists():
        shutil.rmtree(target)
    proc = run(["git", "clone", "-q", str(ROOT), str(target)])
    commit = run(["git", "-C", str(target), "rev-parse", "HEAD"]).stdout.strip()
    return proc.returncode == 0, commit


def notebook_copies(work: Path, clone: Path, source: str, drive: Path) -> tuple[bool, str]:
    """The clone's notebooks with the install cell pointed at it, and notebook 00's Drive cell switched on."""
    sys.path.insert(0, str(ROOT / "tools"))
    from build_notebooks import release

    url, tag = release()
    released = f'SOURCE = "git+{url}@{tag}"'
    work.mkdir(parents=True, exist_ok=True)
    for name in NOTEBOOKS:
        nb = json.loads((clone / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        for cell in code:
            cell["source"] = "".join(cell["source"])
        if released not in code[0]["source"]:
            return False, f"{name}: its install cell does not install {released}"
        code[0]["source"] = code[0]["source"].replace(released, f'SOURCE = "{source}"')
        if name.startswith("00"):  # Drive on, mounted in the work folder (Colab's /content/drive is not ours)
            [cell] = [c for c in code if "USE_DRIVE = False" in c["source"]]
            cell["source"] = cell["source"].replace("USE_DRIVE = False", "USE_DRIVE = True").replace(
                "cl.use_drive()", f"cl.use_drive(mountpoint={str(drive)!r})")
        (work / f"{name}.ipynb").write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return True, f"install cell source: {source}"


def installed_versions(python: Path) -> dict:
    code = ("import json, importlib.metadata as m\n"
            f"names = {sorted(COLAB) + ['convnext-lesson']!r}\n"
            "out = {}\n"
            "for n in names:\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: out[n] = None\n"
            "d = m.distribution('convnext-lesson') if out['convnext-lesson'] else None\n"
            "url = d.read_text('direct_url.json') if d else None\n"
            "out['convnext-lesson source'] = json.loads(url) if url else None\n"
            "print(json.dumps(out))\n")
    return json.loads(run([str(python), "-c", code], cwd="/").stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one, removed afterwards)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary work folder (a --dir folder is always kept)")
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    parser.add_argument("--cell-timeout", type=int, default=900, help="seconds per notebook cell")
    args = parser.parse_args()
    base = (args.dir or Path(tempfile.mkdtemp(prefix="colab-sim-"))).resolve()
    base.mkdir(parents=True, exist_ok=True)
    venv, python = base / "venv", base / "venv" / "bin" / "python"
    result = {
        "kind": "convnext-lesson-colab-simulation",
        "python": platform.python_version(), "machine": f"{platform.system()} {platform.machine()}, CPU only",
        "colab_versions": COLAB,
        "note": f"Colab runs Python {COLAB_PYTHON} with a GPU; this ran on Python {platform.python_version()} and "
                "the CPU. Only the four packages in colab_versions are Colab's; the rest resolved fresh from the "
                "package index. google.colab is a stand-in: nothing here talked to Colab or Google Drive.",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "steps": [],
    }
    ok = step(result, "venv with Colab's versions", lambda: make_venv(venv, base / "colab-pins.txt"))
    ok = ok and step(result, "clone of this repository (HEAD)", lambda: clone(base / "clone"))
    if ok:
        result["commit"] = result["steps"][-1]["details"]
        result["before_install"] = installed_versions(python)
        source = f"git+file://{base / 'clone'}@{result['commit']}"
        ok = step(result, "notebook copies installing from the clone",
                  lambda: notebook_copies(base / "work", base / "clone", source, base / "drive"))
    if ok:
        for rel, text in STUB.items():
            (base / "stub" / rel).parent.mkdir(parents=True, exist_ok=True)
            (base / "stub" / rel).write_text(text, encoding="utf-8")
        startup = base / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True, exist_ok=True)
        (startup / "00-colab.py").write_text("import google.colab  # as in Colab's kernel\n", encoding="utf-8")
        (base / "home").mkdir(exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(base / "stub"), "IPYTHONDIR": str(base / "ipython"),
               "CONVNEXT_LESSON_PROFILE": "smoke", "CONVNEXT_LESSON_RUNS": str(base / "runs"),
               "HOME": str(base / "home")}  # the runtime's own disk: ~/.cache lands in the work folder
        env.pop("CONVNEXT_LESSON_DATA", None)  # smoke reads the sample the package ships
        for name in NOTEBOOKS:
            def notebook(name=name):
                proc = run([str(venv / "bin" / "pytest"), "-q", "-p", "no:cacheprovider", "--nbval-lax",
                            "--nbval-current-env", f"--nbval-cell-timeout={args.cell_timeout}",
                            str(base / "work" / f"{name}.ipynb")], cwd=base / "work", env=env)
                return proc.returncode == 0, tail(proc, 1500)
            ok = step(result, f"notebook {name} (smoke, stand-in google.colab)", notebook) and ok
        result["after_install"] = after = installed_versions(python)
        drive_folder = base / "drive" / "MyDrive" / "convnext-lesson"
        ok = step(result, "notebook 00's Drive cell made the runs and data folders",
                  lambda: ((drive_folder / "runs").is_dir() and (drive_folder / "data").is_dir(),
                           str(drive_folder.relative_to(base)))) and ok
        kept = {k: after.get(k) == v for k, v in COLAB.items()}
        ok = step(result, "the install kept Colab's versions", lambda: (all(kept.values()), kept)) and ok
        ok = step(result, "explorer widgets under Colab's ipywidgets (tests/test_colab_widgets.py)", lambda: (
            lambda p: (p.returncode == 0, tail(p, 800)))(run(
                [str(venv / "bin" / "pytest"), "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                 str(base / "clone" / "tests" / "test_colab_widgets.py")], cwd=base))) and ok
    result["passed"] = bool(ok) and all(s["passed"] for s in result["steps"])
    result["total_seconds"] = round(sum(s["seconds"] for s in result["steps"]), 1)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    if not args.keep and args.dir is None:
        shutil.rmtree(base, ignore_errors=True)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
