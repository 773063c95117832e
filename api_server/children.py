"""Child processes that end with their parent and stop on a signal they always handle: ``scripts/serve.py``'s API
and worker, and the services the test and benchmark helpers start.

A child runs in a session of its own (a terminal's Ctrl-C reaches it only through its parent) and, on Linux,
gets SIGTERM when the thread that started it ends (``PR_SET_PDEATHSIG``), so a parent killed with SIGKILL leaves
nothing running. It is stopped with SIGTERM, never SIGINT: a process started in the background by a script
(``cmd &``, as a supervisor or ``nohup`` may do) inherits SIGINT ignored, and would only wait for the KILL.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import time

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_S = 20.0
"""How long a child has to end after SIGTERM (a worker re-queues its running job) before it is killed."""


def _parent_death_signal():
    """A function for ``preexec_fn`` that asks the kernel to send SIGTERM when the parent ends (Linux), or None.
    Everything it calls is looked up here, before the fork."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    parent, term, kill, me = os.getpid(), signal.SIGTERM, os.kill, os.getpid

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(term))
        if os.getppid() != parent:  # the parent ended before the request was made
            kill(me(), term)

    return arm


def spawn(argv: list[str], **popen) -> subprocess.Popen:
    """Start ``argv`` in its own session, to be sent SIGTERM when the calling thread ends (so call it from a
    thread that lives as long as the child should). ``popen``: more ``subprocess.Popen`` arguments."""
    return subprocess.Popen(argv, start_new_session=True, preexec_fn=_parent_death_signal(), **popen)


def stop(named: list[tuple[str, subprocess.Popen]], timeout: float = STOP_TIMEOUT_S) -> list[int]:
    """SIGTERM to every ``(name, process)`` at once, then SIGKILL to those not ended within ``timeout`` seconds;
    their exit statuses, in order."""
    for _name, proc in named:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
    deadline = time.monotonic() + timeout
    codes = []
    for name, proc in named:
        try:
            codes.append(proc.wait(max(0.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            log.warning("the %s did not stop %g s after SIGTERM; killing it", name, timeout)
            proc.kill()
            codes.append(proc.wait())
    return codes
