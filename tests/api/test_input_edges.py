"""Input edges over real HTTP: each a 400 in the AWS shape, never a 500 (issue 12)."""

from __future__ import annotations

import socket

import pytest

from tests.servers import BlocksnapServer

from .conftest import block, snapshot


@pytest.fixture(scope="module")
def edge_server(tmp_path_factory):
    srv = BlocksnapServer(tmp_path_factory.mktemp("edges") / "data").start()
    yield srv
    srv.stop()


def test_input_edges_are_client_errors(edge_server):
    url = edge_server.url
    ebs = edge_server.client()
    sid = snapshot(ebs, {1: block("one")})
    token = ebs.list_snapshot_blocks(SnapshotId=sid)["Blocks"][0]["BlockToken"]
    huge = "9" * 5000  # beyond Python's 4,300-digit limit for int()
    requests = edge_server.http()  # signed with the root key, like every request the server accepts

    answers = {
        "uri": requests.get(f"{url}/snapshots/{sid}/blocks/{huge}", params={"blockToken": token}),
        "query": requests.get(f"{url}/snapshots/{sid}/blocks", params={"maxResults": huge}),
        "header": requests.put(f"{url}/snapshots/{sid}/blocks/0", data=b"x", headers={
            "x-amz-Data-Length": huge, "x-amz-Checksum": "AAAA", "x-amz-Checksum-Algorithm": "SHA256"}),
        "newline": requests.get(f"{url}/snapshots/{sid}/blocks/1%0a", params={"blockToken": token}),
    }
    for where, answer in answers.items():
        assert answer.status_code == 400, (where, answer.status_code, answer.text)
        assert answer.headers["x-amzn-ErrorType"].startswith("ValidationException:"), where
        assert len(answer.json()["message"]) <= 256, where
    assert "at 'blockIndex'" in answers["newline"].json()["message"]

    echoed = requests.post(f"{url}/snapshots", json={"VolumeSize": 1}, headers={"x-blocksnap-sub-block-size": "9" * 3000})
    assert echoed.status_code == 400 and len(echoed.json()["message"]) <= 256, echoed.text


def test_a_request_with_two_framings_gets_no_second_request_on_its_connection(edge_server):
    """granian (hyper) drops the Content-Length of a request that also says chunked, reads the chunked body
    and closes the connection after its answer (RFC 9112 §6.1): nothing can be smuggled behind it.
    The app never sees both headers; where a WSGI server passes both, request_body refuses them."""
    host, port = edge_server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"PUT /snapshots/snap-0123456789abcdef0/blocks/0 HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            b"GET /blocksnap/v1/snapshots/snap-0123456789abcdef0 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.count(b"HTTP/1.1 ") == 1, answer
    assert b"connection: close" in answer.lower()
    assert b"x-amzn-errortype: " in answer.lower()
