"""Every sample in events/ runs through its function's handler, and does what it says.

The non-HTTP functions run through ``blocksnap invoke`` (a process each, as
a Lambda execution environment is one): the projector's batch projects the
snapshot it reports, the timekeeper's schedule fails that snapshot once it
is idle past its timeout, the encryption function's requests make a lineage
key and seal bytes under it, the copier's batch makes an encrypted copy that
seals. The API Gateway events run through ``app.py``'s handler in process
(their block token is valid at the samples' own time, which the runtime's
clock is set to) and each answer is checked, down to the block's bytes.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from chalicelib import wiring
from chalicelib.cli.invoke import invoke
from chalicelib.domain.events import OUTCOME_KEY, CopyRequested, SnapshotFailed, lifecycle_stream
from tests import sample_events as samples
from tests.apigateway import RestApiGateway
from tests.infra.moto_process import moto_process
from tests.servers import ROOT

EVERY_SAMPLE = {p.name for p in samples.EVENTS.glob("*.json")}


def blocksnap(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "chalicelib.cli.main", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BLOCKSNAP_", "LOCALSTACK"))}
    env.update(AWS_DEFAULT_REGION="us-east-1", **extra)
    return env


def test_every_sample_is_exercised_here():
    named = set(samples.API_SAMPLES.values()) | {
        "projector-stream-batch.json", "timekeeper-schedule.json", "encryption-create-lineage-key.json",
        "encryption-encrypt.json", "encryption-copier-stream-batch.json",
    }
    assert EVERY_SAMPLE == named


def test_the_stream_samples_are_what_blocksnap_appends():
    """Regenerated from the domain's events, so a changed event shape shows up here, not in production."""
    assert samples.load("projector-stream-batch.json") == samples.stream_batch(
        samples.source_started(), 100000000000000000001)
    assert samples.load("encryption-copier-stream-batch.json") == samples.stream_batch(
        samples.copy_requested(), 100000000000000000101)


def test_one_api_gateway_event_per_route():
    import app

    routes = {(path, method) for path, methods in app.app.routes.items() for method in methods}
    assert set(samples.API_SAMPLES) == routes
    for (resource, method), name in samples.API_SAMPLES.items():
        event = samples.load(name)
        assert (event["resource"], event["httpMethod"], event["requestContext"]["stage"]) == (resource, method, "api")
        assert "/execute-api/aws4_request" in event["headers"]["Authorization"]


# ---- the projector and the timekeeper (embedded) ------------------------------


def test_projector_batch_then_timekeeper_schedule_fail_the_idle_snapshot(tmp_path):
    data_dir = tmp_path / "data"
    runtime = wiring.embedded(data_dir)
    runtime.events.append(samples.source_started())  # the table holds what its stream reported
    env = clean_env(BLOCKSNAP_DATA_DIR=str(data_dir))

    blocksnap("invoke", "projector", str(samples.EVENTS / "projector-stream-batch.json"), env=env)
    record = runtime.records.get_snapshot(samples.SOURCE)
    assert (record.status, record.description, record.sub_block_size) == ("pending", "sample", 4096)

    # The sample snapshot started at T0 with a 60-minute timeout; now is days later.
    blocksnap("invoke", "timekeeper", str(samples.EVENTS / "timekeeper-schedule.json"), env=env)
    [outcome] = [r.event for r in runtime.events.query(lifecycle_stream(samples.SOURCE)) if r.key == OUTCOME_KEY]
    assert isinstance(outcome, SnapshotFailed)


def test_invoke_refuses_what_cannot_run_in_one_line(tmp_path):
    env = clean_env(BLOCKSNAP_DATA_DIR=str(tmp_path / "data"))
    sample = str(samples.EVENTS / "encryption-encrypt.json")
    for args, message in (
        (("invoke", "encryption", sample), "runs on the AWS backend only"),
        (("invoke", "nosuch", sample), "unknown function 'nosuch'"),
        (("invoke", "projector", str(tmp_path / "missing.json")), "cannot read"),
    ):
        result = blocksnap(*args, env=env, check=False)
        assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr, args


