"""Child processes of ``blocksnap serve`` die with it, even when it is SIGKILLed.

A child learns which process it must outlive from the environment, not from
``getppid()`` at the moment it looks: a child still starting when ``serve``
was killed has already been handed to the reaper (pid 1 or a subreaper), and
would take the reaper for its parent and live on. granian's HTTP workers bind
the port with SO_REUSEPORT, so such a worker would keep answering on the
port of a crashed server, and share it with the next one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

from ..processes import supervisor, supervisor_alive


_PR_SET_PDEATHSIG = 1


def exit_with_supervisor() -> None:
    """Be killed when the supervisor dies (Linux: at once; elsewhere: within a second)."""
    pid = supervisor()
    if sys.platform == "linux":
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if not supervisor_alive(pid):  # gone before prctl took effect, or before this process looked
            os._exit(1)
        return

    def watch() -> None:
        while supervisor_alive(pid):
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="blocksnap-supervisor-watch", daemon=True).start()
