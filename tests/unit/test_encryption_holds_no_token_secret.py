"""The encryption function never reads the block-token secret: it is given its stores, not the API's runtime.

Both deployments are built as they run and made to work (a lineage key, a
block sealed and opened, an encrypted copy made), while every read of the
secret is watched for: on the embedded backend any ``open`` of
``token-secret`` (a Python audit hook), on moto any S3 call on
``config/token-secret`` (botocore's one call path). Each test first proves
that its watch sees the API's runtime read the secret.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import sys
from pathlib import Path

import botocore.client
import pytest

from chalicelib import wiring
from chalicelib.domain import keys
from chalicelib.domain.checksums import sha256_b64
from chalicelib.domain.events import COMPLETION_KEY
from chalicelib.encryption import lambda_entry, worker
from chalicelib.http.bindings import Calls

from .test_copier import block, put, request_copy, seal

ARN = "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555"
SECRET_FILE = "token-secret"
SECRET_OBJECT = "config/token-secret"

_watched: list[list[str]] = []


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _watched and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0])
        if Path(path).name == SECRET_FILE:
            _watched[-1].append(path)


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one costs a check while no watch runs


@contextlib.contextmanager
def opens_of_the_secret_file():
    seen: list[str] = []
    _watched.append(seen)
    try:
        yield seen
    finally:
        _watched.remove(seen)


@contextlib.contextmanager
def calls_on_the_secret_object(monkeypatch):
    seen: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    @functools.wraps(original)
    def recording(client, operation_name, api_params):
        if api_params.get("Key") == SECRET_OBJECT:
            seen.append(operation_name)
        return original(client, operation_name, api_params)

    with monkeypatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
        yield seen


def round_trip(function, lineage_id: str) -> None:
    data = block("round-trip")
    key = keys.block_key(lineage_id, 0, sha256_b64(data))
    function.create_lineage_key(lineage_id, ARN)
    assert function.decrypt(lineage_id, key, function.encrypt(lineage_id, key, data)) == data


def test_the_embedded_worker_never_opens_the_token_secret(tmp_path):
    data_dir = tmp_path / "data"
    with opens_of_the_secret_file() as seen:
        runtime = wiring.embedded(data_dir)  # the API's runtime: it does open it
    assert seen and (data_dir / SECRET_FILE).exists()
    calls = Calls(runtime.usecases)
    source_id = calls.start_snapshot({"VolumeSize": 1})["SnapshotId"]
    for index in range(3):
        put(calls, source_id, index, block(f"source-{index}"))
    seal(runtime, calls, source_id)
    copy = request_copy(runtime, source_id)

    with opens_of_the_secret_file() as seen:
        service, follower = worker.build(data_dir)
        round_trip(service, copy.event.snapshot_id)
        assert follower.catch_up() > 0
    assert seen == []
    assert runtime.events.query(copy.event.snapshot_id, COMPLETION_KEY), "the worker made no copy"


@pytest.fixture
def moto_env(moto_server, aws_names, monkeypatch):
    for name, value in {
        "AWS_ENDPOINT_URL": moto_server.endpoint_url,
        "BLOCKSNAP_EVENTS_TABLE": aws_names.events_table,
        "BLOCKSNAP_SNAPSHOTS_TABLE": aws_names.snapshots_table,
        "BLOCKSNAP_BUCKET": aws_names.bucket,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BLOCKSNAP_TOKEN_SECRET", raising=False)
    monkeypatch.delenv("BLOCKSNAP_ENCRYPTION_FUNCTION", raising=False)
    lambda_entry.function.cache_clear()
    lambda_entry.copy_follower.cache_clear()
    yield moto_server
    lambda_entry.function.cache_clear()
    lambda_entry.copy_follower.cache_clear()


def test_the_encryption_lambda_and_the_aws_worker_never_fetch_the_token_secret(moto_env, monkeypatch):
    key_arn = moto_env.client("kms").create_key(Description="no token secret")["KeyMetadata"]["Arn"]
    with calls_on_the_secret_object(monkeypatch) as seen:
        runtime = wiring.aws()  # the API's runtime: it does fetch it
    assert "GetObject" in seen
    calls = Calls(runtime.usecases)
    source_id = calls.start_snapshot({"VolumeSize": 1})["SnapshotId"]
    for index in range(3):
        put(calls, source_id, index, block(f"source-{index}"))
    seal(runtime, calls, source_id)
    copy_id = calls.copy_snapshot({"SourceSnapshotId": source_id, "Encrypted": True, "KmsKeyArn": key_arn})["SnapshotId"]
    [copy] = [r for r in runtime.events.query(copy_id) if type(r.event).__name__ == "CopyRequested"]

    with calls_on_the_secret_object(monkeypatch) as seen:
        lambda_entry.copy_follower().apply([copy])
        assert runtime.events.query(copy_id, COMPLETION_KEY), "the Lambda's copier made no copy"
        data = block("invoked")
        key = keys.block_key(copy_id, 9, sha256_b64(data))
        sealed = lambda_entry.lambda_handler(
            {"op": "encrypt", "lineage_id": copy_id, "object_key": key, "data": base64.b64encode(data).decode()},
            None,
        )
        assert "data" in sealed, sealed
        service, follower = worker.build(Path("unused"), backend="aws")
        round_trip(service, copy_id)
        follower.catch_up()
    assert seen == []