# ---- the API Gateway events (embedded, in process) -------------------------------


@pytest.fixture
def sample_runtime(tmp_path):
    runtime = samples.fixed_runtime(tmp_path / "data")
    runtime.events.append(samples.source_started())
    samples.settle(runtime)
    saved = wiring._current
    wiring.install(runtime)
    yield runtime
    wiring._current = saved


def _body(answer: dict) -> dict:
    return json.loads(answer["body"]) if answer.get("body") else {}


def test_api_gateway_samples_answer_as_the_ebs_api(sample_runtime):
    answers = {}
    for route, name in samples.API_SAMPLES.items():
        answers[route[0], route[1]] = answer = invoke("api_handler", samples.load(name))
        if name == "api-complete-snapshot.json":
            samples.settle(sample_runtime)
        if "access-key" in name:  # on AWS, IAM authenticates: no blocksnap keys to manage
            assert answer["statusCode"] == 404 and b"IAM" in _raw(answer), (name, answer)
            continue
        assert answer["statusCode"] < 300, (name, answer)
    by_name = {name: answers[route] for route, name in samples.API_SAMPLES.items()}

    started = _body(by_name["api-start-snapshot.json"])
    assert started["Status"] == "pending" and started["SnapshotId"] != samples.SOURCE
    record = sample_runtime.records.get_snapshot(started["SnapshotId"])
    assert (record.status, record.description) == ("pending", "from the sample")
    # The block crossed API Gateway as base64 and arrived byte for byte (its checksum is the server's).
    assert by_name["api-put-snapshot-block.json"]["headers"]["x-amz-Checksum"] == samples.checksum(samples.BLOCK)
    assert _body(by_name["api-complete-snapshot.json"])["Status"] == "pending"
    described = _body(by_name["api-describe-snapshot.json"])
    assert (described["Status"], described["ChangedBlocksCount"], described["SubBlockSize"]) == ("completed", 2, 4096)
    assert [b["BlockIndex"] for b in _body(by_name["api-list-snapshot-blocks.json"])["Blocks"]] == [0, 1]
    block = by_name["api-get-snapshot-block.json"]
    assert block["isBase64Encoded"] and base64.b64decode(block["body"]) == samples.BLOCK
    assert _body(by_name["api-list-changed-blocks.json"])["ChangedBlocks"] == []  # a snapshot against itself
    copy = _body(by_name["api-copy-snapshot.json"])
    [request] = [r.event for r in sample_runtime.events.query(lifecycle_stream(copy["SnapshotId"]))
                 if isinstance(r.event, CopyRequested)]
    assert request.source_snapshot_id == samples.SOURCE
    checksums = _body(by_name["api-list-snapshot-checksums.json"])["Blocks"]
    assert [b["BlockIndex"] for b in checksums] == [0, 1] and checksums[0]["Checksum"] == samples.checksum(samples.BLOCK)
    assert [b["BlockIndex"] for b in _body(by_name["api-list-snapshot-writes.json"])["Blocks"]] == [0, 1]
    assert _body(by_name["api-get-usage.json"])["StoredBlocks"] >= 2
    for name in ("api-ec2-describe-snapshots.json", "api-ec2-describe-snapshots-get.json"):
        xml = _raw(by_name[name])
        assert f"<snapshotId>{samples.SOURCE}</snapshotId>".encode() in xml and b"<status>completed</status>" in xml


def _raw(answer: dict) -> bytes:
    body = answer.get("body") or b""
    if answer.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode() if isinstance(body, str) else body


def test_api_gateway_refuses_a_signature_not_scoped_to_execute_api(sample_runtime):
    """What the deployed REST API's IAM authorization does to an EBS client left signing for ``ebs``."""
    import app
    from botocore.exceptions import ClientError
    from tests.servers import ebs_client

    gateway = RestApiGateway(app.app, samples.routes(app.app), samples.BINARY_MEDIA_TYPES)
    ebs = ebs_client(gateway.endpoint_url)
    gateway.attach(ebs)
    with pytest.raises(ClientError) as refused:
        ebs.start_snapshot(VolumeSize=1)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "execute-api" in refused.value.response["Error"]["Message"]
    assert samples.api_clients(gateway).ebs.start_snapshot(VolumeSize=1)["Status"] == "pending"


