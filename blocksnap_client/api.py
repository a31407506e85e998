"""The clients every command uses: boto3's ``ebs`` and ``ec2``, and blocksnap's extensions where an endpoint is given.

Endpoint, region, profile and credentials come from the flags, else from the
standard ``AWS_*`` variables and files, exactly as the AWS CLI resolves them,
so the same command line works against blocksnap, moto and AWS. Retries and
timeouts are botocore's (``standard`` or ``adaptive`` mode, the latter also
slowing down when throttled, which keeps a large ``--workers`` under the
per-snapshot request limit); nothing here retries by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from .extensions import BlocksnapClient

RETRY_MODES = ("standard", "adaptive")


@dataclass(frozen=True)
class Settings:
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    retry_mode: str = "standard"
    max_attempts: int = 5
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    workers: int = 32


class Connection:
    """``ebs`` and ``ec2`` clients sharing one session; ``extensions`` is None without an endpoint (AWS itself)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        session = boto3.Session(profile_name=settings.profile, region_name=settings.region)
        self.region = session.region_name or "us-east-1"
        config = Config(
            retries={"mode": settings.retry_mode, "max_attempts": settings.max_attempts},
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            # One connection per worker, plus a few for listing and polling.
            max_pool_connections=settings.workers + 4,
        )
        common: dict[str, Any] = {"region_name": self.region, "config": config}
        if settings.endpoint_url:
            self.extensions: BlocksnapClient | None = BlocksnapClient(
                settings.endpoint_url, region_name=self.region, session=session, config=config
            )
            self.ebs = self.extensions.ebs
            self.ec2 = session.client("ec2", endpoint_url=settings.endpoint_url, **common)
        else:
            self.extensions = None
            self.ebs = session.client("ebs", **common)
            self.ec2 = session.client("ec2", **common)

    def checksums(self, snapshot_id: str) -> dict[int, str] | None:
        return self.extensions.checksums(snapshot_id) if self.extensions else None

    def writes(self, snapshot_id: str) -> dict[int, str] | None:
        return self.extensions.writes(snapshot_id) if self.extensions else None

    def list_blocks(self, snapshot_id: str) -> tuple[dict[int, str], int]:
        """Every block's index and token, and the volume size in GiB (ListSnapshotBlocks, all pages)."""
        tokens: dict[int, str] = {}
        kwargs: dict[str, Any] = {"SnapshotId": snapshot_id, "MaxResults": 10000}
        while True:
            page = self.ebs.list_snapshot_blocks(**kwargs)
            # int(): moto answers the index as a string.
            tokens.update((int(b["BlockIndex"]), b["BlockToken"]) for b in page.get("Blocks", []))
            if not page.get("NextToken"):
                return tokens, int(page["VolumeSize"])
            kwargs["NextToken"] = page["NextToken"]

    def changed_blocks(self, first: str, second: str) -> list[int]:
        """ListChangedBlocks, all pages: the indexes that differ between two snapshots."""
        indexes: set[int] = set()
        kwargs: dict[str, Any] = {"FirstSnapshotId": first, "SecondSnapshotId": second, "MaxResults": 10000}
        while True:
            page = self.ebs.list_changed_blocks(**kwargs)
            indexes.update(int(b["BlockIndex"]) for b in page.get("ChangedBlocks", []))
            if not page.get("NextToken"):
                return sorted(indexes)
            kwargs["NextToken"] = page["NextToken"]
