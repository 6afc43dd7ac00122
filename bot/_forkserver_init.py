"""Imported only by multiprocessing's forkserver process (``set_forkserver_preload``).

The forkserver is the parent of every parser worker, and it keeps running as long as any worker
holds the pipe it watches, so a watchbot stopped by SIGTERM or SIGKILL could leave a worker busy
on a pathological feed as an orphan (issue 13, class 1). Asking the kernel to SIGKILL the
forkserver when watchbot (its parent) dies, and each worker when the forkserver dies
(``bot.parse._worker_init``), ends the whole family with watchbot, whatever a worker is stuck in.
Linux only (prctl); elsewhere ``ParsePool.close`` is the only guard.
"""

from __future__ import annotations

import os
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent: int | None = None) -> None:
    """Have the kernel SIGKILL this process when its parent exits (no-op where unsupported)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)  # the parent is already gone: the signal will never come


die_with_parent()
