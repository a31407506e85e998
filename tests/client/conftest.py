"""The client as a user runs it: ``blocksnap`` subcommands in a subprocess, against a real ``blocksnap serve``.

Images are 1 GiB sparse files with an ext4 file system (where ``mkfs.ext4``
is installed) and a few hundred blocks of data written over it, so that an
upload reads a few MiB of data and skips the holes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import ROOT, ROOT_KEY_ID, ROOT_SECRET, BlocksnapServer

BLOCK = 512 * 1024
GIB = 1024**3
ZERO = bytes(BLOCK)


def pattern(tag: str) -> bytes:
    """A 512 KiB block no other tag gives, cheap to make."""
    return hashlib.sha256(tag.encode()).digest() * (BLOCK // 32)


def make_image(path: Path, data_blocks: dict[int, bytes], size: int = GIB) -> Path:
    with open(path, "wb") as f:
        f.truncate(size)
    if shutil.which("mkfs.ext4"):
        subprocess.run(["mkfs.ext4", "-q", "-F", str(path)], check=True, capture_output=True)
    write_blocks(path, data_blocks)
    return path


def write_blocks(path: Path, blocks: dict[int, bytes]) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        for index, data in blocks.items():
            os.pwrite(fd, data, index * BLOCK)
    finally:
        os.close(fd)


def non_zero_blocks(path: Path) -> dict[int, str]:
    """Index -> SHA-256 hex of every block of the image that is not all zeros."""
    found = {}
    with open(path, "rb") as f:
        index = 0
        while data := f.read(BLOCK):
            if data != ZERO[: len(data)]:
                found[index] = hashlib.sha256(data).hexdigest()
            index += 1
    return found


def same_volume(image: Path, out: Path) -> bool:
    """``out`` is the image, zero-padded to whole GiB."""
    size = image.stat().st_size
    if out.stat().st_size != -(-size // GIB) * GIB:
        return False
    with open(image, "rb") as a, open(out, "rb") as b:
        while chunk := a.read(BLOCK):
            if b.read(len(chunk)) != chunk:
                return False
        while rest := b.read(BLOCK):
            if rest != ZERO[: len(rest)]:
                return False
    return True


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def last_line(self) -> str:
        return self.stdout.strip().splitlines()[-1]

    def json(self) -> dict:
        return json.loads(self.stdout)


class Cli:
    """``python -m chalicelib.cli.main ...`` (what the ``blocksnap`` script runs) with a cache dir of its own."""

    def __init__(self, cache_dir: Path, endpoint_url: str | None):
        self.endpoint_url = endpoint_url
        self.env = dict(
            os.environ, BLOCKSNAP_CACHE_DIR=str(cache_dir), AWS_ACCESS_KEY_ID=ROOT_KEY_ID,
            AWS_SECRET_ACCESS_KEY=ROOT_SECRET, AWS_DEFAULT_REGION="us-east-1", PYTHONPATH=str(ROOT),
        )
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EBS"):
            self.env.pop(name, None)

    def command(self, *args: str) -> list[str]:
        endpoint = ["--endpoint-url", self.endpoint_url] if self.endpoint_url and args[0] not in ("--help",) else []
        return [sys.executable, "-m", "chalicelib.cli.main", *map(str, args), *endpoint]

    def __call__(self, *args, timeout: float = 120.0) -> Run:
        done = subprocess.run(self.command(*args), cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        return Run(done.returncode, done.stdout, done.stderr)

    def ok(self, *args, **kw) -> Run:
        run = self(*args, **kw)
        assert run.code == 0, run.stderr
        assert "Traceback" not in run.stderr, run.stderr
        return run

    def popen(self, *args) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = BlocksnapServer(tmp_path_factory.mktemp("client-server")).start()
    yield server
    server.stop()


@pytest.fixture
def cli(server, tmp_path) -> Cli:
    return Cli(tmp_path / "cache", server.url)


def written_blocks(server: BlocksnapServer, snapshot_id: str) -> list[int]:
    """The indexes of every BlockWritten event of the snapshot, from the server's event log, repeats included."""
    with sqlite3.connect(f"file:{server.data_dir / 'events.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT data FROM events WHERE type = 'BlockWritten'").fetchall()
    events = [json.loads(data) for (data,) in rows]
    return sorted(e["index"] for e in events if e["snapshot_id"] == snapshot_id)


def has_extension(server: BlocksnapServer, route: str) -> bool:
    """Whether the server has ``/blocksnap/v1/snapshots/{id}/<route>``: an unknown snapshot gets a 404 either way,
    but only a missing route is an UnknownOperationException."""
    from botocore.exceptions import ClientError

    from blocksnap_client.extensions import BlocksnapClient

    client = BlocksnapClient(server.url, **server.credentials)
    try:
        client._call("GET", f"/blocksnap/v1/snapshots/snap-00000000000000000/{route}", "Probe")
    except ClientError as exc:
        return exc.response["Error"]["Code"] != "UnknownOperationException"
    return True
