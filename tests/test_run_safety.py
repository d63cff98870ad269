"""Run folders: what makes one run differ from another, one process per folder, nothing left behind."""
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import convnext_lesson as cl
from convnext_lesson.training import checkpoint as ckpt
from convnext_lesson.training import data, results
from convnext_lesson.training.plan import run_dir_for

ROOT = Path(__file__).resolve().parents[1]
KW = dict(profile="smoke", progress=False, verbose=False)


def pack_folder() -> Path:
    """The folder that holds the tiny sample's offline pack (the project's data/, or the package's)."""
    file = data.DATASETS["imagenette-tiny"].packs[0].file
    folders = [getattr(data, name, None) for name in ("PACKAGE_DATA", "PROJECT_DATA")]
    return next(Path(d) for d in folders if d is not None and (Path(d) / file).is_file())


def test_ema_and_the_dataset_copy_get_their_own_run_folder(tmp_path, capsys):
    plain = cl.train(16, out_dir=tmp_path, **KW)
    assert plain.run_dir.name == "step16-separate_downsampling-seed0"  # the plain step keeps its name
    assert plain.record["ema"] is None and plain.record["dataset"]["origin"] == "offline-pack"

    with_ema = cl.train(16, out_dir=tmp_path, ema=True, **KW)
    assert with_ema.run_dir != plain.run_dir and with_ema.record["ema"]["top1"] >= 0
    assert with_ema.record["overrides"] == {"ema": True}

    unpacked = data.locate("imagenette-tiny").root  # the same images, as a folder rather than the checksummed pack
    from_folder = cl.train(16, out_dir=tmp_path, data_dir=unpacked.parent, **KW)
    assert from_folder.run_dir not in (plain.run_dir, with_ema.run_dir)
    assert from_folder.record["dataset"]["origin"] == "folder"
    assert from_folder.record["overrides"]["data"].startswith("folder:")
    assert str(unpacked) not in json.dumps(from_folder.record["overrides"])  # no machine path in the identity

    capsys.readouterr()
    pack = cl.train(16, out_dir=tmp_path, data_dir=pack_folder(), profile="smoke", progress=False)
    assert pack.run_dir == plain.run_dir and pack.record == plain.record  # the pack, wherever it lies
    assert "already trained" in capsys.readouterr().out


def test_a_changed_profile_gets_its_own_run_folder(tmp_path):
    plain = cl.train(16, epochs=1, out_dir=tmp_path, **KW)
    longer = cl.get_profile("smoke").replace(epochs=1, max_steps_per_epoch=6)
    changed = cl.train(16, profile=longer, out_dir=tmp_path, progress=False, verbose=False)
    assert changed.run_dir != plain.run_dir
    assert changed.record["overrides"] == {"profile": {"epochs": 1, "max_steps_per_epoch": 6}}
    faster = cl.get_profile("smoke").replace(workers=0, threads=2)  # speed only: the plain run
    assert cl.train(16, profile=faster, epochs=1, out_dir=tmp_path, progress=False,
                    verbose=False).run_dir == plain.run_dir


def test_a_checkpoint_from_before_the_data_identity_resumes(tmp_path):
    done = cl.train(16, epochs=1, out_dir=tmp_path, **KW)
    path = done.run_dir / ckpt.CHECKPOINT_NAME
    state = ckpt.load(path)
    assert state["spec"]["dataset"].startswith("offline-pack:sha256:")
    # as a checkpoint written before runs recorded their copy, and before the spec took the record's key names
    spec = state["spec"]
    spec["recipe"], spec["dataset"] = spec.pop("recipe_settings"), "imagenette-tiny"
    ckpt.save({k: v for k, v in state.items() if k != "format"}, path)
    (done.run_dir / results.RESULT_NAME).unlink()
    again = cl.train(16, epochs=1, out_dir=tmp_path, resume=True, **KW)
    assert again.record["top1"] == done.record["top1"] and again.record["resumes"] == 1


def test_a_checkpoint_of_another_dataset_copy_is_refused(tmp_path):
    done = cl.train(16, epochs=1, out_dir=tmp_path, **KW)
    path = done.run_dir / ckpt.CHECKPOINT_NAME
    state = ckpt.load(path)
    state["spec"]["dataset"] = "official:md5:0123"
    ckpt.save({k: v for k, v in state.items() if k != "format"}, path)
    (done.run_dir / results.RESULT_NAME).unlink()
    with pytest.raises(ckpt.CheckpointError, match="different run.*dataset: checkpoint 'official:md5:0123'"):
        cl.train(16, epochs=1, out_dir=tmp_path, resume=True, **KW)
    spec = state["spec"]  # the same, in a checkpoint written under the spec's earlier key names
    spec["recipe"], spec["dataset"], spec["data"] = spec.pop("recipe_settings"), "imagenette-tiny", spec["dataset"]
    ckpt.save({k: v for k, v in state.items() if k != "format"}, path)
    with pytest.raises(ckpt.CheckpointError, match="different run.*dataset: checkpoint 'official:md5:0123'"):
        cl.train(16, epochs=1, out_dir=tmp_path, resume=True, **KW)


