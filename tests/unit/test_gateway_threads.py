"""Concurrent requests through the WSGI front each see their own request.

Chalice keeps the current request on the app object; under a threaded server
that would let one request read another's. Forcing very frequent thread
switches makes the mix-up show within a few hundred requests if it exists.
"""

from __future__ import annotations

import io
import json
import sys
import threading

from chalicelib import wiring
from chalicelib.http.wsgi import ChaliceWSGI


def call(wsgi, path: str) -> tuple[str, bytes]:
    status = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "wsgi.input": io.BytesIO()}
    body = b"".join(wsgi(environ, lambda s, h: status.append(s)))
    return status[0], body


def test_each_thread_gets_its_own_request():
    wiring.install(wiring.memory())
    from app import app

    wsgi = ChaliceWSGI(app)
    mixed: list[tuple[str, str]] = []
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def worker(n: int) -> None:
        for i in range(60):
            sid = f"snap-{n:08x}{i:09x}"
            try:
                status, body = call(wsgi, f"/snapshots/{sid}/blocks")
                message = json.loads(body)["Message"]
            except Exception as exc:  # a thread's exception would otherwise only be a warning
                mixed.append((sid, repr(exc)))
                continue
            if status != "404 Not Found" or sid not in message:
                mixed.append((sid, message))

    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(previous)
    assert mixed == []


def test_block_bodies_leave_the_wsgi_front_as_raw_bytes():
    wiring.install(wiring.memory())
    from app import app

    status, body = call(ChaliceWSGI(app), "/snapshots/snap-0123456789abcdef0/blocks/0")
    assert status.startswith("400")  # blockToken is required: a JSON error, not base64 text
    assert json.loads(body)["message"].startswith("1 validation error detected")


def test_a_lambda_event_without_accept_reads_a_block_as_base64_and_the_app_keeps_its_binary_types(tmp_path):
    """The API Gateway path: a GetSnapshotBlock with no Accept (as botocore sends it) is served, base64-encoded.

    Also pins that the WSGI front's raw-bytes view does not change the app
    the Lambda handler serves.
    """
    import base64
    import hashlib

    from chalicelib.http.bindings import Calls

    runtime = wiring.embedded(tmp_path / "data")
    wiring.install(runtime)
    from app import app

    ChaliceWSGI(app)
    calls = Calls(runtime.usecases)
    data = b"\x07" * 524288
    sid = calls.start_snapshot({"VolumeSize": 1})["SnapshotId"]
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    calls.put_snapshot_block({"SnapshotId": sid, "BlockIndex": 0, "BlockData": data, "DataLength": len(data),
                              "Checksum": digest, "ChecksumAlgorithm": "SHA256"})
    calls.complete_snapshot({"SnapshotId": sid, "ChangedBlocksCount": 1})
    runtime.projector.catch_up()
    token = calls.list_snapshot_blocks({"SnapshotId": sid})["Blocks"][0]["BlockToken"]
    event = {
        "requestContext": {"httpMethod": "GET", "resourcePath": "/snapshots/{snapshotId}/blocks/{blockIndex}",
                           "path": f"/snapshots/{sid}/blocks/0", "identity": {"sourceIp": "127.0.0.1"}},
        "headers": {"host": "example"},
        "pathParameters": {"snapshotId": sid, "blockIndex": "0"},
        "multiValueQueryStringParameters": {"blockToken": [token]},
        "stageVariables": {},
        "body": None,
        "isBase64Encoded": False,
    }
    response = app(event, None)
    assert response["statusCode"] == 200, response
    assert response["isBase64Encoded"] is True
    assert base64.b64decode(response["body"]) == data
    assert response["headers"]["x-amz-Checksum"] == digest
