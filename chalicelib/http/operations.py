"""Request handling: parse with the model, run the use case, serialise or map the error.

Routes in ``app.py`` call :func:`ebs` with the botocore operation name, or one
of the extension handlers, and get back a Chalice ``Response``; every error
goes through :func:`chalicelib.http.errors.error_response`, so there is one
mapping for the whole API.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Callable

from chalice import Response
from chalice.app import Request

from ..domain.errors import ConstraintViolation, SerializationError, ValidationError
from ..domain.snapshot import SnapshotRecord
from ..service import SnapshotService
from . import model
from .errors import error_response

_SNAPSHOT_ID = re.compile(r"snap-[0-9a-f]+")

_HANDLERS: dict[str, Callable[[SnapshotService, dict], dict]] = {
    "StartSnapshot": SnapshotService.start_snapshot,
    "PutSnapshotBlock": SnapshotService.put_snapshot_block,
    "CompleteSnapshot": SnapshotService.complete_snapshot,
    "GetSnapshotBlock": SnapshotService.get_snapshot_block,
    "ListSnapshotBlocks": SnapshotService.list_snapshot_blocks,
    "ListChangedBlocks": SnapshotService.list_changed_blocks,
}


def raw_request(request: Request) -> model.RawRequest:
    query = request.query_params or {}
    return model.RawRequest(
        uri_params=request.uri_params or {},
        headers=request.headers,
        query={k: query.getlist(k)[0] for k in query} if query else {},
        body=request.raw_body or b"",
    )


def _respond(status: int, headers: dict[str, str], body: bytes) -> Response:
    headers = dict(headers)
    headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return Response(body=body, status_code=status, headers=headers)


def _guarded(work: Callable[[], tuple[int, dict[str, str], bytes]]) -> Response:
    try:
        return _respond(*work())
    except Exception as exc:  # the one place every failure becomes an AWS error shape
        return _respond(*error_response(exc))


SUB_BLOCK_SIZE_HEADER = "x-blocksnap-sub-block-size"
SUB_BLOCK_SIZES = tuple(4096 << k for k in range(7))


def _sub_block_size(raw: model.RawRequest, req: dict) -> dict:
    """StartSnapshot opts in to sub-block writes with an extension header."""
    value = model.header(raw.headers, SUB_BLOCK_SIZE_HEADER)
    if value is None:
        return req
    if not value.isdigit() or int(value) not in SUB_BLOCK_SIZES:
        raise ValidationError(
            f"{SUB_BLOCK_SIZE_HEADER} must be a power of two from 4096 to 262144, not '{value}'"
        )
    return {**req, "SubBlockSize": int(value)}


_EXTENSIONS: dict[str, Callable[[model.RawRequest, dict], dict]] = {"StartSnapshot": _sub_block_size}


def ebs(service_factory: Callable[[], SnapshotService], op_name: str, request: Request) -> Response:
    def work():
        raw = raw_request(request)
        req = model.parse(op_name, raw)
        if op_name in _EXTENSIONS:
            req = _EXTENSIONS[op_name](raw, req)
        out = _HANDLERS[op_name](service_factory(), req)
        wire = model.serialize(op_name, out)
        return wire.status, wire.headers, wire.body

    return _guarded(work)


def check_snapshot_id(value: str, member: str = "snapshotId") -> str:
    if not (1 <= len(value) <= 64) or not _SNAPSHOT_ID.fullmatch(value):
        raise ConstraintViolation(
            member, value, "Member must satisfy regular expression pattern: ^snap-[0-9a-f]+$"
        )
    return value


def snapshot_document(record: SnapshotRecord) -> dict[str, Any]:
    return {
        "SnapshotId": record.snapshot_id,
        "Status": record.status,
        "StateMessage": record.state_message,
        "ParentSnapshotId": record.parent_snapshot_id,
        "VolumeSize": record.volume_size,
        "StartTime": record.start_time,
        "CompletionTime": record.completion_time,
        "ChangedBlocksCount": record.changed_blocks_count,
        "Encrypted": record.encrypted,
        "KmsKeyArn": record.kms_key_arn,
        "Tags": [{"Key": k, "Value": v} for k, v in record.tags],
        "Description": record.description,
        "SubBlockSize": record.sub_block_size,
        "Progress": record.progress,
        "OwnerId": record.owner_id,
        "LineageId": record.lineage_id,
        "SourceSnapshotId": record.source_snapshot_id,
    }


def json_response(status: int, document: dict) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(document).encode()


def describe_snapshot(service_factory: Callable[[], SnapshotService], snapshot_id: str) -> Response:
    def work():
        record = service_factory().describe_snapshot(check_snapshot_id(snapshot_id))
        return json_response(200, snapshot_document(record))

    return _guarded(work)


def put_sub_block(service_factory: Callable[[], SnapshotService], request: Request) -> Response:
    """PUT …/blocks/{blockIndex}/subblocks/{offset}: PutSnapshotBlock's members plus an offset."""

    def work():
        raw = raw_request(request)
        offset = raw.uri_params.get("offset", "")
        if not offset.isdigit():
            constraint = "Member must have value greater than or equal to 0" if offset.lstrip("-").isdigit() else "Member must be a number"
            raise ConstraintViolation("offset", offset, constraint)
        req = model.parse("PutSnapshotBlock", raw)
        out = service_factory().put_sub_block({**req, "Offset": int(offset)})
        wire = model.serialize("PutSnapshotBlock", out)
        return wire.status, wire.headers, wire.body

    return _guarded(work)


_COPY_MEMBERS = ("Encrypted", "KmsKeyArn", "Description", "Tags", "ClientToken")


def copy_snapshot(service_factory: Callable[[], SnapshotService], snapshot_id: str, request: Request) -> Response:
    """POST /blocksnap/v1/snapshots/{snapshotId}/copy → 202 {"SnapshotId", "Status"}.

    The body's members are StartSnapshot's, so StartSnapshot's model shape
    validates them (with its required VolumeSize filled in and dropped).
    """

    def work():
        check_snapshot_id(snapshot_id)
        raw = raw_request(request)
        try:
            document = json.loads(raw.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise SerializationError("The request body is not valid JSON") from None
        if not isinstance(document, dict):
            raise SerializationError("The request body must be a JSON object")
        members = {k: document[k] for k in _COPY_MEMBERS if k in document}
        as_start = model.RawRequest({}, {}, {}, json.dumps({**members, "VolumeSize": 1}).encode())
        req = model.parse("StartSnapshot", as_start)
        del req["VolumeSize"]
        return json_response(202, service_factory().copy_snapshot(snapshot_id, req))

    return _guarded(work)
