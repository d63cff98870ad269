"""Download and unpack archives so that nothing half-done ever looks complete.

A download streams into ``<name>.part`` (resumed with an HTTP Range request when
the server allows it), is checked against its size and MD5, and only then renamed
to ``<name>``. An archive unpacks into a hidden temporary folder next to the target
and is renamed into place in one step. So a crash, a full disk or a killed Colab
session leaves a ``.part`` file or a hidden folder, never a folder that passes for
a dataset; the next unpack into that folder removes such leftovers.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

CHUNK = 1 << 20
LEFTOVER_AGE_S = 3600  # an unpack's temporary folder older than this was left by a killed process


class DownloadError(RuntimeError):
    """A download or an archive that cannot be used; the message says what to do."""


def file_digest(path: str | os.PathLike, algorithm: str = "md5") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _progress(total: int | None, initial: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                disable=not enabled, leave=True)


def download(url: str, dest: str | os.PathLike, md5: str | None = None, size: int | None = None,
             progress: bool = True, opener=urllib.request.urlopen) -> Path:
    """Download ``url`` to ``dest`` and verify it; returns ``dest``.

    ``md5`` and ``size`` (bytes) are checked when given. An existing ``dest`` is
    verified, not downloaded again. ``opener`` is ``urllib.request.urlopen`` (tests
    pass ``file://`` URLs or a fake).
    """
    dest = Path(dest)
    if dest.exists():
        verify(dest, md5, size)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    done = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "convnext-lesson"})
    if done and url.startswith(("http://", "https://")):
        request.add_header("Range", f"bytes={done}-")  # resume what a dead session left
    try:
        response = opener(request, timeout=60)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise DownloadError(f"could not download {url}: {error}. Without internet, put an offline copy of the "
                            f"archive at {dest} (or see data/README.md)") from error
    with response:
        resumed = done and getattr(response, "status", None) == 206
        if not resumed:
            done = 0
        length = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
        total = done + int(length) if length and length.isdigit() else size
        with open(part, "ab" if resumed else "wb") as f, _progress(total, done, dest.name, progress) as bar:
            try:
                for block in iter(lambda: response.read(CHUNK), b""):
                    f.write(block)
                    bar.update(len(block))
            except (OSError, urllib.error.URLError) as error:
                raise DownloadError(f"download of {url} broke off after {f.tell()} bytes ({error}); "
                                    f"run again to resume from {part}") from error
            f.flush()
            os.fsync(f.fileno())
    got = part.stat().st_size
    if total is not None and got < total:
        raise DownloadError(f"download of {url} is incomplete: {got} of {total} bytes in {part}; run again to "
                            "resume")
    try:
        verify(part, md5, size)
    except DownloadError:
        part.unlink()  # a complete but wrong file cannot be resumed into a right one
        raise
    os.replace(part, dest)
    return dest


def verify(path: Path, md5: str | None = None, size: int | None = None, sha256: str | None = None) -> None:
    """Raise ``DownloadError`` unless ``path`` has the given size, MD5 and SHA256."""
    got_size = path.stat().st_size
    if size is not None and got_size != size:
        raise DownloadError(f"{path} has {got_size} bytes, expected {size}: it is truncated or not the "
                            "expected file. Delete it and download again")
    for algorithm, expected in (("md5", md5), ("sha256", sha256)):
        if expected is not None:
            got = file_digest(path, algorithm)
            if got != expected:
                raise DownloadError(f"{path} is corrupt or not the expected file: its {algorithm.upper()} is {got}, "
                                    f"expected {expected}. Delete it and download (or copy) it again")


def extract(archive: str | os.PathLike, dest_dir: str | os.PathLike, top: str, replace: bool = False) -> Path:
    """Unpack ``archive`` and move its top folder ``top`` to ``dest_dir/top`` atomically.

    Returns ``dest_dir/top``. An existing ``dest_dir/top`` is kept, or with ``replace``
    swapped for the new one once that is complete. A truncated or corrupt archive
    raises ``DownloadError`` and leaves ``dest_dir`` as it was.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    target = dest_dir / top
    if target.exists() and not replace:
        return target
    dest_dir.mkdir(parents=True, exist_ok=True)
    for leftover in dest_dir.glob(f".{top}.extract-*"):  # young ones may be another process's unpack in progress
        if time.time() - leftover.stat().st_mtime > LEFTOVER_AGE_S:
            shutil.rmtree(leftover, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{top}.extract-", dir=dest_dir))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(tmp, filter="data")  # refuses absolute paths, links out, devices
                else:  # Python < 3.10.12: check the paths ourselves
                    for member in tar.getmembers():
                        if member.name.startswith("/") or ".." in Path(member.name).parts:
                            raise tarfile.TarError(f"unsafe path {member.name!r}")
                    tar.extractall(tmp)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
            raise DownloadError(f"{archive} is corrupt or truncated ({type(error).__name__}: {error}); delete it "
                                "and download (or copy) it again") from error
        if not (tmp / top).is_dir():
            found = ", ".join(sorted(p.name for p in tmp.iterdir())) or "nothing"
            raise DownloadError(f"{archive} does not hold a folder {top!r} (found: {found})")
        if replace and target.exists():
            os.replace(target, tmp / ".replaced")  # out of the way (deleted below with tmp)
        try:
            os.replace(tmp / top, target)
        except OSError:
            if not target.is_dir():  # another process won the race: theirs is complete too
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
