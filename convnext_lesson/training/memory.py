"""Memory, read the same way on Linux, macOS and Windows: this process's peak, and what the machine has free.

``resource`` exists only on POSIX systems, and its ``ru_maxrss`` is in KiB on Linux but in bytes on macOS;
Windows reports the peak working set through psutil, which the Jupyter kernel installs anyway.
"""
from __future__ import annotations

import sys

MIB = 2**20


def peak_rss_mb() -> float:
    """The most resident memory this process has used so far, in MiB."""
    try:
        import resource
    except ImportError:  # Windows
        import psutil

        info = psutil.Process().memory_info()
        return getattr(info, "peak_wset", info.rss) / MIB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024  # macOS: bytes; Linux: KiB


def available_mb() -> float | None:
    """Memory the machine can still give a process, in MiB (None where it cannot be read)."""
    try:
        import psutil
    except ImportError:
        return None
    return psutil.virtual_memory().available / MIB
