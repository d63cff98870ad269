"""How many CPU threads torch uses for a block of work: the package's one place that changes it.

A run trains on its profile's threads (``cpu_threads``); small work (counting a step, one image's augmentation)
runs on one (``one_thread``). Measured on a busy 2-core machine: counting a step took 0.19 s on one thread and
2.5 s on two, whose threads wait for each other's core.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def cpu_threads(threads: int | None):
    """torch's CPU threads set to ``threads`` inside the block (None: left as they are), restored after. Nothing is
    changed when the count is already right (it is called once per image)."""
    before = torch.get_num_threads()
    if threads and threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:  # also when the block changed them itself (a resumed run)
            torch.set_num_threads(before)


def use_threads(threads: int | None) -> None:
    """torch's CPU threads for the rest of the process (a notebook's kernel); None: left as they are."""
    if threads and threads != torch.get_num_threads():
        torch.set_num_threads(threads)


def one_thread():
    """Small CPU work on one thread: waking a second one costs more than the work."""
    return cpu_threads(1)
