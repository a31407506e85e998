"""A moto server in its own process, for tests that change moto's global settings.

moto keeps IAM enforcement in module globals (``moto.settings.
INITIAL_NO_AUTH_ACTION_COUNT`` and ``ActionAuthenticatorMixin.request_count``),
and ``/moto-api/reset-auth`` sets them for the whole process. The session's
:class:`~moto.server.ThreadedMotoServer` (``tests/moto_fixtures.py``) runs in
the pytest process, so switching auth on through any in-process server would
switch it on for every other test's server too, including the AWS-backend
``blocksnap serve`` subprocesses that poll it with the fake credentials.
A separate process keeps the switch local. Like the other server fixtures it
binds port 0 on 127.0.0.1 and reads the real port from the startup line.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
import urllib.request
from typing import Iterator

import boto3

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
_READY = re.compile(r"Running on (http://127\.0\.0\.1:[0-9]+)")


class MotoProcess:
    def __init__(self, endpoint_url: str):
        self.endpoint_url = endpoint_url
        self.region = REGION

    def client(self, service: str, access_key: str = "testing", secret_key: str = "testing"):
        """A client with explicit credentials: nothing from the environment's chain leaks in."""
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
        )

    def reset_auth(self, initial_no_auth_action_count: str) -> str:
        """POST /moto-api/reset-auth; returns the previous count.

        The body is the bare number ("0" enforces IAM from the next request on,
        "inf" never does), not JSON: moto parses the raw body with ``float()``.
        """
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/reset-auth",
            data=initial_no_auth_action_count.encode(),
            # Not form-encoded (urllib's default), or werkzeug parses the body
            # into a form and moto's float(request.data) sees b"".
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"]

    @contextlib.contextmanager
    def iam_enforced(self) -> Iterator[None]:
        previous = self.reset_auth("0")
        try:
            yield
        finally:
            self.reset_auth(previous)


# moto's DynamoDB hands every new stream record to the table's event source
# mappings at once, by running the function (in Docker), and drops the records
# whatever came of it; without Docker they are simply lost. With this patch the
# mappings are left to the test, and the records stay in the stream for it to
# read, as on AWS until the mapping's poller reads them.
_STREAMS_KEEP_THEIR_RECORDS = """
from moto.awslambda.models import LambdaBackend
LambdaBackend.send_dynamodb_items = lambda self, function_arn, items, source: None
"""


@contextlib.contextmanager
def moto_process(timeout: float = 30.0, streams_keep_their_records: bool = False) -> Iterator[MotoProcess]:
    patch = _STREAMS_KEEP_THEIR_RECORDS if streams_keep_their_records else ""
    proc = subprocess.Popen(
        [sys.executable, "-c", f"{patch}\nfrom moto.server import main\nmain(['-H', '127.0.0.1', '-p', '0'])"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    found: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:  # keep draining, or the server blocks on a full pipe
            match = _READY.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not ready.wait(timeout) or not found:
            raise RuntimeError("moto server did not start")
        yield MotoProcess(found[0])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
