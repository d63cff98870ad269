"""The package on the platforms learners bring, simulated where the real one is not here (Linux runs CI).

What is simulated: Windows's missing ``resource`` and ``fcntl`` modules (taken away before the package is
imported, in a fresh process), and macOS's ``ru_maxrss`` units (``sys.platform`` set to ``darwin``). What is
real: the lock's resolution for each platform, checked by ``tools/check_lock.py`` against the package index and
recorded in ``tools/lock_check.json``.
"""
import ast
import json
import runpy
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
import torch

from convnext_lesson.training import memory

ROOT = Path(__file__).resolve().parents[1]
WITHOUT_POSIX = ("import sys, psutil; sys.modules['resource'] = None\n"  # psutil's Linux half imports it itself
                 "import convnext_lesson.training.checkpoint as checkpoint; checkpoint.fcntl = None\n")


def run_without_posix(code: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_POSIX + textwrap.dedent(code), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def test_without_resource_the_package_imports_and_trains(tmp_path):
    proc = run_without_posix("""
        import json, sys, convnext_lesson as cl
        run = cl.train(16, profile="smoke", out_dir=sys.argv[1], progress=False, verbose=False)
        print(json.dumps({"peak": run.record["peak_memory_mb"], "top1": run.top1}))
    """, str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 50 < out["peak"] < 20_000  # psutil's peak working set path, in MiB


def test_without_fcntl_the_run_folder_lock_holds_a_second_process_out(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", WITHOUT_POSIX + textwrap.dedent("""
        import sys, time
        from convnext_lesson.training.checkpoint import lock_run_folder
        with lock_run_folder(sys.argv[1]):
            print("held", flush=True)
            time.sleep(600)  # until the test kills it
    """), str(tmp_path / "run")], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        second = run_without_posix("""
            import sys
            from convnext_lesson.training.checkpoint import CheckpointError, lock_run_folder
            try:
                with lock_run_folder(sys.argv[1]):
                    print("entered")
            except CheckpointError as error:
                print("refused:", error)
        """, str(tmp_path / "run"))
        assert "refused: another process is training" in second.stdout, second.stdout + second.stderr
    finally:
        holder.kill()
        holder.wait()
    after = run_without_posix("""
        import sys
        from convnext_lesson.training.checkpoint import lock_run_folder
        with lock_run_folder(sys.argv[1]):
            print("entered")
    """, str(tmp_path / "run"))
    assert "entered" in after.stdout, after.stderr  # a killed holder does not leave the folder locked


@pytest.mark.parametrize("platform, maxrss", [("linux", 2**20), ("darwin", 2**30)])
def test_peak_memory_is_read_in_each_platforms_units(monkeypatch, platform, maxrss):
    fake = types.SimpleNamespace(RUSAGE_SELF=0, getrusage=lambda who: types.SimpleNamespace(ru_maxrss=maxrss))
    monkeypatch.setitem(sys.modules, "resource", fake)
    monkeypatch.setattr(sys, "platform", platform)
    assert memory.peak_rss_mb() == 1024.0  # 1 GiB: KiB on Linux, bytes on macOS


def test_peak_memory_on_windows_is_the_peak_working_set(monkeypatch):
    info = types.SimpleNamespace(rss=1, peak_wset=512 * 2**20)
    fake = types.SimpleNamespace(Process=lambda: types.SimpleNamespace(memory_info=lambda: info))
    monkeypatch.setitem(sys.modules, "resource", None)
    monkeypatch.setitem(sys.modules, "psutil", fake)
    assert memory.peak_rss_mb() == 512.0


def test_an_apple_gpu_is_named_and_not_silently_used(monkeypatch, capsys):
    import convnext_lesson as cl
    from convnext_lesson.teach import doctor

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert cl.training.runtime.default_device().type == "cpu"
    cl.setup_notebook("smoke")
    assert "Apple GPU, mps, is present" in capsys.readouterr().out
    assert any("mps" in line and line.startswith("NOTE") for line in doctor.device_lines())


def test_the_doctor_reports_every_part_and_exits_clean_here():
    proc = subprocess.run([sys.executable, "-m", "convnext_lesson", "doctor"], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    lines = proc.stdout.splitlines()
    for part in ("python", "torch build", "torchvision", "fvcore", "device", "profile", "imagenette-tiny", "memory",
                 "disk"):
        assert any(line[6:].startswith(part) for line in lines), part
    assert all(line[:5].strip() in ("OK", "NOTE", "FIX") for line in lines if line and not line.startswith(
        ("nothing", "0 ", "1 ", "2 ", "3 "))), lines
    assert proc.returncode == (1 if any(line.startswith("FIX") for line in lines) else 0)


def test_the_doctor_says_what_to_do_about_a_package_below_its_bound(monkeypatch):
    from convnext_lesson.teach import doctor

    real = doctor.metadata.version
    monkeypatch.setattr(doctor.metadata, "version", lambda name: "0.1" if name == "torchvision" else real(name))
    line = next(l for l in doctor.package_lines() if "torchvision" in l)
    assert line.startswith("FIX") and "pip install -U 'torchvision>=" in line


def test_the_lock_marks_what_only_linux_installs():
    check = runpy.run_path(str(ROOT / "tools" / "check_lock.py"))
    pins = {t: {p.split("=")[0] for p in check["pins_for"](t, "3.11.5")} for t in check["TARGETS"]}
    assert "nvidia-cudnn-cu13" in pins["linux-x86_64"] and "triton" in pins["linux-aarch64"]
    for other in ("macos-arm64", "windows-amd64"):
        assert not any(p.startswith(("nvidia-", "cuda-", "triton")) for p in pins[other]), other
    assert "appnope" in pins["macos-arm64"] and {"colorama", "pywinpty"} <= pins["windows-amd64"]
    assert "pexpect" not in pins["windows-amd64"] and "torch" in pins["windows-amd64"]


def test_the_lock_was_checked_for_every_platform_since_it_last_changed():
    check = runpy.run_path(str(ROOT / "tools" / "check_lock.py"))
    record = json.loads((ROOT / "tools" / "lock_check.json").read_text(encoding="utf-8"))
    assert record["files"] == check["files_hash"](), "requirements-lock.txt or pyproject.toml changed: run " \
                                                      "python tools/check_lock.py"
    assert {(r["target"], r["python"]) for r in record["results"] if r["resolves"]} == {
        (t, p) for t in check["TARGETS"] for p in check["PYTHONS"]}


def text_opened_without_encoding(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or any(k.arg == "encoding" for k in node.keywords):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", None))
        if name in ("read_text", "write_text"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        elif name == "open" and isinstance(node.func, ast.Name):
            mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
            if not (isinstance(mode, ast.IfExp) or (isinstance(mode, ast.Constant) and "b" in mode.value)):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_text_files_are_opened_with_an_explicit_encoding():
    # Windows's default encoding is not UTF-8: a record with a non-ASCII character would read back wrong there
    sources = [*(ROOT / "convnext_lesson").rglob("*.py"), *(ROOT / "tools").glob("*.py"), *(ROOT / "tests").glob("*.py")]
    assert [f for p in sources for f in text_opened_without_encoding(p)] == []


def test_timings_wait_for_an_apple_gpu_as_for_a_cuda_one(monkeypatch):
    from convnext_lesson.training import runtime

    calls = []
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append("mps"))
    runtime.synchronize(torch.device("mps"))
    runtime.synchronize(torch.device("cpu"))  # nothing to wait for
    assert calls == ["mps"]
