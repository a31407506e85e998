"""Volumes: the aggregate folded from events, and the plan of a volume's snapshot.

A volume is a disk over a completed snapshot. Its lifecycle is in events (the
source of truth, like a snapshot's), all in one stream keyed by volume id:
``vol-…/0-created``, ``vol-…/1-snap-<generation:06d>``, ``vol-…/2-deleted``;
so one query lists every volume and a prefix query reads one. What it holds
(the bytes written since creation) is local disk, under ``DATA_DIR/volumes``.

The snapshot plan is pure: which sub-blocks changed in a generation decides,
per 512 KiB block, whether the block goes as one full write (every sub-block
changed) or as sub-block writes of the changed runs (issue 15: "full blocks
only where a whole block changed").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from .events import Event, VolumeCreated, VolumeDeleted, VolumeSnapshotted
from .snapshot import BLOCK_SIZE

VOLUMES_STREAM = "volumes"
DEFAULT_SUB_BLOCK_SIZE = 4096
VOLUME_ID = re.compile(r"vol-[0-9a-f]{17}")

AVAILABLE = "available"
DELETED = "deleted"


def created_key(volume_id: str) -> str:
    return f"{volume_id}/0-created"


def snapshotted_key(volume_id: str, generation: int) -> str:
    return f"{volume_id}/1-snap-{generation:06d}"


def deleted_key(volume_id: str) -> str:
    return f"{volume_id}/2-deleted"


def volume_prefix(volume_id: str) -> str:
    return f"{volume_id}/"


@dataclass(frozen=True)
class Volume:
    created: VolumeCreated
    snapshots: tuple[VolumeSnapshotted, ...] = ()
    deleted: VolumeDeleted | None = None

    @property
    def volume_id(self) -> str:
        return self.created.volume_id

    @property
    def size_bytes(self) -> int:
        return self.created.size_gib << 30

    @property
    def status(self) -> str:
        return DELETED if self.deleted is not None else AVAILABLE

    @property
    def parent_for_next_snapshot(self) -> str:
        """The volume's previous snapshot, else its source: what its next snapshot is incremental to."""
        return self.snapshots[-1].snapshot_id if self.snapshots else self.created.snapshot_id

    @property
    def next_generation(self) -> int:
        return self.snapshots[-1].generation + 1 if self.snapshots else 1

    @staticmethod
    def fold(events: Iterable[Event]) -> Volume | None:
        volume = None
        for event in events:
            if isinstance(event, VolumeCreated):
                volume = Volume(event)
            elif volume is not None and isinstance(event, VolumeSnapshotted):
                volume = Volume(volume.created, volume.snapshots + (event,), volume.deleted)
            elif volume is not None and isinstance(event, VolumeDeleted):
                volume = Volume(volume.created, volume.snapshots, event)
        return volume


def fold_all(events: Iterable[Event]) -> list[Volume]:
    """Every volume in the ``volumes`` stream (in key order, so each volume's events are together)."""
    by_id: dict[str, list[Event]] = {}
    for event in events:
        by_id.setdefault(getattr(event, "volume_id"), []).append(event)
    return [v for v in (Volume.fold(history) for history in by_id.values()) if v is not None]


@dataclass(frozen=True)
class BlockChange:
    """What a volume snapshot writes for one block: the whole block, or ``runs`` of (offset, length)."""

    index: int
    full: bool
    runs: tuple[tuple[int, int], ...]


def plan_changes(changed_units: Iterable[int], unit: int) -> list[BlockChange]:
    """Group changed sub-block numbers (``offset // unit`` on the volume) into per-block writes."""
    per_block = BLOCK_SIZE // unit
    by_block: dict[int, list[int]] = {}
    for number in sorted(set(changed_units)):
        by_block.setdefault(number // per_block, []).append(number % per_block)
    plan = []
    for index, slots in by_block.items():
        if len(slots) == per_block:
            plan.append(BlockChange(index, True, ((0, BLOCK_SIZE),)))
            continue
        runs: list[tuple[int, int]] = []
        for slot in slots:
            if runs and runs[-1][0] + runs[-1][1] == slot * unit:
                runs[-1] = (runs[-1][0], runs[-1][1] + unit)
            else:
                runs.append((slot * unit, unit))
        plan.append(BlockChange(index, False, tuple(runs)))
    return plan
