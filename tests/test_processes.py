"""Whole processes: torchrun with two CPU processes (gloo), and a run killed with SIGKILL."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import convnext_lesson as cl
from convnext_lesson.training import checkpoint as ckpt

# children import the same copy of the package as this test (an installed one, or the checkout when it is
# installed in editable mode) and run in the test's own folder, never in the checkout
PACKAGE_HOME = Path(cl.__file__).resolve().parents[1]


def child_env() -> dict:
    # one thread per process: two processes on two cores, and no busy-waiting threads
    return {**os.environ, "PYTHONPATH": str(PACKAGE_HOME), "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
            "CONVNEXT_LESSON_PROFILE": "smoke"}


def test_torchrun_two_processes_train_and_write_one_result(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "convnext_lesson", "train", "--step", "16", "--profile", "smoke", "--out", str(tmp_path),
           "--no-progress"]
    done = subprocess.run(cmd, cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    found = list(tmp_path.rglob("*.json"))
    assert len(found) == 1, found
    record = json.loads(found[0].read_text(encoding="utf-8"))
    assert record["world_size"] == 2 and record["batch_size"] == 16 and record["micro_batch"] == 8
    assert len(record["history"]) == 3 and 0 <= record["top1"] <= 100
    # rank 0 writes, once: one checkpoint, no temporaries, one summary line
    assert [p.name for p in found[0].parent.iterdir()] == ["checkpoint.pt", "result.json"]
    assert done.stdout.count("step 16 (separate_downsampling), profile smoke") == 1


def test_killed_run_resumes_and_no_checkpoint_is_ever_unreadable(tmp_path):
    cmd = [sys.executable, "-m", "convnext_lesson", "train", "--step", "16", "--profile", "smoke", "--epochs", "6",
           "--out", str(tmp_path), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
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


# Killed (SIGKILL, by itself) half-way through writing its second checkpoint, at the end of epoch 2.
DIES_WHILE_SAVING = """
import os, signal, sys, torch
import convnext_lesson as cl

real_save, saves = torch.save, []

def save(obj, f, *args, **kwargs):
    saves.append(1)
    if len(saves) == 2:
        f.write(b"the first bytes of a checkpoint")
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return real_save(obj, f, *args, **kwargs)

torch.save = save
cl.train(16, profile="smoke", out_dir=sys.argv[1], progress=False, verbose=False)
"""


def test_killed_while_writing_a_checkpoint_the_last_one_loads_and_the_run_resumes(tmp_path):
    out = tmp_path / "killed"
    done = subprocess.run([sys.executable, "-c", DIES_WHILE_SAVING, str(out)], cwd=tmp_path, env=child_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
    run_dir = next(out.rglob("checkpoint.pt")).parent
    assert [p.name for p in run_dir.glob(".checkpoint.pt.tmp-*")], "killed during the write: its temporary is there"
    assert ckpt.load(run_dir / "checkpoint.pt")["epoch"] == 1  # the previous checkpoint, whole
    resumed = cl.train(16, profile="smoke", out_dir=out, resume=True, progress=False, verbose=False)
    assert resumed.run_dir == run_dir and resumed.record["resumes"] == 1 and len(resumed.history) == 3
    assert [p.name for p in sorted(run_dir.iterdir())] == ["checkpoint.pt", "result.json"]  # no temporary left
    straight = cl.train(16, profile="smoke", out_dir=tmp_path / "straight", progress=False, verbose=False)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


HOLDS_THE_LOCK = """
import sys, time
from convnext_lesson.training import checkpoint
with checkpoint.lock_run_folder(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(300)
"""


def test_a_second_process_cannot_train_a_run_folder_and_a_killed_one_leaves_it_free(tmp_path):
    run_dir = tmp_path / "resnet50-smoke-imagenette-tiny" / "step16-separate_downsampling-seed0"
    holder = subprocess.Popen([sys.executable, "-c", HOLDS_THE_LOCK, str(run_dir)], cwd=tmp_path, env=child_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        kw = dict(profile="smoke", out_dir=tmp_path, progress=False, verbose=False)
        with pytest.raises(ckpt.CheckpointError, match=rf"another process \(pid {holder.pid}\) is training "
                                                       f"{re.escape(str(run_dir))}"):
            cl.train(16, **kw)
        with pytest.raises(ckpt.CheckpointError, match="another process"):
            cl.ladder(steps="16", **kw)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
        assert cl.train(16, **kw).run_dir == run_dir  # the OS released the lock of the killed process
    finally:
        if holder.poll() is None:
            holder.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rank_0_failing_to_find_the_data_ends_every_rank(tmp_path):
    """Two processes of one run (gloo): rank 0's error reaches rank 1, which does not wait in a barrier."""
    env = {**child_env(), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    cmd = [sys.executable, "-m", "convnext_lesson", "train", "--step", "16", "--profile", "smoke", "--device", "cpu",
           "--data-dir", str(tmp_path / "missing"), "--out", str(tmp_path / "runs"), "--no-progress"]
    ranks = [subprocess.Popen(cmd, cwd=tmp_path, env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    try:
        outputs = [p.communicate(timeout=120) for p in ranks]
    finally:
        for p in ranks:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(ranks, outputs):
        assert p.returncode == 2 and err.startswith("error: ") and str(tmp_path / "missing") in err, out + err
    assert outputs[0][1] == outputs[1][1]  # the same one-line error on both ranks
