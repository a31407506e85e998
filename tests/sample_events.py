"""The samples in ``events/``: how they are made, and the state they run against.

``python -m tests.sample_events`` writes them all again. The stream batches
are the event-table items blocksnap itself appends, in the DynamoDB stream
record shape Lambda delivers (``NEW_IMAGE``); the API Gateway events are real
botocore requests (serialised and signed by botocore, scoped to
``execute-api`` as the REST API's IAM authorization wants) turned into REST
proxy events by :class:`tests.apigateway.RestApiGateway`, recorded while the
requests run against an embedded runtime with a fixed clock and token secret,
so that the block token in the GetSnapshotBlock sample stays valid for a
test that uses the same clock and secret.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from chalicelib import wiring
from blocksnap_client.extensions import BlocksnapClient
from chalicelib.domain.events import (
    COPY_KEY,
    STARTED_KEY,
    CopyRequested,
    EventRecord,
    SnapshotStarted,
    lifecycle_stream,
)
from tests.apigateway import RestApiGateway

EVENTS = Path(__file__).resolve().parents[1] / "events"
REGION = "us-east-1"
STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/blocksnap-events/stream/2026-11-25T00:00:00.000"

# The snapshots the samples name. SOURCE is started by the projector sample
# (with sub-block writes on, for the sub-block route); the API samples write,
# complete and read it; COPY is its encrypted copy; ENCRYPTED is a lineage of
# its own for the encryption function's samples.
SOURCE = "snap-0123456789abcdef0"
COPY = "snap-0123456789abcdef1"
ENCRYPTED = "snap-0123456789abcdef2"
DEFAULT_KEY_ALIAS = wiring.AwsNames().key_alias
PLAINTEXT = b"blocksnap sample block\n" * 8
ENCRYPTED_OBJECT = f"blocks/{ENCRYPTED}/000000000-{hashlib.sha256(PLAINTEXT).hexdigest()}"
# EventBridge's event for the timekeeper's rate(1 minute) rule, as Lambda receives it.
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-25T13:40:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/blocksnap-app-TimekeeperTimekeeperEvent-1X2Y3Z4W5V6U"],
    "detail": {},
}
T0 = 1795622016.017  # 2026-11-25 12:33:36 UTC: when the samples happened
TOKEN_SECRET = bytes(range(32))
BLOCK = bytes(range(256)) * 2048  # 512 KiB, every byte value: mangled if it ever travels as text
SUB_BLOCK = b"\xff\x00" * 2048  # 4 KiB
# The binary media types infra/merge.json gives the REST API ("*/*": botocore
# sends block bodies without a Content-Type, which API Gateway takes as JSON).
BINARY_MEDIA_TYPES = ["*~1*"]

# Route (resource, method) -> sample file, in the order the samples run.
API_SAMPLES = {
    ("/snapshots", "POST"): "api-start-snapshot.json",
    ("/snapshots/{snapshotId}/blocks/{blockIndex}", "PUT"): "api-put-snapshot-block.json",
    ("/blocksnap/v1/snapshots/{snapshotId}/blocks/{blockIndex}/subblocks/{offset}", "PUT"): "api-put-sub-block.json",
    ("/snapshots/completion/{snapshotId}", "POST"): "api-complete-snapshot.json",
    ("/blocksnap/v1/snapshots/{snapshotId}", "GET"): "api-describe-snapshot.json",
    ("/snapshots/{snapshotId}/blocks", "GET"): "api-list-snapshot-blocks.json",
    ("/snapshots/{snapshotId}/blocks/{blockIndex}", "GET"): "api-get-snapshot-block.json",
    ("/snapshots/{secondSnapshotId}/changedblocks", "GET"): "api-list-changed-blocks.json",
    ("/blocksnap/v1/snapshots/{snapshotId}/copy", "POST"): "api-copy-snapshot.json",
    ("/blocksnap/v1/snapshots/{snapshotId}/checksums", "GET"): "api-list-snapshot-checksums.json",
    ("/blocksnap/v1/snapshots/{snapshotId}/writes", "GET"): "api-list-snapshot-writes.json",
    ("/blocksnap/v1/usage", "GET"): "api-get-usage.json",
    ("/", "POST"): "api-ec2-describe-snapshots.json",
    ("/", "GET"): "api-ec2-describe-snapshots-get.json",
    ("/blocksnap/v1/keys", "POST"): "api-create-access-key.json",
    ("/blocksnap/v1/keys", "GET"): "api-list-access-keys.json",
    ("/blocksnap/v1/keys/{accessKeyId}", "DELETE"): "api-delete-access-key.json",
}


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def write(name: str, event: dict) -> None:
    (EVENTS / name).write_text(json.dumps(event, indent=2) + "\n")


# ---- stream batches ---------------------------------------------------------


def stream_record(record: EventRecord, sequence: int) -> dict:
    """An event-table item's INSERT as a DynamoDB stream record (Lambda's shape, NEW_IMAGE)."""
    image = {
        "stream": {"S": record.stream},
        "key": {"S": record.key},
        "type": {"S": record.event.type_name},
        "data": {"S": record.event.to_json()},
    }
    return {
        "eventID": hashlib.md5(f"{record.stream}/{record.key}".encode()).hexdigest(),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": {
            "ApproximateCreationDateTime": int(T0),
            "Keys": {"stream": image["stream"], "key": image["key"]},
            "NewImage": image,
            "SequenceNumber": f"{sequence:040d}",
            "SizeBytes": len(json.dumps(image)),
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": STREAM_ARN,
    }


def stream_batch(records: list[EventRecord], first_sequence: int) -> dict:
    return {"Records": [stream_record(r, first_sequence + i) for i, r in enumerate(records)]}


def source_started() -> list[EventRecord]:
    """What StartSnapshot appends for SOURCE: the projector sample's batch."""
    started = SnapshotStarted(
        snapshot_id=SOURCE, volume_size=1, lineage_id=SOURCE, start_time=T0, timeout_minutes=60,
        owner_id="123456789012", description="sample", sub_block_size=4096,
    )
    return [EventRecord(lifecycle_stream(SOURCE), STARTED_KEY, started)]


