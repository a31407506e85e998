"""``blocksnap init --backend aws`` creates the tables and the bucket where the target says, idempotently."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from urllib.parse import urlparse

import pytest


@pytest.mark.parametrize("target", ["endpoint-url", "localstack"])
def test_init_creates_tables_and_bucket_on_the_configured_target(moto_server, target):
    suffix = uuid.uuid4().hex[:10]
    names = {"BLOCKSNAP_EVENTS_TABLE": f"init-events-{suffix}", "BLOCKSNAP_SNAPSHOTS_TABLE": f"init-snaps-{suffix}",
             "BLOCKSNAP_BUCKET": f"init-blocks-{suffix}"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "BLOCKSNAP_", "LOCALSTACK"))}
    env.update(names, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=moto_server.region)
    if target == "localstack":  # localstack-client's session finds the endpoint from LOCALSTACK_HOST
        env.update(BLOCKSNAP_AWS_TARGET="localstack", LOCALSTACK_HOST=urlparse(moto_server.endpoint_url).netloc)
    else:
        env["AWS_ENDPOINT_URL"] = moto_server.endpoint_url
    command = [sys.executable, "-m", "chalicelib.cli.main", "init", "--backend", "aws"]
    for _ in range(2):  # the second run finds everything in place
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
    dynamodb = moto_server.client("dynamodb")  # the shared moto server holds many tables: ask for these by name
    for table in (names["BLOCKSNAP_EVENTS_TABLE"], names["BLOCKSNAP_SNAPSHOTS_TABLE"]):
        assert dynamodb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"
    moto_server.client("s3").head_bucket(Bucket=names["BLOCKSNAP_BUCKET"])
