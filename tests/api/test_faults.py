"""Faults a hostile or unlucky day brings: stalled clients, Ctrl-C, dead workers (issue 12, part 6)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.servers import ROOT, ROOT_ENV, BlocksnapServer, ebs_client

from .conftest import block, checksum, put, read_all, snapshot, wait_status

MISSING = "/blocksnap/v1/snapshots/snap-00000000000000000"


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the direct children of ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append((int(entry.name), cmdline))
    return found


def _child(pid: int, marker: str) -> int:
    matches = [child for child, cmdline in _children(pid) if marker in cmdline]
    assert len(matches) == 1, _children(pid)
    return matches[0]


def _stall(url: str, trickle: bool) -> socket.socket:
    """A connection that sends a PutSnapshotBlock's headers and then nothing (or a byte a second)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(
        b"PUT /snapshots/snap-00000000000000000/blocks/0 HTTP/1.1\r\nHost: x\r\n"
        b"x-amz-Data-Length: 524288\r\nx-amz-Checksum: AAAA\r\nx-amz-Checksum-Algorithm: SHA256\r\n"
        b"Content-Length: 524288\r\n\r\n" + (b"x" if trickle else b"")
    )
    return sock


def test_a_client_is_served_while_100_connections_stall_and_sigterm_still_stops(tmp_path):
    srv = BlocksnapServer(tmp_path / "data").start()
    stalled: list[socket.socket] = []
    stop_trickling = threading.Event()
    try:
        stalled = [_stall(srv.url, trickle=n % 10 == 0) for n in range(100)]

        def trickle() -> None:
            while not stop_trickling.wait(1.0):
                for sock in stalled[::10]:
                    try:
                        sock.send(b"x")
                    except OSError:
                        pass

        threading.Thread(target=trickle, daemon=True).start()
        time.sleep(0.5)  # every stalled request has reached the server
        began = time.monotonic()
        ebs = ebs_client(srv.url)
        sid = snapshot(ebs, {3: block("served")})
        assert read_all(ebs, sid) == {3: block("served")}
        served = time.monotonic() - began
        assert served < 5, f"a normal client took {served:.1f} s behind 100 stalled connections"
        began = time.monotonic()
        assert srv.stop(timeout=20) == 0
        stopped = time.monotonic() - began
        assert stopped < 12, f"SIGTERM took {stopped:.1f} s with 100 stalled connections"
        print(f"served in {served:.2f} s behind 100 stalled connections; SIGTERM stopped serve in {stopped:.2f} s")
    finally:
        stop_trickling.set()
        for sock in stalled:
            sock.close()
        srv.stop()


def _port_answers(url: str) -> bool:
    try:
        requests.get(url + MISSING, timeout=1)
    except requests.ConnectionError:
        return False
    return True


_SERVE = (
    "import sys; from chalicelib.cli.main import main; "
    "sys.exit(main(['serve', '--port', '0', '--nbd-port', '0', '--data-dir', sys.argv[1]]))"
)


def _ctrl_c_during_uploads(trial: int, data_dir: Path) -> float:
    """One trial: serve in a session of its own, as in a terminal; SIGINT to that group while 3 clients upload.

    Returns how long serve took to exit; fails if it is still running after 10 s, if its port still
    answers, or if its encryption worker is left behind.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(data_dir)], cwd=ROOT, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **ROOT_ENV},
    )
    try:
        url = None
        for line in proc.stdout:
            if "blocksnap serving on" in line:
                url = line.split("serving on ", 1)[1].split()[0]
                break
        assert url, f"trial {trial}: serve did not start"
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe flowing
        worker = _child(proc.pid, "chalicelib.encryption.worker")
        ebs = ebs_client(url, connect_timeout=1, read_timeout=5)
        sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
        uploading = threading.Event()

        def upload() -> None:
            data = block(f"t{trial}")
            for index in range(1000):
                try:
                    ebs.put_snapshot_block(SnapshotId=sid, BlockIndex=index, BlockData=data, DataLength=len(data),
                                           Checksum=checksum(data), ChecksumAlgorithm="SHA256")
                except Exception:
                    return
                uploading.set()

        uploaders = [threading.Thread(target=upload, daemon=True) for _ in range(3)]
        for thread in uploaders:
            thread.start()
        assert uploading.wait(10)
        time.sleep(0.05 * (trial % 5))
        began = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"trial {trial}: serve still running 10 s after Ctrl-C")
        stopped = time.monotonic() - began
        assert not _port_answers(url), f"trial {trial}: {url} still answers"
        assert not Path(f"/proc/{worker}").exists(), f"trial {trial}: the encryption worker is still there"
        for thread in uploaders:
            thread.join(10)
        return stopped
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_ctrl_c_during_uploads_stops_serve_every_time(tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C, in the middle of uploads: 20 of 20 stop.

    Two trials at a time, on data dirs of their own, to keep the test's time down.
    """
    with ThreadPoolExecutor(2) as pool:
        times = list(pool.map(lambda n: _ctrl_c_during_uploads(n, tmp_path / f"data{n}"), range(20)))
    print(f"20/20 Ctrl-C stops, {min(times):.2f}–{max(times):.2f} s")


def test_a_killed_http_worker_is_replaced(tmp_path):
    srv = BlocksnapServer(tmp_path / "data").start()
    try:
        os.kill(_child(srv.proc.pid, "spawn_main"), signal.SIGKILL)
        deadline = time.monotonic() + 20
        while True:
            try:
                sid = snapshot(ebs_client(srv.url), {0: block("after")})
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert read_all(ebs_client(srv.url), sid) == {0: block("after")}
        assert any("Unexpected exit from worker-1" in line for line in srv.output)
        assert srv.proc.poll() is None
    finally:
        srv.stop()


def test_a_killed_encryption_worker_is_replaced(tmp_path):
    srv = BlocksnapServer(tmp_path / "data").start()
    try:
        ebs = srv.client()
        before = ebs.start_snapshot(VolumeSize=1, Encrypted=True)["SnapshotId"]
        put(ebs, before, 0, block("before"))  # the request thread now holds a connection to the old worker
        os.kill(_child(srv.proc.pid, "chalicelib.encryption.worker"), signal.SIGKILL)
        deadline = time.monotonic() + 20
        while True:
            try:
                sid = ebs.start_snapshot(VolumeSize=1, Encrypted=True)["SnapshotId"]
                put(ebs, sid, 1, block("after"))
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=1)
        wait_status(ebs, sid)
        assert read_all(ebs, sid) == {1: block("after")}
        assert any("the encryption worker exited with status -9; starting it again" in line for line in srv.output)
    finally:
        srv.stop()