def copy_requested(kms_key_arn: str = DEFAULT_KEY_ALIAS) -> list[EventRecord]:
    """What the copy route appends for COPY, an encrypted copy of SOURCE: the copier sample's batch."""
    started = SnapshotStarted(
        snapshot_id=COPY, volume_size=1, lineage_id=COPY, start_time=T0 + 60, timeout_minutes=4320,
        owner_id="123456789012", description="encrypted copy", encrypted=True, kms_key_arn=kms_key_arn,
        source_snapshot_id=SOURCE,
    )
    request = CopyRequested(COPY, SOURCE, kms_key_arn, T0 + 60)
    return [EventRecord(lifecycle_stream(COPY), STARTED_KEY, started),
            EventRecord(lifecycle_stream(COPY), COPY_KEY, request)]


# ---- the API Gateway events ---------------------------------------------------


def routes(app) -> dict[str, list[str]]:
    return {path: list(methods) for path, methods in app.routes.items()}


def api_clients(gateway: RestApiGateway) -> BlocksnapClient:
    """A BlocksnapClient whose EBS calls and extension calls all go through ``gateway``, signed for IAM."""
    client = BlocksnapClient(gateway.endpoint_url, region_name=REGION, session=boto3.Session(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region_name=REGION,
    ), signing_name="execute-api")
    gateway.connect(client)
    return client