# ---- the encryption function and the copier (AWS backend, moto) ------------------


def test_encryption_and_copier_samples_on_the_aws_backend(tmp_path, monkeypatch):
    import app

    with moto_process() as moto:
        env = clean_env(AWS_ENDPOINT_URL=moto.endpoint_url, AWS_ACCESS_KEY_ID="testing",
                        AWS_SECRET_ACCESS_KEY="testing", BLOCKSNAP_BACKEND="aws")
        blocksnap("init", "--backend", "aws", env=env)  # tables, bucket, alias/blocksnap/ebs
        for name in [k for k in os.environ if k.startswith(("AWS_", "BLOCKSNAP_"))]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            if name.startswith(("AWS_", "BLOCKSNAP_")):
                monkeypatch.setenv(name, value)
        bucket = wiring.aws_names().bucket
        s3 = moto.client("s3")

        def encryption(request: dict) -> dict:
            path = tmp_path / "request.json"
            path.write_text(json.dumps(request))
            return json.loads(blocksnap("invoke", "encryption", str(path), env=env).stdout)

        # The encryption function's samples: a lineage key, then bytes sealed under it.
        assert encryption(samples.load("encryption-create-lineage-key.json")) == {"data": ""}
        stored = json.loads(s3.get_object(Bucket=bucket, Key=f"keys/{samples.ENCRYPTED}")["Body"].read())
        assert stored["KmsKeyArn"] == samples.DEFAULT_KEY_ALIAS
        sealed = encryption(samples.load("encryption-encrypt.json"))["data"]
        assert base64.b64decode(sealed) != samples.PLAINTEXT
        opened = encryption({"op": "decrypt", "lineage_id": samples.ENCRYPTED,
                             "object_key": samples.ENCRYPTED_OBJECT, "data": sealed})
        assert base64.b64decode(opened["data"]) == samples.PLAINTEXT

        # The copier's sample: SOURCE written and sealed through the API, then the copy asked for.
        runtime = wiring.aws(poll_stream=True, clock=lambda: samples.T0 + 30)
        saved = wiring._current
        wiring.install(runtime)
        try:
            runtime.events.append(samples.source_started())
            samples.settle(runtime)
            gateway = RestApiGateway(app.app, samples.routes(app.app), samples.BINARY_MEDIA_TYPES)
            client = samples.api_clients(gateway)
            client.ebs.put_snapshot_block(
                SnapshotId=samples.SOURCE, BlockIndex=0, BlockData=samples.BLOCK, DataLength=len(samples.BLOCK),
                Checksum=samples.checksum(samples.BLOCK), ChecksumAlgorithm="SHA256")
            client.ebs.complete_snapshot(SnapshotId=samples.SOURCE, ChangedBlocksCount=1)
            samples.settle(runtime)
            assert runtime.records.get_snapshot(samples.SOURCE).status == "completed"
            runtime.events.append(samples.copy_requested())

            blocksnap("invoke", "encryption_copier", str(samples.EVENTS / "encryption-copier-stream-batch.json"),
                      env=env)
            samples.settle(runtime)
            copy = runtime.records.get_snapshot(samples.COPY)
            assert (copy.status, copy.encrypted, copy.changed_blocks_count) == ("completed", True, 1)
            [key] = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"blocks/{samples.COPY}/")["Contents"]]
            ciphertext = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            assert samples.BLOCK not in ciphertext
            opened = encryption({"op": "decrypt", "lineage_id": samples.COPY, "object_key": key,
                                 "data": base64.b64encode(ciphertext).decode()})
            assert base64.b64decode(opened["data"]) == samples.BLOCK
        finally:
            wiring._current = saved
