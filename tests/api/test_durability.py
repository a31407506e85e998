"""Restarts, crashes, timeouts and rebuilds against real server processes."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time

import pytest
import requests
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from chalicelib.datadir import hold_data_dir
from tests.servers import BlocksnapServer

from .conftest import BACKENDS, block, put, read_all, snapshot, start_server, wait_status


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stop", ["terminate", "kill"])
def test_restart_in_the_middle_of_a_snapshot(tmp_path, request, stop, backend):
    srv = start_server(backend, request, tmp_path / "data")
    try:
        ebs = srv.client()
        done = snapshot(ebs, {0: block("kept0"), 5: block("kept5")})
        pending = ebs.start_snapshot(VolumeSize=1, ParentSnapshotId=done)["SnapshotId"]
        put(ebs, pending, 1, block("before"))
        srv.kill() if stop == "kill" else srv.stop()
        srv.start()
        ebs = srv.client()
        assert read_all(ebs, done) == {0: block("kept0"), 5: block("kept5")}
        put(ebs, pending, 2, block("after"))
        ebs.complete_snapshot(SnapshotId=pending, ChangedBlocksCount=2)
        wait_status(ebs, pending)
        assert read_all(ebs, pending) == {0: block("kept0"), 1: block("before"), 2: block("after"), 5: block("kept5")}
    finally:
        srv.stop()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_kill_under_load_loses_no_acknowledged_write(tmp_path, request, backend):
    """SIGKILL while four clients write; after a restart, every acknowledged block reads back whole,
    and the writes that got no answer can simply be retried, as a client would."""
    srv = start_server(backend, request, tmp_path / "data", env={"BLOCKSNAP_PROCESSES": "2"})
    try:
        ebs = srv.client()
        parent = snapshot(ebs, {0: block("parent0"), 150: block("parent150")})
        sid = ebs.start_snapshot(VolumeSize=1, ParentSnapshotId=parent)["SnapshotId"]
        acknowledged: set[int] = set()
        failures: list[Exception] = []
        lock = threading.Lock()

        def writer(first: int) -> None:
            client = srv.client(connect_timeout=2, read_timeout=10)
            for index in range(first, 200, 4):
                try:
                    put(client, sid, index, block(f"w{index}"))
                except (BotoConnectionError, HTTPClientError):
                    return  # the server is gone: this write got no answer
                except Exception as exc:  # an answer, but not a success: that is a failure
                    failures.append(exc)
                    return
                with lock:
                    acknowledged.add(index)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        srv.kill()
        for thread in threads:
            thread.join(30)
        assert failures == []
        assert 50 <= len(acknowledged) < 200, "the kill did not land in the middle of the writes"
        srv.start()
        ebs = srv.client()
        for index in sorted(set(range(200)) - acknowledged):
            put(ebs, sid, index, block(f"w{index}"))
        ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=200)
        assert wait_status(ebs, sid) == "completed"
        expected = {index: block(f"w{index}") for index in range(200)}
        assert read_all(ebs, sid) == expected
    finally:
        srv.stop()


def test_sigterm_shuts_down_cleanly(tmp_path):
    """And nothing alarming is printed on the way: with the default thread count granian warns on few cores."""
    srv = BlocksnapServer(tmp_path / "data").start()
    output = srv.output
    assert srv.stop() == 0
    assert "blocksnap stopped" in [line.strip() for line in output]
    assert [line for line in output if "WARNING" in line or "Traceback" in line] == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_idle_pending_snapshot_times_out(tmp_path, request, backend):
    srv = start_server(backend, request, tmp_path / "data", env={"BLOCKSNAP_TIMEOUT_MINUTE_SECONDS": "0.05"})
    try:
        ebs = srv.client()
        idle = ebs.start_snapshot(VolumeSize=1, Timeout=10)["SnapshotId"]
        busy = ebs.start_snapshot(VolumeSize=1, Timeout=4320)["SnapshotId"]
        deadline = time.monotonic() + 15
        doc = {}
        while time.monotonic() < deadline:
            doc = srv.http().get(f"{srv.url}/blocksnap/v1/snapshots/{idle}").json()
            if doc["Status"] != "pending":
                break
            time.sleep(0.1)
        assert doc["Status"] == "error" and doc["StateMessage"] == "Snapshot timed out"
        assert ebs.complete_snapshot(SnapshotId=idle, ChangedBlocksCount=0)["Status"] == "error"
        with pytest.raises(ClientError) as e:
            put(ebs, idle, 0, block("late"))
        assert e.value.response["Reason"] == "SNAPSHOT_NOT_FOUND"
        put(ebs, busy, 0, block("fine"))
    finally:
        srv.stop()


def _rebuild_scenario(ebs) -> None:
    """Chains three deep, a failed snapshot and a pending one with a write: all a rebuild must reproduce."""
    root = snapshot(ebs, {i: block(f"r{i}") for i in range(0, 300, 3)})
    child = snapshot(ebs, {i: block(f"c{i}") for i in range(0, 300, 7)}, parent=root)
    snapshot(ebs, {1: block("s")}, parent=child)
    failed = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    put(ebs, failed, 0, block("f"))
    ebs.complete_snapshot(SnapshotId=failed, ChangedBlocksCount=3)
    wait_status(ebs, failed, "error")
    pending = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    time.sleep(0.01)
    put(ebs, pending, 0, block("p"))  # moves the pending record's last activity past its start


def _read_models(runtime) -> tuple[list, dict]:
    records = [r.to_dict() for r in runtime.records.all_snapshots()]
    return records, {key: runtime.blocks.get(key) for key in runtime.blocks.list("manifests/")}


@pytest.mark.parametrize("backend", BACKENDS)
def test_rebuild_gives_identical_read_models(tmp_path, request, monkeypatch, backend):
    """Records and manifest pages come back byte-identical (AWS: from the event table, not the stream)."""
    from chalicelib import wiring

    data = tmp_path / "data"
    srv = start_server(backend, request, data)
    try:
        _rebuild_scenario(srv.client())
    finally:
        srv.stop()
    if backend == "aws":
        for name, value in srv.env.items():
            monkeypatch.setenv(name, value)
        runtime, where = (lambda: wiring.aws(poll_stream=False)), ["--backend", "aws"]
    else:
        runtime, where = (lambda: wiring.embedded(data)), ["--data-dir", str(data)]
    before = _read_models(runtime())
    assert len(before[0]) == 5 and before[1], "records and manifests were written"
    result = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli.main", "rebuild", *where, "--no-progress"],
        capture_output=True, text=True, timeout=300, env={**os.environ},
    )
    assert result.returncode == 0, result.stderr
    assert "rebuilt 5 snapshot records" in result.stdout
    after = _read_models(runtime())
    assert after[0] == before[0]
    assert after[1] == before[1]


def test_several_server_processes_share_one_socket_and_one_data_dir(tmp_path):
    srv = BlocksnapServer(tmp_path / "data", env={"BLOCKSNAP_PROCESSES": "2"}).start()
    try:
        clients = [srv.client() for _ in range(6)]
        sids = [snapshot(ebs, {i: block(f"p{n}-{i}") for i in range(8)}) for n, ebs in enumerate(clients)]
        for n, (ebs, sid) in enumerate(zip(clients, sids)):
            assert read_all(ebs, sid) == {i: block(f"p{n}-{i}") for i in range(8)}
    finally:
        assert srv.stop() == 0
    assert "blocksnap stopped" in [line.strip() for line in srv.output]


def test_http_workers_die_with_a_killed_server(tmp_path):
    """No stale worker keeps answering on the port of a crashed server (and writing to its data dir)."""
    srv = BlocksnapServer(tmp_path / "data", env={"BLOCKSNAP_PROCESSES": "2"}).start()
    url = srv.url
    assert srv.http().get(f"{url}/blocksnap/v1/snapshots/snap-00000000000000000", timeout=5).status_code == 404
    srv.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/blocksnap/v1/snapshots/snap-00000000000000000", timeout=1)
        except requests.ConnectionError:
            return
        time.sleep(0.1)
    pytest.fail(f"{url} still answers 10 s after its server was killed")


def _second_command(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli.main", *argv], capture_output=True, text=True, timeout=120
    )


def test_a_running_server_keeps_its_port_and_its_data_dir(tmp_path):
    """granian listens with SO_REUSEPORT: unchecked, a second server would take half the connections.

    And a rebuild under a live projector can end with no manifests, so it is refused.
    """
    srv = BlocksnapServer(tmp_path / "data").start()
    try:
        port = srv.url.rsplit(":", 1)[1]
        same_port = _second_command("serve", "--port", port, "--data-dir", str(tmp_path / "other"))
        assert (same_port.returncode, same_port.stderr) == (
            1, f"blocksnap: cannot listen on {srv.url}: Address already in use\n"
        )
        pid = srv.proc.pid
        same_dir = _second_command("serve", "--port", "0", "--nbd-port", "0", "--data-dir", str(tmp_path / "data"))
        rebuild = _second_command("rebuild", "--data-dir", str(tmp_path / "data"), "--no-progress")
        for result in (same_dir, rebuild):
            assert (result.returncode, result.stderr) == (
                1, f"blocksnap: the data dir {tmp_path / 'data'} is in use by blocksnap serve (pid {pid}); "
                "stop it first\n"
            )
        assert srv.http().get(f"{srv.url}/blocksnap/v1/snapshots/snap-00000000000000000", timeout=5).status_code == 404
    finally:
        srv.stop()
    rebuilt = _second_command("rebuild", "--data-dir", str(tmp_path / "data"), "--no-progress")
    assert rebuilt.returncode == 0, rebuilt.stderr


def test_a_signal_during_start_up_stops_the_encryption_worker(tmp_path):
    """The worker shares the data dir's lock: the data dir is free again only once it has exited too."""
    data_dir = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.cli.main", "serve", "--port", "0", "--nbd-port", "0",
         "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        for line in proc.stdout:
            if "encryption worker ready" in line:  # before the HTTP workers are up
                proc.terminate()
                break
        output = proc.communicate(timeout=60)[0]
    finally:
        proc.kill()
    assert proc.returncode == 143
    assert "Traceback" not in output
    assert not (data_dir / "encryption.sock").exists()
    hold_data_dir(data_dir, "test", wait_seconds=2.0).close()


