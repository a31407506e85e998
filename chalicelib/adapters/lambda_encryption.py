"""The API's client of the encryption Lambda: a synchronous invoke per request.

The API function's role may invoke the encryption function and has no
``kms:*`` permission; the encryption function's role has KMS and the
``keys/`` prefix. This module imports neither ``chalicelib.encryption`` nor
``cryptography``.

The payload is the JSON wire of :mod:`.encryption_wire` with the bytes as
base64 (a 512 KiB block becomes ~700 KB, inside the 6 MB synchronous
payload limit). Errors the function raised on purpose come back as data and
are raised here as the caller's own; a function that crashed or timed out
(``FunctionError``) is a RuntimeError naming the function. Throttling of the
invoke call itself becomes :class:`DependencyThrottled`, as for every cloud
dependency; its other errors (a missing permission) propagate as botocore
raised them.
"""

from __future__ import annotations

import base64
import json

from .aws_errors import translate_throttling
from .encryption_wire import RemoteEncryptionFunction, raise_error


class LambdaEncryptionFunction(RemoteEncryptionFunction):
    def __init__(self, lambda_client, function_name: str):
        self._lambda = lambda_client
        self.function_name = function_name

    @translate_throttling
    def _send(self, request: dict, data: bytes = b"") -> bytes:
        request["data"] = base64.b64encode(data).decode("ascii")
        response = self._lambda.invoke(
            FunctionName=self.function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(request).encode("utf-8"),
        )
        payload = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError"):
            raise RuntimeError(
                f"the encryption function {self.function_name} failed: "
                f"{payload.get('errorType')}: {payload.get('errorMessage')}"
            )
        if "error" in payload:
            raise_error(payload["error"])
        return base64.b64decode(payload["data"])
