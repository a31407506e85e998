"""The embedded encryption worker as a real process, through the API's socket client."""

from __future__ import annotations

import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from chalicelib import wiring
from chalicelib.adapters.worker_encryption import WorkerEncryptionFunction
from chalicelib.core.blockio import BlockIO
from chalicelib.domain import keys
from chalicelib.domain.checksums import sha256_b64
from chalicelib.domain.errors import CorruptData, DependencyAccessDenied, ValidationError
from chalicelib.domain.events import COMPLETION_KEY

from tests.servers import ServiceProcess

from .test_copier import build_chain, request_copy

ROOT = Path(__file__).resolve().parents[2]
LINEAGE = "snap-0123456789abcdef0"
ARN = "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555"
READY = "blocksnap encryption worker ready on "


class Worker(ServiceProcess):
    """``python -m chalicelib.encryption.worker`` on a data dir; stopped with SIGTERM."""

    def __init__(self, data_dir: Path, socket: Path | None = None):
        super().__init__(
            [sys.executable, "-m", "chalicelib.encryption.worker", "--data-dir", str(data_dir)]
            + (["--socket", str(socket)] if socket else []),
            READY + "(.+)$",
        )
        self.data_dir = data_dir

    @property
    def socket(self) -> Path | None:
        return None if self.address is None else Path(self.address.strip())

    def start(self, timeout: float = 30.0) -> Worker:
        super().start(timeout)
        return self


@pytest.fixture
def worker(tmp_path):
    worker = Worker(tmp_path / "data").start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def client(worker) -> WorkerEncryptionFunction:
    return WorkerEncryptionFunction(worker.socket, timeout=10)


def _block(seed: int) -> tuple[bytes, str]:
    data = (seed.to_bytes(4, "big") * (512 * 1024 // 4))
    return data, keys.block_key(LINEAGE, seed, sha256_b64(data))


def test_round_trip(client, worker):
    client.create_lineage_key(LINEAGE, ARN)
    client.create_lineage_key(LINEAGE, ARN)
    data, key = _block(1)
    ciphertext = client.encrypt(LINEAGE, key, data)
    assert data[:64] not in ciphertext
    assert client.decrypt(LINEAGE, key, ciphertext) == data
    assert worker.socket == worker.data_dir / "encryption.sock"


def test_the_key_stays_in_the_workers_files(client, worker):
    client.create_lineage_key(LINEAGE, ARN)
    kms = worker.data_dir / "kms"
    assert stat.S_IMODE(kms.stat().st_mode) == 0o700
    assert stat.S_IMODE((kms / "master.key").stat().st_mode) == 0o600
    assert (worker.data_dir / "store" / "keys" / LINEAGE).exists()


def test_tampered_ciphertext_is_a_clean_error(client):
    client.create_lineage_key(LINEAGE, ARN)
    data, key = _block(2)
    ciphertext = bytearray(client.encrypt(LINEAGE, key, data))
    ciphertext[100] ^= 0x01
    with pytest.raises(CorruptData, match="failed authenticated decryption"):
        client.decrypt(LINEAGE, key, bytes(ciphertext))
    assert client.decrypt(LINEAGE, key, client.encrypt(LINEAGE, key, data)) == data  # connection still usable


def test_errors_keep_their_class_and_reason(client):
    data, key = _block(3)
    with pytest.raises(DependencyAccessDenied) as denied:
        client.encrypt(LINEAGE, key, data)
    assert denied.value.reason == "DEPENDENCY_ACCESS_DENIED"
    with pytest.raises(ValidationError, match="block object key"):
        client.encrypt(LINEAGE, "keys/" + LINEAGE, data)


def test_four_threads_at_once(client):
    client.create_lineage_key(LINEAGE, ARN)
    failures: list[BaseException] = []

    def run(thread: int) -> None:
        try:
            for i in range(10):
                data, key = _block(thread * 100 + i)
                assert client.decrypt(LINEAGE, key, client.encrypt(LINEAGE, key, data)) == data
        except BaseException as exc:  # reported below, on the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_restarted_worker_is_reconnected_to(worker, client):
    client.create_lineage_key(LINEAGE, ARN)
    data, key = _block(4)
    ciphertext = client.encrypt(LINEAGE, key, data)
    assert worker.stop() == 0
    worker.start()
    assert client.decrypt(LINEAGE, key, ciphertext) == data


def test_sigterm_stops_cleanly_and_removes_the_socket(worker):
    socket_path = worker.socket
    assert worker.stop() == 0
    assert not socket_path.exists()
    assert "blocksnap encryption worker stopped\n" in worker.output


def test_an_absent_worker_is_a_connection_error(tmp_path):
    client = WorkerEncryptionFunction(tmp_path / "nothing.sock", timeout=1)
    with pytest.raises(ConnectionError, match="nothing.sock"):
        client.create_lineage_key(LINEAGE, ARN)


def test_a_second_worker_on_the_same_socket_refuses(worker):
    second = subprocess.run(
        [sys.executable, "-m", "chalicelib.encryption.worker", "--data-dir", str(worker.data_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert second.returncode != 0
    assert "another worker is serving on" in second.stderr
    assert worker.socket.exists()


def test_the_worker_follows_the_log_and_makes_requested_copies(worker, client):
    """The embedded deployment end to end: the API's process asks, the worker copies, the API reads."""
    runtime = wiring.embedded(worker.data_dir)
    *_, source_id = build_chain(runtime)
    copy_id = request_copy(runtime, source_id).event.snapshot_id
    deadline = time.monotonic() + 60
    while not runtime.events.query(copy_id, COMPLETION_KEY):
        assert time.monotonic() < deadline, "".join(worker.output)
        time.sleep(0.1)
    runtime.projector.catch_up()
    assert runtime.records.get_snapshot(copy_id).status == "completed"
    plain, through_worker = BlockIO(runtime.blocks), BlockIO(runtime.blocks, client)
    source = list(runtime.manifests.open(source_id).entries())
    copy = list(runtime.manifests.open(copy_id).entries())
    assert [e.digest for e in copy] == [e.digest for e in source]
    for s, c in zip(source, copy):
        assert through_worker.read(c, copy_id) == plain.read(s)
    assert int(runtime.records.get_checkpoint("copier")) > 0
