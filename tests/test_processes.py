"""Whole processes: torchrun with two CPU processes (gloo), and a run killed with SIGKILL."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import convnext_lesson as cl
from convnext_lesson import checkpoint as ckpt

ROOT = Path(__file__).resolve().parents[1]


def child_env() -> dict:
    # one thread per process: two processes on two cores, and no busy-waiting threads
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
            "CONVNEXT_LESSON_PROFILE": "smoke"}


def test_torchrun_two_processes_train_and_write_one_result(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "convnext_lesson", "train", "--step", "16", "--profile", "smoke", "--out", str(tmp_path),
           "--no-progress"]
    done = subprocess.run(cmd, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    found = list(tmp_path.rglob("*.json"))
    assert len(found) == 1, found
    record = json.loads(found[0].read_text())
    assert record["world_size"] == 2 and record["batch_size"] == 16 and record["micro_batch"] == 8
    assert len(record["history"]) == 3 and 0 <= record["top1"] <= 100
    # rank 0 writes, once: one checkpoint, no temporaries, one summary line
    assert [p.name for p in found[0].parent.iterdir()] == ["checkpoint.pt", "result.json"]
    assert done.stdout.count("step 16 (separate_downsampling), profile smoke") == 1


def test_killed_run_resumes_and_no_checkpoint_is_ever_unreadable(tmp_path):
    cmd = [sys.executable, "-m", "convnext_lesson", "train", "--step", "16", "--profile", "smoke", "--epochs", "6",
           "--out", str(tmp_path), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 240
        while not list(tmp_path.rglob("checkpoint.pt")) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        time.sleep(0.3)  # into the next epoch (or a checkpoint write)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, proc.stdout.read().decode()
    run_dir = next(tmp_path.rglob("checkpoint.pt")).parent
    assert not (run_dir / "result.json").exists()
    state = ckpt.load(run_dir / "checkpoint.pt")  # whole, whenever the kill came
    assert 1 <= state["epoch"] < 6
    run = cl.train(16, profile="smoke", epochs=6, out_dir=tmp_path, resume=True, progress=False, verbose=False)
    assert run.run_dir == run_dir and run.record["resumes"] == 1 and len(run.history) == 6
    assert [p.name for p in sorted(run_dir.iterdir())] == ["checkpoint.pt", "result.json"]
