"""The Chalice app class, with the gateway behaviours Chalice lacks.

* **One request per thread.** Chalice keeps ``current_request`` on the app
  object, which is right for Lambda (one request per process at a time) and
  wrong for a threaded server: with the HTTP server's worker threads, one request
  could read another's body. Here the request and Lambda context live in a
  ``threading.local``.
* **A missing Accept header means "anything".** botocore and the JS SDK send
  GetSnapshotBlock with no ``Accept``; Chalice's binary-response check would
  answer 400, so the real SDKs could never read a block.
* **No base64 where no API Gateway stands.** API Gateway carries binary
  bodies as base64, so Chalice encodes them; the WSGI front
  (:mod:`chalicelib.http.wsgi`) marks its events, and for those responses go
  out as raw bytes, saving an encode and a decode of every 512 KiB block.

(PutSnapshotBlock without ``Content-Type`` is handled by routing it with
``content_types=['*/*']``.)
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from chalice import Chalice
from chalice.app import RestAPIEventHandler

RAW_BODY_MARK = "blocksnapRawBody"


class EbsChalice(Chalice):
    _per_thread = threading.local()

    @property
    def current_request(self):
        return getattr(self._per_thread, "request", None)

    @current_request.setter
    def current_request(self, value) -> None:
        self._per_thread.request = value

    @property
    def lambda_context(self):
        return getattr(self._per_thread, "context", None)

    @lambda_context.setter
    def lambda_context(self, value) -> None:
        self._per_thread.context = value

    def __call__(self, event: Any, context: Any) -> Any:
        if not (isinstance(event, dict) and "requestContext" in event):
            return super().__call__(event, context)
        headers = event.get("headers")
        if headers is None:
            headers = event["headers"] = {}
        if not any(k.lower() == "accept" for k in headers):
            headers["accept"] = "*/*"
        api = self.api
        if event.pop(RAW_BODY_MARK, False):
            api = copy.copy(self.api)
            api.binary_types = []
        self.lambda_context = context
        handler = RestAPIEventHandler(
            self.routes, api, self.log, self.debug,
            middleware_handlers=self._get_middleware_handlers("http"),
        )
        self.current_request = handler.create_request_object(event, context)
        return handler(event, context)
