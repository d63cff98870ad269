"""Ctrl-C during training: the first asks the run to stop after its current step and save a checkpoint."""
from __future__ import annotations

import signal
import threading


class StopRequest:
    """The first Ctrl-C (SIGINT) asks the loop to stop after the current step and save a
    checkpoint; a second one interrupts at once."""

    def __init__(self, verbose: bool):
        self.requested, self.verbose, self.previous = False, verbose, None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.verbose:
            print("\ninterrupted: stopping after this step and saving a checkpoint (interrupt again to stop now)")

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False
