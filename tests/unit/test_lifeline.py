"""A child of ``blocksnap serve`` dies with it, even when it starts up only after ``serve`` was killed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The supervisor starts a child and dies at once; the child, like a slow
# granian worker, arms its lifeline only after that.
_SUPERVISOR = """
import os, subprocess, sys
from chalicelib.cli.lifeline import mark_supervisor
mark_supervisor()
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
os._exit(0)
"""

_CHILD = """
import sys, time
from pathlib import Path
marks = Path(sys.argv[1])
time.sleep(0.5)
(marks / "started").touch()
from chalicelib.cli.lifeline import exit_with_supervisor
exit_with_supervisor()
time.sleep(0.5)
(marks / "outlived").touch()
"""


def test_a_child_armed_after_its_supervisor_died_exits(tmp_path):
    subprocess.run([sys.executable, "-c", _SUPERVISOR, _CHILD, str(tmp_path)], cwd=ROOT, check=True, timeout=30)
    deadline = time.monotonic() + 20
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "started").exists(), "the child never ran"
    time.sleep(2.0)
    assert not (tmp_path / "outlived").exists()
