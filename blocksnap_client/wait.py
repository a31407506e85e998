"""Waiting until a snapshot is completed *and* its blocks can be read (coldsnap #141).

The state comes from the first source that answers: EC2 DescribeSnapshots
(AWS, moto), else blocksnap's ``GET /blocksnap/v1/snapshots/{id}``, else
CompleteSnapshot repeated with the upload's own arguments (idempotent, and it
answers the status). A completed state is not the end: on AWS reads can lag
it, so ListSnapshotBlocks must answer too before the wait is over.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from .api import Connection
from .errors import CommandError

# Sealing takes milliseconds on blocksnap and minutes on AWS: poll soon, then back off to once a second.
FIRST_POLL_SECONDS = 0.02
MAX_POLL_SECONDS = 1.0
_NOT_READABLE = {"ResourceNotFoundException", "ValidationException"}


_NOT_FOUND = {"InvalidSnapshot.NotFound", "ResourceNotFoundException"}


def _ask(question: Callable[[], str | None], snapshot_id: str) -> str | None:
    """The state, or None where this source does not answer here; "no such snapshot" ends the wait."""
    try:
        return question()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _NOT_FOUND:
            raise CommandError(f"snapshot {snapshot_id} not found") from None
        return None
    except (BotoCoreError, ResponseParserError):
        return None


def _ec2_state(conn: Connection, snapshot_id: str) -> str | None:
    def ask() -> str | None:
        found = conn.ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
        return found[0]["State"] if found else None

    return _ask(ask, snapshot_id)


def _extension_state(conn: Connection, snapshot_id: str) -> str | None:
    if conn.extensions is None:
        return None
    return _ask(lambda: conn.extensions.describe_snapshot(snapshot_id).get("Status"), snapshot_id)


def state_source(conn: Connection, snapshot_id: str, complete: dict[str, Any] | None) -> Callable[[], str | None]:
    """The first way of asking for the state that works here; None means "only reads can tell"."""
    if _ec2_state(conn, snapshot_id) is not None:
        return lambda: _ec2_state(conn, snapshot_id)
    if _extension_state(conn, snapshot_id) is not None:
        return lambda: _extension_state(conn, snapshot_id)
    if complete is not None:
        return lambda: conn.ebs.complete_snapshot(SnapshotId=snapshot_id, **complete)["Status"]
    return lambda: None


def _readable(conn: Connection, snapshot_id: str) -> bool:
    try:
        conn.ebs.list_snapshot_blocks(SnapshotId=snapshot_id, MaxResults=100)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _NOT_READABLE:
            return False
        raise
    return True


def wait_until_readable(
    conn: Connection, snapshot_id: str, timeout: float, complete: dict[str, Any] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    state = state_source(conn, snapshot_id, complete)
    pause = FIRST_POLL_SECONDS
    while True:
        status = state()
        if status == "error":
            raise CommandError(f"snapshot {snapshot_id} failed (status error)")
        if status in ("completed", None) and _readable(conn, snapshot_id):
            return
        if time.monotonic() > deadline:
            raise CommandError(f"snapshot {snapshot_id} is still {status or 'unreadable'} after {timeout:g} s")
        time.sleep(pause)
        pause = min(pause * 2, MAX_POLL_SECONDS)
