"""The Chalice app class, with the gateway behaviours Chalice lacks, on Chalice's public API only.

* **One request per thread.** Chalice keeps ``current_request`` on the app
  object, which is right for Lambda (one request per process at a time) and
  wrong for a threaded server: with the HTTP server's worker threads, one
  request could read another's body. Chalice assigns ``app.current_request``
  and ``app.lambda_context`` on every event; here those attributes are
  properties over a ``threading.local``.
* **A missing Accept header means "anything".** botocore and the JS SDK send
  GetSnapshotBlock with no ``Accept``; Chalice's binary-response check would
  answer 400, so the real SDKs could never read a block. The default is added
  to the event before :meth:`Chalice.__call__`, the documented entry point.

(PutSnapshotBlock without ``Content-Type`` is handled by routing it with
``content_types=['*/*']``; raw bytes without base64 under ``blocksnap serve``
are the WSGI front's business, :mod:`chalicelib.http.wsgi`.)
"""

from __future__ import annotations

import threading
from typing import Any

from chalice import Chalice


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
        if isinstance(event, dict) and "requestContext" in event:
            headers = event.get("headers") or {}
            if not any(k.lower() == "accept" for k in headers):
                headers["accept"] = "*/*"
            event["headers"] = headers
        return super().__call__(event, context)
