"""Real servers for tests: ``blocksnap serve`` as a subprocess on a free loopback port.

Every server is started with the test root key (:data:`ROOT_KEY_ID`,
:data:`ROOT_SECRET`) and every client here signs with it: boto3's, and
:meth:`BlocksnapServer.http`, a ``requests`` session signing with botocore's
SigV4 signer for the tests that send hand-made requests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parent.parent
ROOT_KEY_ID = "AKIDBLOCKSNAPTEST000"
ROOT_SECRET = "blocksnap-test-root-secret"
ROOT_ENV = {"BLOCKSNAP_ROOT_ACCESS_KEY_ID": ROOT_KEY_ID, "BLOCKSNAP_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}


class ServiceProcess:
    """A server program run as a subprocess; ``start`` returns once it prints its ready line.

    ``ready`` is a regular expression whose first group (the URL or socket
    path the program serves on) becomes :attr:`address`.
    """

    def __init__(self, command: list[str], ready: str, env: dict[str, str] | None = None):
        self.command = command
        self.ready = re.compile(ready)
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.address: str | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 30.0) -> str:
        self.address = None
        self.proc = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1", **self.env),
            cwd=ROOT,
        )
        started = threading.Event()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)
                match = self.ready.search(line)
                if match and self.address is None:
                    self.address = match.group(1)
                    started.set()
            started.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        if not started.wait(timeout) or self.address is None:
            self.stop()
            raise RuntimeError(f"{self.command[2]} did not start:\n" + "".join(self.output))
        return self.address

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self._pump.join(timeout)
        self.proc = None
        return code

    def kill(self, timeout: float = 30.0) -> None:
        """SIGKILL: a crash, not a shutdown.

        The output pump ends when every holder of the server's stdout is
        gone, which includes any child the kill left behind; so it is joined
        with a timeout, and a test can then see such a child for itself.
        """
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self._pump.join(timeout)
        self.proc = None


class BlocksnapServer:
    """``blocksnap serve --port 0`` in a subprocess; ``url`` is known once it is ready.

    With ``moto`` (a running moto server) and ``names`` it serves the AWS
    backend on that server's DynamoDB, DynamoDB Streams and S3.
    """

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, moto=None, names=None,
                 args: tuple[str, ...] = ()):
        """``env`` may replace the root key (:data:`ROOT_ENV`); ``args`` go to ``serve`` (``--no-auth``)."""
        self.data_dir = Path(data_dir)
        env = {**ROOT_ENV, **(env or {})}
        self.env = env
        self.moto = moto
        self.names = names
        self.backend = "embedded"
        if moto is not None:
            self.backend = "aws"
            env.update(
                BLOCKSNAP_BACKEND="aws",
                AWS_ENDPOINT_URL=moto.endpoint_url,
                AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing",
                AWS_DEFAULT_REGION=moto.region,
                BLOCKSNAP_EVENTS_TABLE=names.events_table,
                BLOCKSNAP_SNAPSHOTS_TABLE=names.snapshots_table,
                BLOCKSNAP_BUCKET=names.bucket,
            )
        self.process = ServiceProcess(
            [sys.executable, "-m", "chalicelib.cli.main", "serve", "--host", "127.0.0.1",
             "--port", "0", "--nbd-port", "0", "--data-dir", str(self.data_dir), *args],
            r"blocksnap serving on (http://[0-9.]+:[0-9]+)",
            env,
        )
        self.url: str | None = None

    @property
    def output(self) -> list[str]:
        return self.process.output

    @property
    def proc(self) -> subprocess.Popen | None:
        return self.process.proc

    def start(self, timeout: float = 30.0) -> BlocksnapServer:
        self.url = self.process.start(timeout)
        return self

    @property
    def nbd_url(self) -> str:
        """``nbd://HOST:PORT`` of the volumes' exports (printed before the HTTP ready line)."""
        found = [m.group(1) for line in self.output if (m := re.search(r"nbd exports on (nbd://\S+)", line))]
        return found[-1]

    def stop(self, timeout: float = 30.0) -> int | None:
        self.url = None
        return self.process.stop(timeout)

    def kill(self) -> None:
        self.url = None
        self.process.kill()

    def client(self, **config):
        return ebs_client(self.url, **config)

    def ec2(self, **config):
        return ec2_client(self.url, **config)

    def http(self, key_id: str = ROOT_KEY_ID, secret: str = ROOT_SECRET) -> requests.Session:
        """A ``requests`` session whose requests are signed (service ``ebs``) with the given key."""
        session = requests.Session()
        session.auth = SignedRequests(key_id, secret)
        return session

    @property
    def credentials(self) -> dict[str, str]:
        """The root key as boto3 keyword arguments."""
        return {"aws_access_key_id": ROOT_KEY_ID, "aws_secret_access_key": ROOT_SECRET}

    def store(self):
        """The server's block store, to look at what it really keeps."""
        if self.moto is not None:
            from chalicelib.adapters.s3_blocks import S3BlockStore

            return S3BlockStore(self.moto.client("s3"), self.names.bucket)
        from chalicelib.adapters.file_blocks import FileBlockStore

        return FileBlockStore(self.data_dir / "store")

    def events(self):
        """The server's event store, to see what it recorded."""
        if self.moto is not None:
            from chalicelib.adapters.dynamodb_events import DynamoDBEventStore

            return DynamoDBEventStore(self.names.events_table, host=self.moto.endpoint_url, region=self.moto.region)
        from chalicelib.adapters.sqlite_events import SQLiteEventStore

        return SQLiteEventStore(self.data_dir / "events.sqlite3")


def ec2_client(url: str, key_id: str = ROOT_KEY_ID, secret: str = ROOT_SECRET, **config):
    return boto3.client(
        "ec2",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
    )


def ebs_client(url: str, key_id: str = ROOT_KEY_ID, secret: str = ROOT_SECRET, **config):
    return boto3.client(
        "ebs",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
    )


class SignedRequests(requests.auth.AuthBase):
    """SigV4 for ``requests``: botocore signs the host, Content-Type and x-amz-* headers and the body's hash."""

    def __init__(self, key_id: str, secret: str, service: str = "ebs"):
        self.credentials = Credentials(key_id, secret)
        self.service = service

    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        signed = {k: v for k, v in prepared.headers.items() if k.lower().startswith("x-amz-") or k.lower() == "content-type"}
        body = prepared.body or b""
        request = AWSRequest(method=prepared.method, url=prepared.url, headers=signed,
                             data=body.encode() if isinstance(body, str) else body)
        SigV4Auth(self.credentials, self.service, "us-east-1").add_auth(request)
        prepared.headers.update({k: v for k, v in request.headers.items() if k not in signed})
        return prepared
