"""How the WSGI front reads a request body, on servers that end the input stream and on those that do not."""

from __future__ import annotations

import io
import threading
import time

import pytest

from chalicelib.http import wsgi
from chalicelib.http.errors import BodyTimeout, RequestTooLarge, SerializationError
from chalicelib.http.wsgi import MAX_BODY, request_body


class _Unterminated(io.BytesIO):
    """A wsgiref-style input: reading past Content-Length would wait for the client."""

    def read(self, size=-1):
        if size is None or size < 0 or size > len(self.getvalue()):
            raise AssertionError("read past the body: on wsgiref this blocks until the client hangs up")
        return super().read(size)


def test_a_sized_body_is_read_to_its_length():
    assert request_body({"wsgi.input": _Unterminated(b"abc"), "CONTENT_LENGTH": "3"}) == b"abc"


def test_an_unsized_body_is_read_whole_where_the_server_ends_the_stream():
    environ = {"wsgi.input": io.BytesIO(b"x" * 1000), "wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}
    assert request_body(environ) == b"x" * 1000


def test_a_request_without_length_or_chunked_encoding_has_no_body():
    """An HTTP/1.1 request without Content-Length or chunked encoding carries no body: nothing to read (every GET)."""
    assert request_body({"wsgi.input": _Unterminated(b""), "wsgi.input_terminated": True}) == b""


def test_an_unsized_body_is_empty_where_the_server_does_not_end_the_stream():
    assert request_body({"wsgi.input": _Unterminated(b"")}) == b""


@pytest.mark.parametrize("environ", [
    {"CONTENT_LENGTH": str(MAX_BODY + 1)},
    {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"},
])
def test_bodies_over_the_limit_are_refused(environ):
    with pytest.raises(RequestTooLarge):
        request_body({"wsgi.input": io.BytesIO(b"x" * (MAX_BODY + 1)), **environ})


def test_a_request_framed_by_both_length_and_chunked_encoding_is_refused():
    """Two framings of one body are how requests are smuggled past a proxy."""
    environ = {"wsgi.input": io.BytesIO(b"abc"), "CONTENT_LENGTH": "3", "HTTP_TRANSFER_ENCODING": "chunked",
               "wsgi.input_terminated": True}
    with pytest.raises(SerializationError, match="both Content-Length and Transfer-Encoding"):
        request_body(environ)


def test_a_content_length_beyond_pythons_digit_limit_is_too_large_not_a_crash():
    with pytest.raises(RequestTooLarge):
        request_body({"wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": "9" * 5000})


class _Stalled(io.RawIOBase):
    """A client that sent its headers and then nothing."""

    def __init__(self):
        self.released = threading.Event()

    def read(self, size=-1):
        self.released.wait(10)
        return b""


def test_a_body_that_does_not_arrive_in_time_is_a_timeout(monkeypatch):
    monkeypatch.setattr(wsgi, "BODY_SECONDS", 0.2)
    stalled = _Stalled()
    began = time.monotonic()
    with pytest.raises(BodyTimeout, match="did not arrive within 0.2 seconds"):
        request_body({"wsgi.input": stalled, "CONTENT_LENGTH": "10"})
    assert time.monotonic() - began < 2
    stalled.released.set()
