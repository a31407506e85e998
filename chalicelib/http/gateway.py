"""The Chalice app class, with the one gateway behaviour Chalice lacks.

botocore and the JS SDK send GetSnapshotBlock with no ``Accept`` header.
HTTP reads a missing Accept as "anything", but Chalice's binary-response check
rejects it with a 400, so the real SDKs could never read a block. This class
restores the HTTP meaning before Chalice sees the request. (PutSnapshotBlock
without ``Content-Type`` is handled by routing it with ``content_types=['*/*']``.)
"""

from __future__ import annotations

from typing import Any

from chalice import Chalice


class EbsChalice(Chalice):
    def __call__(self, event: Any, context: Any) -> Any:
        if isinstance(event, dict) and "requestContext" in event:
            headers = event.get("headers")
            if headers is None:
                headers = event["headers"] = {}
            if not any(k.lower() == "accept" for k in headers):
                headers["accept"] = "*/*"
        return super().__call__(event, context)
