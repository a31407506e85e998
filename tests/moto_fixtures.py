"""Moto as a real HTTP server, for the cloud adapters' tests.

The adapters are proved over the wire, as they run against AWS or LocalStack:
botocore signs, serialises and retries real requests, and the adapters see
real error responses. One server serves the session (it takes ~0.5 s to
start); every test gets its own table and bucket names, so tests share the
server without sharing state.

The server binds port 0 on 127.0.0.1, so parallel runs never collide.
Fake credentials and a region are put in ``os.environ`` for the session,
because pynamodb reads them from the standard chain; the previous values come
back when the server stops, and a developer's real credentials are never the
ones in force while the tests talk to the server.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib.cli.aws_setup import ensure_tables_and_bucket
from chalicelib.wiring import AwsNames

REGION = "us-east-1"

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass(frozen=True)
class MotoServer:
    endpoint_url: str
    region: str = REGION

    def client(self, service: str):
        return boto3.client(
            service, region_name=self.region, endpoint_url=self.endpoint_url,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )


@pytest.fixture(scope="session")
def moto_server():
    saved_env = {name: os.environ.get(name) for name in FAKE_ENV}
    # werkzeug logs every request at INFO unless its logger already has a level.
    werkzeug_log = logging.getLogger("werkzeug")
    saved_level = werkzeug_log.level
    os.environ.update(FAKE_ENV)
    werkzeug_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield MotoServer(endpoint_url=f"http://{host}:{port}")
    finally:
        server.stop()
        werkzeug_log.setLevel(saved_level)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def aws_names(moto_server) -> AwsNames:
    """Fresh, already created tables and bucket for one test."""
    suffix = uuid.uuid4().hex[:12]
    names = AwsNames(
        events_table=f"blocksnap-events-{suffix}",
        snapshots_table=f"blocksnap-snapshots-{suffix}",
        bucket=f"blocksnap-blocks-{suffix}",
    )
    ensure_tables_and_bucket(names, region=moto_server.region, endpoint_url=moto_server.endpoint_url)
    return names