def checksum(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def run_api_requests(client: BlocksnapClient, settle) -> dict[str, object]:
    """One request per route, in API_SAMPLES order, on SOURCE (started by the projector sample)."""
    ebs = client.ebs
    out: dict[str, object] = {}
    out["started"] = ebs.start_snapshot(VolumeSize=1, Description="from the sample", ClientToken="sample-token-1")
    ebs.put_snapshot_block(SnapshotId=SOURCE, BlockIndex=0, BlockData=BLOCK, DataLength=len(BLOCK),
                           Checksum=checksum(BLOCK), ChecksumAlgorithm="SHA256")
    out["merged"] = client.put_sub_block(SOURCE, 1, 8192, SUB_BLOCK)
    out["completion"] = ebs.complete_snapshot(SnapshotId=SOURCE, ChangedBlocksCount=2)
    settle()
    out["described"] = client.describe_snapshot(SOURCE)
    out["listed"] = ebs.list_snapshot_blocks(SnapshotId=SOURCE)
    token = out["listed"]["Blocks"][0]["BlockToken"]
    out["block"] = ebs.get_snapshot_block(SnapshotId=SOURCE, BlockIndex=0, BlockToken=token)["BlockData"].read()
    out["changed"] = ebs.list_changed_blocks(FirstSnapshotId=SOURCE, SecondSnapshotId=SOURCE)
    out["copy"] = client.copy_snapshot(SOURCE, Encrypted=True, Description="encrypted copy")
    out["checksums"] = client.list_checksums(SOURCE)
    out["writes"] = client.list_writes(SOURCE)
    out["usage"] = client.get_usage()
    ec2 = client.session.client("ec2", endpoint_url=client.endpoint_url + "/", region_name=REGION)
    ec2.meta.events.register("before-sign.ec2", client._rescope)
    client._http.attach(ec2)
    out["ec2"] = ec2.describe_snapshots(SnapshotIds=[SOURCE])
    query = AWSRequest("GET", f"{client.endpoint_url}/?Action=DescribeSnapshots&Version=2016-11-15&SnapshotId.1={SOURCE}")
    SigV4Auth(client.session.get_credentials().get_frozen_credentials(), "execute-api", REGION).add_auth(query)
    out["ec2_get"] = client._http.send(query.prepare()).status_code
    # On AWS, IAM authenticates: there are no blocksnap keys to manage, and these routes say so.
    out["keys"] = [_refused(call) for call in (
        lambda: client.create_access_key("read-only"), client.list_access_keys,
        lambda: client.delete_access_key("AKIDNOSUCHKEY0000000"),
    )]
    return out


def _refused(call) -> str | None:
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    return None


def fixed_runtime(data_dir: Path) -> wiring.Runtime:
    """An embedded runtime at T0 with the samples' token secret: the API samples' tokens are valid in it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "token-secret").write_bytes(TOKEN_SECRET)
    (data_dir / "token-secret").chmod(0o600)
    return wiring.embedded(data_dir, clock=lambda: T0 + 30)


def settle(runtime: wiring.Runtime) -> None:
    """Project until the projector's own appends (seals) are projected too."""
    while runtime.projector.run_once():
        pass


def write_samples(scratch: Path) -> None:
    import app

    write("projector-stream-batch.json", stream_batch(source_started(), 100000000000000000001))
    write("encryption-copier-stream-batch.json", stream_batch(copy_requested(), 100000000000000000101))
    write("encryption-create-lineage-key.json",
          {"op": "create_lineage_key", "lineage_id": ENCRYPTED, "kms_key_arn": DEFAULT_KEY_ALIAS})
    write("encryption-encrypt.json", {"op": "encrypt", "lineage_id": ENCRYPTED, "object_key": ENCRYPTED_OBJECT,
                                      "data": base64.b64encode(PLAINTEXT).decode()})
    write("timekeeper-schedule.json", SCHEDULED_EVENT)
    runtime = fixed_runtime(scratch)
    runtime.events.append(source_started())
    settle(runtime)
    wiring.install(runtime)
    recorded: dict[tuple[str, str], dict] = {}
    gateway = RestApiGateway(app.app, routes(app.app), BINARY_MEDIA_TYPES,
                             record=lambda resource, event: recorded.setdefault((resource, event["httpMethod"]), event))
    run_api_requests(api_clients(gateway), lambda: settle(runtime))
    for route, name in API_SAMPLES.items():
        write(name, recorded[route])


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        write_samples(Path(scratch) / "data")
