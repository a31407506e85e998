"""Local isolation: another user of the machine can read nothing in the data dir.

The data dir sits in a directory everybody may enter, so that only the data
dir's own modes stand between user ``nobody`` and the store. The encryption
socket is left out here: its modes and peer check have tests of their own.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.servers import BlocksnapServer

from .conftest import block, snapshot

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="reading as user nobody needs root")

SOCKET = "encryption.sock"


@pytest.fixture
def open_parent():
    parent = Path(tempfile.mkdtemp(prefix="blocksnap-isolation-", dir="/tmp"))
    os.chmod(parent, 0o755)
    yield parent
    shutil.rmtree(parent, ignore_errors=True)


def _as_nobody(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, user="nobody", capture_output=True, text=True, timeout=10)


def _open_to_others(data_dir: Path) -> list[str]:
    found = []
    for path in [data_dir, *data_dir.rglob("*")]:
        if path.name == SOCKET:
            continue
        mode = path.lstat().st_mode
        if stat.S_IMODE(mode) & 0o077:
            found.append(f"{path.relative_to(data_dir)} {stat.S_IMODE(mode):04o}")
    return found


def test_nothing_in_a_new_data_dir_is_readable_by_another_user(open_parent):
    data_dir = open_parent / "data"
    srv = BlocksnapServer(data_dir).start()
    try:
        snapshot(srv.client(), {0: block("private"), 7: block("private7")})
        names = {p.name for p in data_dir.iterdir()}
        assert {"events.sqlite3", "events.sqlite3-wal", "events.sqlite3-shm", "readmodels.sqlite3",
                "token-secret", "store"} <= names, names
        assert _open_to_others(data_dir) == []
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        block_file = next(p for p in (data_dir / "store" / "blobs").rglob("*") if p.is_file())
        for target in (data_dir / "events.sqlite3", data_dir / "token-secret", block_file):
            denied = _as_nobody("cat", str(target))
            assert denied.returncode != 0 and "Permission denied" in denied.stderr, target
        assert _as_nobody("ls", str(data_dir)).returncode != 0
    finally:
        srv.stop()


def test_an_existing_data_dir_open_to_others_is_closed_with_a_warning(open_parent):
    data_dir = open_parent / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    (data_dir / "events.sqlite3").touch(mode=0o644)  # left by an older blocksnap
    os.chmod(data_dir / "events.sqlite3", 0o644)
    srv = BlocksnapServer(data_dir).start()
    try:
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert any("was open to other users (mode 0755); it is now 0700" in line for line in srv.output)
        assert _as_nobody("cat", str(data_dir / "events.sqlite3")).returncode != 0
    finally:
        srv.stop()