def test_a_kill_during_uploads_completions_and_encrypted_copies_loses_nothing_acknowledged(tmp_path):
    """SIGKILL at a random moment while snapshots are written and completed and encrypted copies run.

    After a restart every acknowledged completion ends completed with its blocks, and every
    acknowledged copy completes identical to its source: sealing and copying resume from the log.
    """
    from blocksnap_client.extensions import BlocksnapClient

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    srv = BlocksnapServer(tmp_path / "data").start()
    try:
        source = snapshot(srv.client(), {i: block(f"src{i}") for i in range(0, 40, 3)})
        completed: dict[str, dict[int, bytes]] = {}
        copies: list[str] = []
        stop = threading.Event()

        def writer(n: int) -> None:
            ebs = srv.client(connect_timeout=2, read_timeout=10)
            try:
                while not stop.is_set():
                    sid = ebs.start_snapshot(VolumeSize=1, ParentSnapshotId=source)["SnapshotId"]
                    blocks = {i: block(f"{sid}-{i}") for i in rng.sample(range(64), 3)}
                    for index, data in blocks.items():
                        put(ebs, sid, index, data)
                    ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=len(blocks))
                    completed[sid] = blocks
            except (BotoConnectionError, HTTPClientError):
                return

        def copier() -> None:
            client = BlocksnapClient(srv.url, **srv.credentials)
            try:
                while not stop.is_set():
                    copies.append(client.copy_snapshot(source, Encrypted=True)["SnapshotId"])
                    time.sleep(0.2)
            except Exception:  # the server is gone
                return

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)] + [threading.Thread(target=copier)]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(1.0, 3.0))
        srv.kill()
        stop.set()
        for thread in threads:
            thread.join(30)
        assert completed and copies, f"seed {seed}: the kill came before any completion or copy"
        srv.start()
        ebs = srv.client()
        client = BlocksnapClient(srv.url, **srv.credentials)
        expected_source = read_all(ebs, source)
        for sid, blocks in completed.items():
            assert wait_status(ebs, sid) == "completed", f"seed {seed}"
            assert read_all(ebs, sid) == {**expected_source, **blocks}, f"seed {seed}: {sid}"
        for copy in copies:
            deadline = time.monotonic() + 60
            while (doc := client.describe_snapshot(copy))["Status"] == "pending" and time.monotonic() < deadline:
                time.sleep(0.1)
            assert doc["Status"] == "completed" and doc["Encrypted"] is True, f"seed {seed}: {doc}"
            assert read_all(ebs, copy) == expected_source, f"seed {seed}: {copy}"
    finally:
        srv.stop()
