"""The extensions client: signed for ebs with the credentials it was given, pages followed, absence detected."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from blocksnap_client.extensions import BlocksnapClient


@pytest.fixture
def recorder():
    """A loopback endpoint that answers ``{}`` and keeps each request's Authorization header."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()
    thread.join()


def test_keyword_credentials_sign_the_extension_calls(recorder, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    url, seen = recorder
    client = BlocksnapClient(url, aws_access_key_id="AKIDKEYWORD", aws_secret_access_key="secret")
    client.describe_snapshot("snap-0123456789abcdef0")
    assert seen[0] is not None and seen[0].startswith("AWS4-HMAC-SHA256 Credential=AKIDKEYWORD/")


def test_credentials_come_from_one_place_only(recorder):
    url, _ = recorder
    with pytest.raises(TypeError):
        BlocksnapClient(url, session=boto3.Session(), aws_access_key_id="A", aws_secret_access_key="B")


@pytest.fixture
def checksum_pages():
    """A stub of the checksums route: two pages, then a 404 UnknownOperationException for any other path."""
    seen: list[tuple[str, str | None]] = []
    pages = {
        None: {"Blocks": [{"BlockIndex": 0, "Checksum": "AA=="}], "NextToken": "t1"},
        "t1": {"Blocks": [{"BlockIndex": 7, "Checksum": "Bw=="}], "NextToken": None},
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            from urllib.parse import parse_qs, urlsplit

            url = urlsplit(self.path)
            seen.append((self.path, self.headers.get("Authorization")))
            token = parse_qs(url.query).get("pageToken", [None])[0]
            if url.path.endswith("/checksums") and token in pages:
                body, status, headers = json.dumps(dict(pages[token], ChecksumAlgorithm="SHA256")), 200, {}
            else:
                body, status = '{"message": "No operation"}', 404
                headers = {"x-amzn-ErrorType": "UnknownOperationException:http://internal.amazon.com/"}
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()
    thread.join()


def test_checksum_pages_are_followed_and_signed_for_ebs(checksum_pages):
    url, seen = checksum_pages
    client = BlocksnapClient(url, aws_access_key_id="AKIDPAGES", aws_secret_access_key="secret")
    assert client.checksums("snap-0123456789abcdef0") == {0: "AA==", 7: "Bw=="}
    assert [path.split("?")[1] for path, _ in seen] == ["maxResults=10000", "maxResults=10000&pageToken=t1"]
    assert all(auth and "/us-east-1/ebs/aws4_request" in auth for _, auth in seen)


def test_a_server_without_the_route_means_no_digests(checksum_pages):
    url, _ = checksum_pages
    client = BlocksnapClient(url, aws_access_key_id="AKIDPAGES", aws_secret_access_key="secret")
    assert client.writes("snap-0123456789abcdef0") is None
