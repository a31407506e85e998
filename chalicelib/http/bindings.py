"""The rest-json operations bound to the use cases: model members in, commands out, results back to members.

This is the one place where a botocore member name (``SnapshotId``,
``BlockIndex``, ...) meets a use-case command or a domain object: the use
cases never see a wire spelling, and the model-driven :mod:`.model` never
sees a use case. A new operation is a model entry plus a function here.
"""

from __future__ import annotations

from typing import Any, Callable

from ..domain.commands import CompleteSnapshot, CopyRequest, GetBlock, ListBlocks, ListChanges, PutBlock, StartRequest
from ..domain.access import Policy
from ..domain.snapshot import BLOCK_SIZE, PENDING, SnapshotRecord
from ..usecases import UseCases
from ..usecases.reads import Page
from .errors import UnknownOperation

Members = dict[str, Any]
SHA256 = "SHA256"


def _tags(members: Members) -> tuple[tuple[str, str], ...]:
    return tuple((tag.get("Key", ""), tag.get("Value", "")) for tag in members.get("Tags") or ())


def snapshot_members(record: SnapshotRecord) -> Members:
    """A snapshot as wire members; each output shape takes the members it declares."""
    return {
        "SnapshotId": record.snapshot_id,
        "Status": record.status,
        "StateMessage": record.state_message,
        "ParentSnapshotId": record.parent_snapshot_id,
        "VolumeSize": record.volume_size,
        "BlockSize": BLOCK_SIZE,
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


def start_snapshot(uc: UseCases, m: Members) -> Members:
    started = uc.starts.start(
        StartRequest(
            volume_size=m["VolumeSize"],
            parent_snapshot_id=m.get("ParentSnapshotId"),
            description=m.get("Description"),
            tags=_tags(m),
            encrypted=m.get("Encrypted"),
            kms_key_arn=m.get("KmsKeyArn"),
            timeout_minutes=m.get("Timeout"),
            client_token=m.get("ClientToken"),
            sub_block_size=m.get("SubBlockSize"),
        )
    )
    out = snapshot_members(SnapshotRecord.from_started(started))
    return {**out, "Status": PENDING, "Tags": out["Tags"] or None}


def _put(uc: UseCases, m: Members, offset: int | None) -> Members:
    data = m.get("BlockData") or b""
    digest = uc.writes.put(
        PutBlock(m["SnapshotId"], m["BlockIndex"], data, m["DataLength"], m["Checksum"], m["ChecksumAlgorithm"], offset)
    )
    return {"Checksum": digest, "ChecksumAlgorithm": SHA256}


def put_snapshot_block(uc: UseCases, m: Members) -> Members:
    return _put(uc, m, None)


def put_snapshot_sub_block(uc: UseCases, m: Members) -> Members:
    return _put(uc, m, m["Offset"])


def complete_snapshot(uc: UseCases, m: Members) -> Members:
    status = uc.completion.complete(
        CompleteSnapshot(
            m["SnapshotId"],
            m["ChangedBlocksCount"],
            m.get("Checksum"),
            m.get("ChecksumAlgorithm"),
            m.get("ChecksumAggregationMethod"),
        )
    )
    return {"Status": status}


def get_snapshot_block(uc: UseCases, m: Members) -> Members:
    block = uc.reads.get_block(GetBlock(m["SnapshotId"], m["BlockIndex"], m["BlockToken"]))
    return {"DataLength": len(block.data), "BlockData": block.data, "Checksum": block.digest, "ChecksumAlgorithm": SHA256}


def _page_members(page: Page) -> Members:
    return {"ExpiryTime": page.expiry, "VolumeSize": page.volume_size, "BlockSize": BLOCK_SIZE, "NextToken": page.next_token}


def list_snapshot_blocks(uc: UseCases, m: Members) -> Members:
    page = uc.reads.list_blocks(_listing(m))
    blocks = [{"BlockIndex": ref.index, "BlockToken": ref.token} for ref in page.items]
    return {"Blocks": blocks, **_page_members(page)}


def list_changed_blocks(uc: UseCases, m: Members) -> Members:
    page = uc.reads.list_changes(
        ListChanges(
            m["SecondSnapshotId"],
            m.get("FirstSnapshotId"),
            m.get("StartingBlockIndex"),
            m.get("MaxResults"),
            m.get("NextToken"),
        )
    )
    changed = []
    for change in page.items:
        item: Members = {"BlockIndex": change.index}
        if change.first_token is not None:
            item["FirstBlockToken"] = change.first_token
        if change.second_token is not None:
            item["SecondBlockToken"] = change.second_token
        changed.append(item)
    return {"ChangedBlocks": changed, **_page_members(page)}


def _checksum_members(page: Page) -> Members:
    blocks = [{"BlockIndex": index, "Checksum": digest} for index, digest in page.items]
    return {"Blocks": blocks, "ChecksumAlgorithm": SHA256, **_page_members(page)}


def _listing(m: Members) -> ListBlocks:
    return ListBlocks(m["SnapshotId"], m.get("StartingBlockIndex"), m.get("MaxResults"), m.get("NextToken"))


def list_snapshot_checksums(uc: UseCases, m: Members) -> Members:
    return _checksum_members(uc.reads.list_checksums(_listing(m)))


def list_snapshot_writes(uc: UseCases, m: Members) -> Members:
    return _checksum_members(uc.reads.list_writes(_listing(m)))


def describe_snapshot(uc: UseCases, m: Members) -> Members:
    return snapshot_members(uc.reads.describe(m["SnapshotId"]))


def copy_snapshot(uc: UseCases, m: Members) -> Members:
    started = uc.starts.copy(
        CopyRequest(
            source_snapshot_id=m["SourceSnapshotId"],
            encrypted=m.get("Encrypted"),
            kms_key_arn=m.get("KmsKeyArn"),
            description=m.get("Description"),
            tags=_tags(m),
            client_token=m.get("ClientToken"),
        )
    )
    return {"SnapshotId": started.snapshot_id, "Status": PENDING}


def get_usage(uc: UseCases, m: Members) -> Members:
    usage = uc.garbage.collect(free=False)
    return {
        "StoredBytes": usage.stored_bytes,
        "StoredBlocks": usage.stored_blocks,
        "ReferencedBytes": usage.referenced_bytes,
        "ReclaimableBytes": usage.reclaimable_bytes,
    }


def _key_members(key) -> Members:
    return {"AccessKeyId": key.access_key_id, "Policy": key.policy.value, "Description": key.description,
            "CreateDate": key.created}


def _access(uc: UseCases):
    if uc.access is None:
        raise UnknownOperation("Access keys are managed by blocksnap serve; here IAM authenticates requests.")
    return uc.access


def create_access_key(uc: UseCases, m: Members) -> Members:
    key = _access(uc).create(Policy(m["Policy"]), m.get("Description") or "")
    return {**_key_members(key), "SecretAccessKey": key.secret_access_key}


def list_access_keys(uc: UseCases, m: Members) -> Members:
    return {"AccessKeys": [_key_members(key) for key in _access(uc).list()]}


def delete_access_key(uc: UseCases, m: Members) -> Members:
    _access(uc).revoke(m["AccessKeyId"])
    return {}


OPERATIONS: dict[str, Callable[[UseCases, Members], Members]] = {
    "StartSnapshot": start_snapshot,
    "PutSnapshotBlock": put_snapshot_block,
    "CompleteSnapshot": complete_snapshot,
    "GetSnapshotBlock": get_snapshot_block,
    "ListSnapshotBlocks": list_snapshot_blocks,
    "ListChangedBlocks": list_changed_blocks,
    "DescribeSnapshot": describe_snapshot,
    "PutSnapshotSubBlock": put_snapshot_sub_block,
    "CopySnapshot": copy_snapshot,
    "ListSnapshotChecksums": list_snapshot_checksums,
    "ListSnapshotWrites": list_snapshot_writes,
    "GetUsage": get_usage,
    "CreateAccessKey": create_access_key,
    "ListAccessKeys": list_access_keys,
    "DeleteAccessKey": delete_access_key,
}


def invoke(uc: UseCases, operation: str, members: Members) -> Members:
    """Run one operation on already parsed members (what a route does after :func:`.model.parse`)."""
    return OPERATIONS[operation](uc, members)


class Calls:
    """The bound operations as snake-case methods taking members: ``Calls(uc).start_snapshot({"VolumeSize": 1})``.

    What a route does after parsing, without HTTP: for benchmarks and tests
    that drive the service in-process with the members a client would send.
    """

    def __init__(self, usecases: UseCases):
        self.usecases = usecases

    def __getattr__(self, name: str) -> Callable[[Members], Members]:
        operation = "".join(part.title() for part in name.split("_"))
        if operation not in OPERATIONS:
            raise AttributeError(name)
        return lambda members: invoke(self.usecases, operation, members)
