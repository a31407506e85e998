"""The encryption Lambda: an invocation (one request), or a batch of the event table's stream.

It is given exactly what the key holder needs, built here from the stores
:mod:`chalicelib.wiring` makes one by one: the KMS key service, the bucket
(wrapped keys, ciphertext, manifests) and, for the copier, the event table
with a :class:`~chalicelib.usecases.write_sink.WriteSink` over it. Never
``wiring.aws()``: that runtime loads the block-token secret, which this
function's role may not read (``.chalice/policy-encryption.json``), and the
API's use cases, whose reads mint tokens with it.

What is built is kept for the life of the execution environment, so the key
cache survives between invocations. The bucket and the S3, DynamoDB and KMS
endpoints come from :mod:`chalicelib.wiring` (``BLOCKSNAP_BUCKET``, boto3's
``AWS_ENDPOINT_URL_S3`` / ``_KMS``). A copy longer than the Lambda timeout is
cut off, and resumes where it stopped when the stream batch is retried.
"""

from __future__ import annotations

import base64
import binascii
import functools

from .. import wiring
from ..adapters.dynamodb_stream import record_from_image
from ..adapters.encryption_wire import error_body
from ..core.manifest_store import ManifestStore
from ..domain.errors import ValidationError
from ..ports import EncryptionFunction
from ..usecases.write_sink import WriteSink
from .copier import Copier
from .dispatch import answer
from .follower import CopyFollower
from .kms import KmsKeyService
from .service import EncryptionService


def lambda_handler(event: dict, context: object) -> dict:
    records = event.get("Records")
    if records and records[0].get("eventSource") == "aws:dynamodb":
        # Event items are only ever inserted.
        batch = [record_from_image(r["dynamodb"]["NewImage"]) for r in records if r.get("eventName") == "INSERT"]
        copy_follower().apply(batch)
        return {}
    return answer_invocation(function(), event)


def answer_invocation(target: EncryptionFunction, event: dict) -> dict:
    """The Lambda wire: JSON in and out, the bytes as base64 ``data``, errors as data."""
    try:
        data = base64.b64decode(event.get("data") or "", validate=True)
    except (binascii.Error, ValueError):
        return {"error": error_body(ValidationError("data is not valid base64"))}
    header, result = answer(target, event, data)
    return header or {"data": base64.b64encode(result).decode("ascii")}


@functools.cache
def function() -> EncryptionService:
    session = wiring.aws_session()
    return EncryptionService(KmsKeyService(wiring.aws_client(session, "kms")), wiring.aws_block_store(session))


@functools.cache
def copy_follower() -> CopyFollower:
    """The copier over the event table and the bucket; the stream trigger is its source."""
    session = wiring.aws_session()
    events = wiring.aws_event_store(session)
    blocks = wiring.aws_block_store(session)
    copier = Copier(events, ManifestStore(blocks), blocks, function(), WriteSink(events))
    return CopyFollower(None, copier)
