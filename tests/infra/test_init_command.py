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


def test_init_creates_a_default_key_that_encrypted_snapshots_use_without_naming_one(tmp_path):
    """As on AWS, where the first Encrypted=true without a KmsKeyArn uses alias/aws/ebs: nothing set by hand."""
    from chalicelib.cli.aws_setup import DEFAULT_KEY_DESCRIPTION
    from chalicelib.wiring import AwsNames
    from tests.api.conftest import block, put, read_all, wait_status
    from tests.infra.moto_process import moto_process
    from tests.servers import BlocksnapServer

    names = AwsNames()
    with moto_process() as moto:  # fresh: no key, no alias, as in a new account
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_ENDPOINT_URL", "BLOCKSNAP_", "LOCALSTACK"))}
        env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_DEFAULT_REGION=moto.region, AWS_ENDPOINT_URL=moto.endpoint_url)
        command = [sys.executable, "-m", "chalicelib.cli.main", "init", "--backend", "aws"]
        for _ in range(2):  # the second run finds the key behind the alias
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stderr[-2000:]
        kms = moto.client("kms")
        [key] = [k for k in kms.list_keys()["Keys"]]
        assert kms.describe_key(KeyId=names.key_alias)["KeyMetadata"]["Description"] == DEFAULT_KEY_DESCRIPTION

        server = BlocksnapServer(tmp_path / "data", moto=moto, names=names).start()
        try:
            ebs = server.client()
            started = ebs.start_snapshot(VolumeSize=1, Encrypted=True)
            assert started["KmsKeyArn"] == key["KeyArn"]
            data = block("default-key")
            put(ebs, started["SnapshotId"], 3, data)
            ebs.complete_snapshot(SnapshotId=started["SnapshotId"], ChangedBlocksCount=1)
            wait_status(ebs, started["SnapshotId"])
            assert read_all(ebs, started["SnapshotId"]) == {3: data}
            stored = server.store().get(f"keys/{started['SnapshotId']}")
            assert key["KeyArn"] in stored.decode()  # the lineage's data key is wrapped under it
        finally:
            server.stop()
