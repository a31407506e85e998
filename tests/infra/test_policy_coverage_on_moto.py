"""Every AWS call each function makes is allowed by its own policy file, and nothing more is granted.

The functions' code runs here as Lambda would run it: the API behind the
Chalice app (served in-process), the projector and the encryption copier fed
stream records of the event table, the timekeeper on a scheduled event, the
encryption function on an invocation, each on the runtime that ``wiring``
builds for it against a moto server. Every botocore call (boto3's and
pynamodb's both go through ``BaseClient._make_api_call``) is recorded with the
function it was made for, turned into the IAM action and resource AWS would
authorise (:mod:`tests.infra.iam_eval`), and checked against that function's
``.chalice/policy-*.json``. The stream reads are charged to the consuming
function, because a Lambda event source mapping reads the stream with the
function's role. The API's ``lambda:Invoke`` of the encryption function is
recorded, then served in-process by ``app.encryption`` under the encryption
role (moto would need Docker to run a function), so encrypted snapshots go
through the whole path. Each function's runtime is built with the prod
stage's environment for it from ``.chalice/config.json``.

moto itself cannot check these policies: it compares DynamoDB and Lambda
calls against the resource ``*`` (see test_policy_isolation_on_moto.py), so
the table- and function-scoped statements are evaluated offline.

The reverse check keeps the policies least-privilege: every statement must be
used by some call here, or be listed in :data:`NOT_EXERCISED` with the reason.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import os
import json
import threading
import urllib.request
from datetime import datetime
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import botocore.client
import pytest

from chalicelib import wiring
from chalicelib.cli.aws_setup import ensure_tables_and_bucket
from chalicelib.wiring import AwsNames
from chalicelib.encryption import lambda_entry
from tests.infra import iam_eval
from tests.infra.moto_process import moto_process
from tests.servers import ebs_client

ROOT = Path(__file__).resolve().parents[2]
POLICIES = {
    "api": "policy-api.json",
    "projector": "policy-projector.json",
    "timekeeper": "policy-timekeeper.json",
    "encryption": "policy-encryption.json",  # the encryption function and the copier
}
# The per-function environment of the prod stage (the stage-wide one is the default names).
_CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
PROD_ENV = {
    name: function.get("environment_variables", {})
    for name, function in _CONFIG["stages"]["prod"]["lambda_functions"].items()
}
FUNCTION_OF_ROLE = {"api": "api_handler", "projector": "projector", "timekeeper": "timekeeper",
                    "encryption": "encryption_copier"}

_FIRST_RUN = "PutObject of config/token-secret happens once, on a deployment's first run, by whichever function runs first"
_LOGS = "Lambda's own log delivery, not a call the code makes"
_NOT_FOUND = (
    "no code lists; with s3:ListBucket S3 answers a GetObject of a missing key with 404 NoSuchKey "
    "instead of 403 AccessDenied, which S3BlockStore needs (ObjectNotFound): the first token-secret "
    "read, the manifest and wrapped-key existence checks. moto answers NoSuchKey regardless"
)
_ESM = "called by the Lambda event source mapping (with the function's role), not by the code"
# (role, Sid, action) -> why no call here uses it; action "*" covers the whole statement.
NOT_EXERCISED = {
    **{(role, "Logs", "*"): _LOGS for role in ("api", "projector", "timekeeper", "encryption")},
    **{(role, "ListSoMissingKeysAre404", "s3:ListBucket"): _NOT_FOUND
       for role in ("api", "projector", "timekeeper", "encryption")},
    ("projector", "ListStreamsIsNotResourceScoped", "dynamodb:ListStreams"): _ESM,
    ("encryption", "ListStreamsIsNotResourceScoped", "dynamodb:ListStreams"): _ESM,
    ("projector", "TokenSecret", "s3:PutObject"): _FIRST_RUN,
    ("timekeeper", "TokenSecret", "s3:PutObject"): _FIRST_RUN,
    ("encryption", "WrappedDataKeys", "s3:DeleteObject"): "crypto-shredding, which no function code does yet",
}

_BATCH = 1000
BLOCK = 524288


def block(tag: str) -> bytes:
    return (f"block-{tag}\n".encode() * (BLOCK // 8))[:BLOCK]


def checksum(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class Recorder:
    """Who each AWS call was made for, as IAM needs."""

    def __init__(self) -> None:
        self.role: str | None = None
        self.needs: list[tuple[str, iam_eval.Need]] = []
        self.stream_arn: str | None = None
        self._lock = threading.Lock()

    def record(self, service: str, operation: str, params: dict) -> None:
        role = self.role
        if role is None or service == "ebs":  # setup, and the test's own EBS client
            return
        if service == "dynamodbstreams" and "StreamArn" in params:
            self.stream_arn = params["StreamArn"]
        with self._lock:
            for need in iam_eval.needs(service, operation, params, self.stream_arn):
                self.needs.append((role, need))


class StreamReader:
    """One consumer's position in the event table's stream, as an event source mapping keeps it."""

    def __init__(self, streams, arn: str):
        self.streams = streams
        self.arn = arn
        self.after: dict[str, str] = {}

    def read(self) -> list[dict]:
        records = []
        for shard in self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            args = {"StreamArn": self.arn, "ShardId": shard_id}
            if shard_id in self.after:
                args.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=self.after[shard_id])
            else:
                args["ShardIteratorType"] = "TRIM_HORIZON"
            iterator = self.streams.get_shard_iterator(**args)["ShardIterator"]
            while iterator:
                page = self.streams.get_records(ShardIterator=iterator, Limit=_BATCH)
                if not page["Records"]:
                    break
                records.extend(_lambda_record(r, self.arn) for r in page["Records"])
                self.after[shard_id] = page["Records"][-1]["dynamodb"]["SequenceNumber"]
                iterator = page.get("NextShardIterator")
        return records


def _lambda_record(record: dict, arn: str) -> dict:
    """A boto3-parsed stream record in the JSON shape Lambda delivers."""
    record = json.loads(json.dumps(record, default=lambda v: v.timestamp() if isinstance(v, datetime) else str(v)))
    record.setdefault("eventSourceARN", arn)
    record["dynamodb"].setdefault("SizeBytes", 0)
    record["dynamodb"].setdefault("StreamViewType", "NEW_IMAGE")
    return record


def _is_copy_request(record: dict) -> bool:
    """merge.json's filter on the copier's trigger."""
    image = record["dynamodb"].get("NewImage", {})
    return record["eventName"] == "INSERT" and image.get("type", {}).get("S") == "CopyRequested"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Run every function once through its work; return the recorder."""
    import app  # the module: its handlers are what Lambda calls (app.project, app.encryption, ...)
    from chalicelib.http.wsgi import ChaliceWSGI

    recorder = Recorder()
    original = botocore.client.BaseClient._make_api_call

    @functools.wraps(original)
    def recording(client, operation_name, api_params):
        service = client.meta.service_model.service_name
        recorder.record(service, operation_name, api_params)
        if service == "lambda" and operation_name == "Invoke":
            return invoke_encryption_function(api_params)
        return original(client, operation_name, api_params)

    def invoke_encryption_function(params: dict) -> dict:
        """What Lambda does for the API's synchronous invoke (moto would need Docker to run it)."""
        assert params["FunctionName"] == PROD_ENV["api_handler"]["BLOCKSNAP_ENCRYPTION_FUNCTION"]
        caller, recorder.role = recorder.role, "encryption"
        try:
            answer = app.encryption(json.loads(params["Payload"]), None)
        finally:
            recorder.role = caller
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}

    saved_runtime = wiring._current
    with moto_process() as moto, pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "BLOCKSNAP_EVENTS_TABLE", "BLOCKSNAP_SNAPSHOTS_TABLE",
                     "BLOCKSNAP_BUCKET", "BLOCKSNAP_TOKEN_SECRET", "BLOCKSNAP_AWS_TARGET", "BLOCKSNAP_RUN_PROJECTOR",
                     "BLOCKSNAP_ENCRYPTION_FUNCTION"):
            env.delenv(name, raising=False)
        env.setenv("AWS_ENDPOINT_URL", moto.endpoint_url)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", moto.region)
        env.setenv("BLOCKSNAP_BACKEND", "aws")
        env.setattr(botocore.client.BaseClient, "_make_api_call", recording)

        names = AwsNames()  # the default names, which the policies grant
        ensure_tables_and_bucket(names, region=moto.region, endpoint_url=moto.endpoint_url)
        key_arn = moto.client("kms").create_key(Description="blocksnap coverage")["KeyMetadata"]["Arn"]
        env.setenv("BLOCKSNAP_DEFAULT_KMS_KEY_ARN", key_arn)  # as infra/merge.json gives every function
        stream_arn = moto.client("dynamodb").describe_table(TableName=names.events_table)["Table"]["LatestStreamArn"]
        admin_s3 = moto.client("s3")

        runtimes = {}

        def as_role(role: str, **aws_args):
            """Act as ``role``: its runtime installed (built under its name on first use).

            The encryption function builds its own few stores and no runtime;
            none is installed for it, so a call of ``wiring.current()`` from
            its code would build the whole one and read the token secret,
            which its policy denies.
            """
            recorder.role = role
            if role == "encryption":
                wiring.install(None)
                return
            if role not in runtimes:
                extra = PROD_ENV.get(FUNCTION_OF_ROLE[role], {})
                saved = {name: os.environ.get(name) for name in extra}
                os.environ.update(extra)
                try:
                    runtimes[role] = wiring.aws(poll_stream=False, **aws_args)
                finally:
                    for name, value in saved.items():
                        if value is None:
                            os.environ.pop(name)
                        else:
                            os.environ[name] = value
            wiring.install(runtimes[role])

        readers = {}

        def deliver(consumer: str, handler, keep=lambda record: True) -> int:
            """What the event source mapping does: read the stream as ``consumer``, then invoke."""
            as_role("encryption" if consumer == "copier" else consumer)
            if consumer not in readers:
                readers[consumer] = StreamReader(moto.client("dynamodbstreams"), stream_arn)
            records = [r for r in readers[consumer].read() if keep(r)]
            for start in range(0, len(records), 10 if consumer == "copier" else _BATCH):
                handler({"Records": records[start:start + (10 if consumer == "copier" else _BATCH)]}, None)
            return len(records)

        def settle() -> None:
            """Project until the projector's own appends (seals, failures) are projected too."""
            while deliver("projector", app.project):
                pass

        server = make_server("127.0.0.1", 0, ChaliceWSGI(app.app), handler_class=_QuietHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}"
        ebs = ebs_client(url)

        def http(method: str, path: str, body: dict | None = None) -> dict:
            data = json.dumps(body).encode() if body is not None else None
            request = urllib.request.Request(url + path, data=data, method=method,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())

        def put(snapshot_id: str, index: int, data: bytes) -> None:
            ebs.put_snapshot_block(SnapshotId=snapshot_id, BlockIndex=index, BlockData=data,
                                   DataLength=len(data), Checksum=checksum(data), ChecksumAlgorithm="SHA256")

        clear_encryption_caches()
        try:
            # The API: a full snapshot, an incremental child, an encrypted copy, one left to time out.
            as_role("api")
            first = ebs.start_snapshot(VolumeSize=1, ClientToken="coverage-1")["SnapshotId"]
            put(first, 0, block("a"))
            put(first, 1, block("b"))
            assert ebs.complete_snapshot(SnapshotId=first, ChangedBlocksCount=2)["Status"] == "pending"
            settle()
            as_role("api")
            assert ebs.complete_snapshot(SnapshotId=first, ChangedBlocksCount=2)["Status"] == "completed"

            child = ebs.start_snapshot(VolumeSize=1, ParentSnapshotId=first)["SnapshotId"]
            put(child, 1, block("c"))
            ebs.complete_snapshot(SnapshotId=child, ChangedBlocksCount=1)
            settle()
            as_role("api")
            assert ebs.complete_snapshot(SnapshotId=child, ChangedBlocksCount=1)["Status"] == "completed"
            listed = ebs.list_snapshot_blocks(SnapshotId=child)["Blocks"]
            token = listed[0]["BlockToken"]
            got = ebs.get_snapshot_block(SnapshotId=child, BlockIndex=listed[0]["BlockIndex"], BlockToken=token)
            got["BlockData"].read()
            ebs.list_changed_blocks(FirstSnapshotId=first, SecondSnapshotId=child)
            assert http("GET", f"/blocksnap/v1/snapshots/{child}")["Status"] == "completed"
            copy = http("POST", f"/blocksnap/v1/snapshots/{first}/copy", {"Encrypted": True, "KmsKeyArn": key_arn})
            stale = ebs.start_snapshot(VolumeSize=1, Timeout=10)["SnapshotId"]

            # Encrypted through the API: every block crosses the encryption function.
            sealed_id = ebs.start_snapshot(VolumeSize=1, Encrypted=True, KmsKeyArn=key_arn)["SnapshotId"]
            put(sealed_id, 3, block("e"))
            ebs.complete_snapshot(SnapshotId=sealed_id, ChangedBlocksCount=1)
            settle()
            as_role("api")
            [entry] = ebs.list_snapshot_blocks(SnapshotId=sealed_id)["Blocks"]
            got = ebs.get_snapshot_block(SnapshotId=sealed_id, BlockIndex=3, BlockToken=entry["BlockToken"])
            assert got["BlockData"].read() == block("e")
            # A copy of it too: the copier reads an encrypted source's blocks/, a plain one's shared blobs/.
            sealed_copy = http("POST", f"/blocksnap/v1/snapshots/{sealed_id}/copy",
                               {"Encrypted": True, "KmsKeyArn": key_arn})["SnapshotId"]

            # The projector sees the copy requests and the stale start; the copier the copy requests.
            settle()
            assert deliver("copier", app.copy_encrypted, keep=_is_copy_request) == 2
            settle()  # seals the copy from the copier's events
            as_role("api")
            assert http("GET", f"/blocksnap/v1/snapshots/{copy['SnapshotId']}")["Status"] == "completed"
            [entry, _] = ebs.list_snapshot_blocks(SnapshotId=copy["SnapshotId"])["Blocks"]
            got = ebs.get_snapshot_block(SnapshotId=copy["SnapshotId"], BlockIndex=entry["BlockIndex"],
                                         BlockToken=entry["BlockToken"])
            assert got["BlockData"].read() == block("a")
            [entry] = ebs.list_snapshot_blocks(SnapshotId=sealed_copy)["Blocks"]
            got = ebs.get_snapshot_block(SnapshotId=sealed_copy, BlockIndex=3, BlockToken=entry["BlockToken"])
            assert got["BlockData"].read() == block("e")

            # The timekeeper, with one Timeout minute a millisecond long.
            as_role("timekeeper", minute_seconds=0.001)
            app.sweep_timeouts({"version": "0", "account": iam_eval.ACCOUNT, "region": moto.region,
                                "detail": {}, "detail-type": "Scheduled Event", "source": "aws.events",
                                "time": "2026-01-01T00:00:00Z", "id": "coverage", "resources": []}, None)
            settle()
            as_role("api")
            assert http("GET", f"/blocksnap/v1/snapshots/{stale}")["Status"] == "error"

            # The encryption function, invoked with a block of the copy and a cold key cache.
            recorder.role = None
            copy_keys = [o["Key"] for o in admin_s3.list_objects_v2(
                Bucket=names.bucket, Prefix=f"blocks/{copy['SnapshotId']}/")["Contents"]]
            sealed = admin_s3.get_object(Bucket=names.bucket, Key=copy_keys[0])["Body"].read()
            lambda_entry.function.cache_clear()
            as_role("encryption")
            answer = app.encryption({"op": "decrypt", "lineage_id": copy["SnapshotId"], "object_key": copy_keys[0],
                                     "data": base64.b64encode(sealed).decode()}, None)
            assert base64.b64decode(answer["data"]) in {block("a"), block("b")}, answer
        finally:
            recorder.role = None
            server.shutdown()
            server.server_close()
            clear_encryption_caches()
            wiring.install(saved_runtime)
    return recorder