def test_a_run_folder_in_use_is_refused(tmp_path, capsys):
    from convnext_lesson.cli import main

    run_dir = tmp_path / "resnet50-smoke-imagenette-tiny" / "step16-separate_downsampling-seed0"
    with ckpt.lock_run_folder(run_dir):
        with pytest.raises(ckpt.CheckpointError, match=rf"another process \(pid {os.getpid()}\) is training "
                                                       rf".*step16-separate_downsampling-seed0; wait for it"):
            cl.train(16, out_dir=tmp_path, **KW)
        assert main(["train", "--step", "16", "--profile", "smoke", "--out", str(tmp_path), "--no-progress"]) == 2
        assert "error: another process" in capsys.readouterr().err
        assert not run_dir.exists()  # nothing was written into the folder in use
    assert cl.train(16, out_dir=tmp_path, **KW).run_dir == run_dir  # released: the next process trains it


def test_stale_temporaries_are_removed_when_a_run_starts(tmp_path):
    run_dir = run_dir_for(tmp_path, "resnet50", "smoke", "imagenette-tiny", cl.get_step(16), 0,
                          {"profile": {"epochs": 1}})
    run_dir.mkdir(parents=True)
    for name in (".checkpoint.pt.tmp-4242", ".result.json.tmp-4242"):
        (run_dir / name).write_bytes(b"left by a run killed while writing")
    run = cl.train(16, epochs=1, out_dir=tmp_path, **KW)
    assert run.run_dir == run_dir
    assert sorted(p.name for p in run_dir.iterdir()) == ["checkpoint.pt", "result.json"]


def test_write_record_leaves_no_temporary_on_a_full_disk(tmp_path, monkeypatch):
    from convnext_lesson.training import files

    record = {k: 1 for k in results.REQUIRED} | {"schema_version": results.SCHEMA_VERSION}

    def full(fd):  # the written bytes reach the disk at fsync, which finds it full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        results.write_record(record, tmp_path / results.RESULT_NAME)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_notebook_conftest_removes_its_runs_folder(tmp_path):
    """The notebooks' conftest makes a temporary runs folder for the kernels, and removes it at the end."""
    session = tmp_path / "session"
    session.mkdir()
    shutil.copy(ROOT / "notebooks" / "conftest.py", session / "conftest.py")
    seen = tmp_path / "seen.txt"
    (session / "test_kernel.py").write_text(
        "import os\n\n\ndef test_kernel_sees_the_folder():\n"
        "    runs = os.environ['CONVNEXT_LESSON_RUNS']\n"
        "    assert os.path.isdir(runs)\n"
        f"    open({str(seen)!r}, 'w').write(runs)\n", encoding="utf-8")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CONVNEXT_LESSON_RUNS"} | {"TMPDIR": str(scratch)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(session)],
                          cwd=session, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert Path(seen.read_text(encoding="utf-8")).parent == scratch and list(scratch.iterdir()) == []


def test_the_command_line_passes_what_the_api_can(tmp_path, capsys):
    """--set changes the network's config and --recipe the recipe: the same run (folder, record) as the API's."""
    from convnext_lesson.cli import main

    api = cl.train(15, epochs=1, out_dir=tmp_path / "api", kernel_size=5, recipe={"mix_prob": 0.0}, **KW)
    assert main(["train", "--step", "15", "--profile", "smoke", "--epochs", "1", "--out", str(tmp_path / "cli"),
                 "--set", "kernel_size=5", "--recipe", "mix_prob=0.0", "--no-progress"]) == 0
    [record] = (tmp_path / "cli").rglob(results.RESULT_NAME)
    cli = json.loads(record.read_text(encoding="utf-8"))
    assert record.parent.name == api.run_dir.name and cli["overrides"] == api.record["overrides"]
    assert cli["config"]["kernel_size"] == 5 and cli["recipe_settings"]["mix_prob"] == 0.0
    assert cli["history"][-1]["train_loss"] == api.history[-1]["train_loss"]
    with pytest.raises(SystemExit):
        main(["train", "--step", "15", "--profile", "smoke", "--set", "kernel_size"])
    assert "expected KEY=VALUE" in capsys.readouterr().err
    assert main(["train", "--step", "15", "--profile", "smoke", "--set", "kernel=5"]) == 2
    assert "kernel" in capsys.readouterr().err


def test_a_busy_machine_gets_one_thread_and_a_quiet_one_torchs_default(monkeypatch):
    from convnext_lesson.model.threads import cpu_threads
    from convnext_lesson.training import runtime

    with cpu_threads(2):
        threads, why = runtime.choose_threads(load=1.0)
        assert threads == 1 and "kept 1.0 cores busy" in why
        assert runtime.choose_threads(load=0.1) == (None, "torch's default (2 threads): the machine was quiet as the "
                                                          "run started")
        monkeypatch.setattr(runtime, "other_processes_load", lambda: None)  # psutil cannot tell: as torch has it
        assert runtime.choose_threads()[0] is None
    with cpu_threads(1):
        assert runtime.choose_threads(load=2.0)[0] is None  # one thread already


def test_a_resumed_run_keeps_the_threads_it_started_with(tmp_path):
    """The low bits of a CPU step depend on the thread count, so a resume trains on the threads of the start."""
    done = cl.train(16, epochs=2, out_dir=tmp_path, **KW)  # smoke: one thread
    assert done.record["threads"] == 1
    path = done.run_dir / ckpt.CHECKPOINT_NAME
    state = ckpt.load(path)
    state.update(threads=2, epoch=1, history=state["history"][:1])  # as if it had started on two, stopped after 1
    ckpt.save({k: v for k, v in state.items() if k != "format"}, path)
    (done.run_dir / results.RESULT_NAME).unlink()
    before = torch.get_num_threads()
    again = cl.train(16, epochs=2, out_dir=tmp_path, resume=True, **KW)
    assert again.record["threads"] == 2 and "resumed" in again.record["threads_reason"]
    assert torch.get_num_threads() == before  # restored after the run
