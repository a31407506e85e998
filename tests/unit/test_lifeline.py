"""A child of ``blocksnap serve`` dies with it, even when it starts up only after ``serve`` was killed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The supervisor starts a child and dies at once; the child, like a slow
# granian worker, arms its lifeline only after that.
_SUPERVISOR = """
import os, subprocess, sys
from chalicelib.processes import mark_supervisor
mark_supervisor()
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
os._exit(0)
"""

_CHILD = """
import os, sys, time
from pathlib import Path
marks = Path(sys.argv[1])
time.sleep(0.5)
from chalicelib.processes import exit_with_supervisor
(marks / "pid").write_text(str(os.getpid()))
exit_with_supervisor()
(marks / "outlived").touch()
time.sleep(30)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_a_child_armed_after_its_supervisor_died_exits(tmp_path):
    subprocess.run([sys.executable, "-c", _SUPERVISOR, _CHILD, str(tmp_path)], cwd=ROOT, check=True, timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert not (tmp_path / "outlived").exists()
        if (tmp_path / "pid").exists() and not _running(int((tmp_path / "pid").read_text())):
            return
        time.sleep(0.05)
    raise AssertionError("the child neither exited nor went on within 30 s")


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for whatever reaper adopted it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
