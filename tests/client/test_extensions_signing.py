"""The Python client signs its extension calls with the credentials it was given."""

from __future__ import annotations

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
