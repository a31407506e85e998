"""Snapshot ids in the AWS shape ``snap-`` + 17 lower-case hex digits."""

from __future__ import annotations

import re
import secrets

from .errors import MalformedSnapshotId, ValidationError

# AWS ids are 8 (before 2016) or 17 lower-case hex digits. A real 17-digit id
# also carries a check value nobody has reverse-engineered, so every id of the
# right shape is taken as well-formed and an unknown one is "not found".
_WELL_FORMED = re.compile(r"snap-(?:[0-9a-f]{8}|[0-9a-f]{17})")
_UPPER_CASE = re.compile(r"snap-(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{17})")


def new_snapshot_id() -> str:
    return "snap-" + secrets.token_hex(9)[:17]


def check_snapshot_id(value: str, parameter: str = "snapshotId") -> str:
    """``value`` if it is shaped like a snapshot id; otherwise AWS's error for it.

    AWS answers upper-case hex with InvalidParameterValue and anything else
    with InvalidSnapshotID.Malformed (observed on DescribeSnapshots).
    """
    if _WELL_FORMED.fullmatch(value):
        return value
    if _UPPER_CASE.fullmatch(value):
        raise ValidationError(f"Value ({value}) for parameter {parameter} is invalid. Expected: 'snap-...'.")
    raise MalformedSnapshotId(value)


def new_volume_id() -> str:
    """``vol-`` + 17 lower-case hex digits, EC2's shape."""
    return "vol-" + secrets.token_hex(9)[:17]
