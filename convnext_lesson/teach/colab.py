"""Google Drive on Colab: runs and data that outlive the runtime, in one call (``use_drive``).

A Colab runtime loses its disk when it ends, and with it every checkpoint and the downloaded dataset.
``cl.use_drive()`` mounts your Google Drive and points ``$CONVNEXT_LESSON_RUNS`` and
``$CONVNEXT_LESSON_DATA`` at ``MyDrive/convnext-lesson/runs`` and ``.../data``, so a run started in one
runtime resumes from its last checkpoint in the next. Each Colab notebook has its own runtime: call it
near the top of every notebook whose runs you want to keep.

Data: a dataset archive found in ``$CONVNEXT_LESSON_DATA`` is checked and unpacked onto the runtime's own
disk (reading thousands of small images through Drive would be slow), and ``use_drive`` copies archives
already downloaded in this runtime into the Drive folder, so the next runtime does not download them again.

Drive's filesystem, what is known and what is not (nothing here has run on a real Drive yet: unverified):

- Colab mounts Drive with a FUSE filesystem (``fuse.drive``). Writes reach Google's servers in the
  background; ``google.colab.drive.flush_and_unmount()`` pushes what is pending. A checkpoint written
  seconds before a runtime dies may be missing from Drive: the run then resumes from the one before.
- The run-folder lock (``checkpoint.lock_run_folder``) is ``flock`` on a file beside the run folder. On a
  FUSE filesystem that does not implement locks, Linux keeps the lock itself: it holds between processes
  of one runtime, and two runtimes (two sessions on the same Drive) do not see each other's locks. So do
  not train one run folder from two sessions at once.
- Checkpoints and records are written to a temporary file and renamed over the old one (``os.replace``),
  atomic on a local disk; on Drive the rename is whatever DriveFS makes of it.
- On a plain passthrough FUSE filesystem (no lock operations) both held: a second process was refused the
  lock, and a reader never saw a partial checkpoint while 300 saves replaced it (README, Colab section).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..training.data import ENV_DATA, default_download_dir
from ..training.datasets import DATASETS
from ..training.plan import ENV_RUNS
from ..training.runtime import in_colab

MOUNTPOINT = "/content/drive"  # where Colab's own examples mount Drive
FOLDER = "MyDrive/convnext-lesson"  # under the mount point

NOT_COLAB = ("cl.use_drive() mounts Google Drive, which only works in a Colab notebook. Here runs and data "
             "already stay on this machine's disk (runs in ./runs, the dataset in the project's data/ folder or "
             "~/.cache/convnext_lesson); to keep them elsewhere, set the environment variables "
             f"{ENV_RUNS} and {ENV_DATA} to folders of your choice before starting Jupyter.")


def archive_names() -> set[str]:
    """File names of every dataset archive the course reads (official archives and offline packs)."""
    return {a.file for info in DATASETS.values() for a in ((info.official,) if info.official else ()) + info.packs}


def save_archives(data_dir: Path, downloads: Path | None = None) -> list[str]:
    """Copy dataset archives downloaded in this runtime into ``data_dir`` when it lacks them; their names."""
    downloads = default_download_dir() if downloads is None else downloads
    saved = []
    for name in sorted(archive_names()):
        source, target = downloads / name, data_dir / name
        if source.is_file() and not (target.is_file() and target.stat().st_size == source.stat().st_size):
            tmp = data_dir / f".{name}.part"
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)  # a whole archive or none: a half copy would fail its checksum later
            saved.append(name)
    return saved


def use_drive(folder: str | os.PathLike | None = None, mountpoint: str = MOUNTPOINT) -> Path:
    """Mount Google Drive and keep this notebook's runs and data in ``folder`` (default
    ``<mountpoint>/MyDrive/convnext-lesson``); returns that folder. Colab asks for access once per runtime."""
    if not in_colab():
        raise RuntimeError(NOT_COLAB)
    from google.colab import drive

    drive.mount(mountpoint)
    root = Path(folder) if folder is not None else Path(mountpoint) / FOLDER
    runs, data = root / "runs", root / "data"
    runs.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    os.environ[ENV_RUNS], os.environ[ENV_DATA] = str(runs), str(data)
    saved = save_archives(data)
    print(f"runs: {runs}\ndata: {data}" + (f" (saved there: {', '.join(saved)})" if saved else ""))
    print("Drive saves in the background: before closing, drive.flush_and_unmount() "
          "(from google.colab import drive) pushes what is still pending.")
    return root
