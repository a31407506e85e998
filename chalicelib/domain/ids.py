"""Snapshot ids in the AWS shape ``snap-`` + 17 lower-case hex digits."""

from __future__ import annotations

import secrets


def new_snapshot_id() -> str:
    return "snap-" + secrets.token_hex(9)[:17]


def new_volume_id() -> str:
    """``vol-`` + 17 lower-case hex digits, EC2's shape."""
    return "vol-" + secrets.token_hex(9)[:17]
