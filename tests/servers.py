"""Real servers for tests: ``blocksnap serve`` as a subprocess on a free loopback port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import boto3
from botocore.config import Config

_READY = re.compile(r"(http://[0-9.]+:[0-9]+)")


class BlocksnapServer:
    """``blocksnap serve --port 0`` in a subprocess; ``url`` is known once it is ready.

    With ``moto`` (a running moto server) and ``names`` it serves the AWS
    backend on that server's DynamoDB, DynamoDB Streams and S3.
    """

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, moto=None, names=None):
        self.data_dir = Path(data_dir)
        self.env = dict(env or {})
        self.moto = moto
        self.names = names
        self.backend = "embedded"
        if moto is not None:
            self.backend = "aws"
            self.env.update(
                BLOCKSNAP_BACKEND="aws",
                AWS_ENDPOINT_URL=moto.endpoint_url,
                AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing",
                AWS_DEFAULT_REGION=moto.region,
                BLOCKSNAP_EVENTS_TABLE=names.events_table,
                BLOCKSNAP_SNAPSHOTS_TABLE=names.snapshots_table,
                BLOCKSNAP_BUCKET=names.bucket,
            )
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 30.0) -> BlocksnapServer:
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chalicelib.cli.main", "serve", "--host", "127.0.0.1",
             "--port", "0", "--data-dir", str(self.data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=Path(__file__).resolve().parent.parent,
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)
                match = _READY.search(line)
                if match and self.url is None:
                    self.url = match.group(1)
                    ready.set()
            ready.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        if not ready.wait(timeout) or self.url is None:
            self.stop()
            raise RuntimeError("blocksnap serve did not start:\n" + "".join(self.output))
        return self

    def stop(self, timeout: float = 30.0) -> int | None:
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
        self.url = None
        return code

    def kill(self) -> None:
        """SIGKILL: a crash, not a shutdown."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self._pump.join()
        self.proc = None
        self.url = None

    def client(self, **config):
        return ebs_client(self.url, **config)

    def store(self):
        """The server's block store, to look at what it really keeps."""
        if self.moto is not None:
            from chalicelib.adapters.s3_blocks import S3BlockStore

            return S3BlockStore(self.moto.client("s3"), self.names.bucket)
        from chalicelib.adapters.file_blocks import FileBlockStore

        return FileBlockStore(self.data_dir / "store")


def ebs_client(url: str, **config):
    return boto3.client(
        "ebs",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
    )
