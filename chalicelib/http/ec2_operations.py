"""EC2 request handling: ``POST /`` (or GET) → the action's handler → XML, or the EC2 error shape.

Each handler converts the parsed members to a use case's domain arguments
and the result back to output members. Only the snapshot actions below are
served; any other action the EC2 model has answers UnsupportedOperation, and
one it does not have InvalidAction, both in the EC2 error shape.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from chalice import Response
from chalice.app import Request

from ..domain.errors import UnsupportedOperation, ValidationError
from .errors import InvalidAction, MissingParameter
from ..domain.filters import DIRECT_API_VOLUME_ID, STORAGE_TIER, Filter, progress
from ..domain.snapshot import COMPLETED, ERROR, SnapshotRecord
from ..usecases.catalog import SnapshotQuery
from ..usecases.copying import CopyCommand
from . import ec2_query
from .ec2_errors import ec2_error

Members = dict[str, Any]


def describe_snapshots(uc, m: Members) -> Members:
    query = SnapshotQuery(
        snapshot_ids=tuple(m.get("SnapshotIds", ())),
        owners=tuple(m.get("OwnerIds", ())),
        restorable_by=tuple(m.get("RestorableByUserIds", ())),
        filters=tuple(_filter(f) for f in m.get("Filters", ())),
        max_results=m.get("MaxResults"),
        next_token=m.get("NextToken"),
    )
    page = uc.catalog.describe(query, m.get("DryRun", False))
    return {"Snapshots": [snapshot_members(r) for r in page.snapshots], "NextToken": page.next_token}


def create_tags(uc, m: Members) -> None:
    tags = tuple((t.get("Key", ""), t.get("Value", "")) for t in m.get("Tags", ()))
    uc.catalog.create_tags(m["Resources"], tags, m.get("DryRun", False))


def delete_tags(uc, m: Members) -> None:
    tags = m.get("Tags")
    removed = None if tags is None else [(t.get("Key", ""), t.get("Value")) for t in tags]
    uc.catalog.delete_tags(m["Resources"], removed, m.get("DryRun", False))


def delete_snapshot(uc, m: Members) -> None:
    uc.deletion.delete_snapshot(m["SnapshotId"], m.get("DryRun", False))


def copy_snapshot(uc, m: Members) -> Members:
    tags: list[tuple[str, str]] = []
    for spec in m.get("TagSpecifications", ()):
        if spec.get("ResourceType") != "snapshot":
            raise ValidationError(
                f"'{spec.get('ResourceType', '')}' is not a valid taggable resource type for this operation."
            )
        tags.extend((t.get("Key", ""), t.get("Value", "")) for t in spec.get("Tags", ()))
    command = CopyCommand(
        source_snapshot_id=m["SourceSnapshotId"],
        source_region=m["SourceRegion"],
        encrypted=m.get("Encrypted"),
        kms_key_id=m.get("KmsKeyId"),
        description=m.get("Description"),
        tags=tuple(tags),
    )
    snapshot_id, applied = uc.copying.copy_snapshot(command, m.get("DryRun", False))
    return {"SnapshotId": snapshot_id, "Tags": _tag_members(applied) or None}


_HANDLERS: dict[str, Callable[[Any, Members], Members | None]] = {
    "DescribeSnapshots": describe_snapshots,
    "CreateTags": create_tags,
    "DeleteTags": delete_tags,
    "DeleteSnapshot": delete_snapshot,
    "CopySnapshot": copy_snapshot,
}


def _filter(member: Members) -> Filter:
    if "Name" not in member:
        raise ValidationError("Every filter needs a Name")
    return Filter(member["Name"], tuple(member.get("Values", ())))


def _tag_members(tags) -> list[Members]:
    return [{"Key": k, "Value": v} for k, v in tags]


def snapshot_members(record: SnapshotRecord) -> Members:
    """A snapshot as DescribeSnapshots' ``Snapshot`` shape: what AWS sends for one made through the direct APIs."""
    return {
        "SnapshotId": record.snapshot_id,
        "VolumeId": DIRECT_API_VOLUME_ID,
        "State": record.status,
        "StateMessage": record.state_message if record.status == ERROR else None,
        "StartTime": record.start_time,
        "Progress": progress(record),
        "OwnerId": record.owner_id,
        "Description": record.description or "",
        "VolumeSize": record.volume_size,
        "Encrypted": record.encrypted,
        "KmsKeyId": record.kms_key_arn if record.encrypted else None,
        "Tags": _tag_members(record.tags) or None,
        "StorageTier": STORAGE_TIER,
        "CompletionTime": record.completion_time if record.status == COMPLETED else None,
    }


def _params(request: Request) -> dict[str, str]:
    """The request's pairs: the form body of a POST, the query string of a GET (AWS takes both)."""
    if request.method != "GET":
        return ec2_query.form(request.raw_body or b"")
    query = request.query_params or {}
    for name in query:
        if len(query.getlist(name)) > 1:
            raise ValidationError(f"The parameter {name} is given more than once")
    return {name: query[name] for name in query}


def handle(usecases: Callable[[], Any], request: Request) -> Response:
    request_id = str(uuid.uuid4())
    headers = {"Content-Type": ec2_query.CONTENT_TYPE, "x-amzn-RequestId": request_id}
    try:
        params = _params(request)
        action = params.get("Action")
        if not action:
            raise MissingParameter("Action")
        if action not in _HANDLERS:
            if ec2_query.has_operation(action):
                raise UnsupportedOperation(f"The action {action} is not supported by blocksnap.")
            raise InvalidAction(f"The action {action} is not valid for this web service.")
        version = params.get("Version")
        if version != ec2_query.VERSION:
            if version is None:
                raise MissingParameter("Version")
            raise ValidationError(f"Version {version} is not supported; blocksnap serves {ec2_query.VERSION}")
        output = _HANDLERS[action](usecases(), ec2_query.parse(action, params))
        return Response(ec2_query.serialize(action, output, request_id), headers=headers, status_code=200)
    except Exception as exc:  # the one place every EC2 failure becomes the EC2 error shape
        status, code, message = ec2_error(exc)
        return Response(ec2_query.error_body(code, message, request_id), headers=headers, status_code=status)