def clear_encryption_caches() -> None:
    lambda_entry.function.cache_clear()
    lambda_entry.copy_follower.cache_clear()


def policy(role: str) -> dict:
    return json.loads((ROOT / ".chalice" / POLICIES[role]).read_text())


def test_every_call_is_mapped(run):
    unmapped = sorted({need.action for _, need in run.needs if need.action.startswith("UNMAPPED")})
    assert unmapped == []


def test_every_call_is_allowed_by_its_functions_policy(run):
    denied = sorted({(role, need.action, need.resource) for role, need in run.needs
                     if not iam_eval.decide(policy(role), need)[0]})
    assert denied == []


def test_each_role_made_calls(run):
    assert {role for role, _ in run.needs} == set(POLICIES)


def test_kms_is_used_only_by_the_encryption_role_and_with_the_ebs_context(run):
    kms = [(role, need) for role, need in run.needs if need.action.startswith("kms:")]
    assert {need.action for _, need in kms} == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert {role for role, _ in kms} == {"encryption"}
    assert {need.context for _, need in kms} == {(("kms:EncryptionContextKeys", ("aws:ebs:id",)),)}


def test_the_encryption_role_never_touches_the_token_secret_or_the_snapshot_records(run):
    """The key holder builds no API runtime: no token secret, no read models (its copies write events only)."""
    encryption = [need for role, need in run.needs if role == "encryption"]
    assert encryption, "the encryption role made no calls"
    assert [n for n in encryption if n.resource.endswith("config/token-secret")] == []
    assert [n for n in encryption if "table/blocksnap-snapshots" in n.resource] == []


def test_every_granted_action_is_used_or_explained(run):
    """Least privilege, action by action: what no call uses is either removed or explained."""
    used = set()
    for role, need in run.needs:
        for sid in iam_eval.decide(policy(role), need)[1]:
            used.add((role, sid, need.action.lower()))
    unused, explained_but_used = [], []
    for role in POLICIES:
        for statement in policy(role)["Statement"]:
            sid = statement["Sid"]
            granted = iam_eval._listify(statement["Action"])
            for action in granted:
                is_used = any(r == role and s == sid and iam_eval._match(action, a, ignore_case=True)
                              for r, s, a in used)
                explained = (role, sid, action) in NOT_EXERCISED or (role, sid, "*") in NOT_EXERCISED
                if not is_used and not explained:
                    unused.append((role, sid, action))
                if is_used and explained:
                    explained_but_used.append((role, sid, action))
    assert unused == [], "grant nothing the code does not use, or say in NOT_EXERCISED why"
    assert explained_but_used == [], "NOT_EXERCISED names an action that is now used"
