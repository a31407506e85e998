"""Volume use cases: create, describe, delete, snapshot; and the exports the NBD server serves.

The engine lives in the volume server process (``blocksnap serve`` starts
it), because a volume's store is that process's local disk and a snapshot
must freeze the dirty map where the writes happen. Everything else about a
volume is in events, appended here and readable by any process.

A snapshot of a volume is taken in two steps. At the call, the snapshot is
started (incremental to the volume's previous snapshot, else its source,
with the volume's sub-block size) and the dirty map frozen; the call then
returns the snapshot id. A thread records the frozen sub-blocks through the
use cases and completes the snapshot; once it is sealed, a
``VolumeSnapshotted`` event makes it the parent of the next one. One
snapshot of a volume is recorded at a time: a second call waits for the
first's recording to end before it freezes.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Callable

from ..core.blockio import BlockIO
from ..core.manifest_store import ManifestStore
from ..domain import keys
from ..domain.errors import InvalidSnapshotId, InvalidVolumeSize, SnapshotNotFound, VolumeInUse, VolumeNotFound
from ..domain.events import EventRecord, VolumeCreated, VolumeDeleted, VolumeSnapshotted
from ..domain.ids import new_volume_id
from ..domain.snapshot import BLOCK_SIZE, COMPLETED, MAX_VOLUME_SIZE_GIB, PENDING
from ..domain.volumes import (
    DEFAULT_SUB_BLOCK_SIZE,
    VOLUME_ID,
    VOLUMES_STREAM,
    Volume,
    created_key,
    deleted_key,
    fold_all,
    plan_changes,
    snapshotted_key,
    volume_prefix,
)
from ..ports import EventStore, ReadModelStore
from ..usecases import UseCases
from . import snapshot_calls
from .disk import VolumeDisk
from .source import SnapshotSource
from .store import VolumeStore

log = logging.getLogger(__name__)

_SEAL_POLL = 0.05
_SEAL_WAIT = 600.0


class VolumeEngine:
    def __init__(
        self,
        events: EventStore,
        records: ReadModelStore,
        manifests: ManifestStore,
        blockio: BlockIO,
        usecases: UseCases,
        root: Path,
        clock: Callable[[], float] = time.time,
    ):
        self._events = events
        self._records = records
        self._manifests = manifests
        self._blockio = blockio
        self._usecases = usecases
        self._root = root
        self._clock = clock
        self._lock = threading.Lock()
        self._disks: dict[str, VolumeDisk] = {}
        self._clients: dict[str, int] = {}
        self._recording: dict[str, threading.Lock] = {}

    # ---- lifecycle -----------------------------------------------------

    def create_volume(self, snapshot_id: str, size_gib: int | None = None, tags=()) -> dict:
        """A volume over a completed snapshot, available at once (its blocks are read on first use)."""
        record = self._records.get_snapshot(snapshot_id) if keys.SNAPSHOT_ID.fullmatch(snapshot_id) else None
        if record is None:
            raise SnapshotNotFound(snapshot_id)
        if record.status != COMPLETED:
            raise InvalidSnapshotId(f"Snapshot {snapshot_id} is not completed; a volume needs a completed snapshot")
        size = record.volume_size if size_gib is None else size_gib
        if not record.volume_size <= size <= MAX_VOLUME_SIZE_GIB:
            raise InvalidVolumeSize(
                f"Volume size {size} GiB must be at least the snapshot's {record.volume_size} GiB "
                f"and at most {MAX_VOLUME_SIZE_GIB} GiB"
            )
        created = VolumeCreated(
            volume_id=new_volume_id(),
            snapshot_id=snapshot_id,
            size_gib=size,
            sub_block_size=record.sub_block_size or DEFAULT_SUB_BLOCK_SIZE,
            created_at=round(self._clock(), 3),
            tags=tuple((k, v) for k, v in tags),
        )
        self._events.append([EventRecord(VOLUMES_STREAM, created_key(created.volume_id), created)])
        return self._document(Volume(created))

    def volume(self, volume_id: str) -> Volume:
        volume = None
        if VOLUME_ID.fullmatch(volume_id):
            volume = Volume.fold(r.event for r in self._events.query(VOLUMES_STREAM, volume_prefix(volume_id)))
        if volume is None or volume.deleted is not None:
            raise VolumeNotFound(volume_id)
        return volume

    def describe_volumes(self, volume_ids: list[str] | None = None) -> list[dict]:
        if volume_ids:
            return [self._document(self.volume(v)) for v in volume_ids]
        volumes = fold_all(r.event for r in self._events.query(VOLUMES_STREAM))
        return [self._document(v) for v in volumes if v.deleted is None]

    def _document(self, volume: Volume) -> dict:
        created = volume.created
        return {
            "VolumeId": created.volume_id,
            "SnapshotId": created.snapshot_id,
            "Size": created.size_gib,
            "SubBlockSize": created.sub_block_size,
            "CreateTime": created.created_at,
            "State": volume.status,
            "Tags": [{"Key": k, "Value": v} for k, v in created.tags],
            "Snapshots": [s.snapshot_id for s in volume.snapshots],
            "Clients": self._clients.get(created.volume_id, 0),
        }

    def delete_volume(self, volume_id: str) -> None:
        """Refused while an NBD client is attached (EC2 ``VolumeInUse``); frees the volume's store.

        A snapshot of the volume still being recorded is finished first: it reads the store.
        """
        self.volume(volume_id)
        with self._recording_lock(volume_id):
            with self._lock:
                self.volume(volume_id)
                clients = self._clients.get(volume_id, 0)
                if clients:
                    raise VolumeInUse(volume_id, clients)
                event = VolumeDeleted(volume_id, round(self._clock(), 3))
                self._events.append_once([EventRecord(VOLUMES_STREAM, deleted_key(volume_id), event)])
                disk = self._disks.pop(volume_id, None)
                self._recording.pop(volume_id, None)
            if disk is not None:
                disk.close()
            shutil.rmtree(self._root / volume_id, ignore_errors=True)

    def _recording_lock(self, volume_id: str) -> threading.Lock:
        """Held while a snapshot of the volume is frozen and recorded."""
        with self._lock:
            return self._recording.setdefault(volume_id, threading.Lock())

    # ---- exports (the NBD server's view) ---------------------------------

    def export_size(self, name: str) -> int | None:
        try:
            return self.volume(name).size_bytes
        except VolumeNotFound:
            return None

    def export_names(self) -> list[str]:
        return [d["VolumeId"] for d in self.describe_volumes()]

    def attach(self, volume_id: str) -> VolumeDisk:
        with self._lock:
            disk = self._disk(volume_id)
            self._clients[volume_id] = self._clients.get(volume_id, 0) + 1
            return disk

    def detach(self, volume_id: str) -> None:
        with self._lock:
            self._clients[volume_id] -= 1

    def _disk(self, volume_id: str) -> VolumeDisk:
        """The volume's disk, opened on first use; call with ``_lock`` held."""
        disk = self._disks.get(volume_id)
        if disk is None:
            volume = self.volume(volume_id)
            source = self._records.get_snapshot(volume.created.snapshot_id)
            if source is None:
                raise SnapshotNotFound(volume.created.snapshot_id)
            store = VolumeStore(self._root / volume_id, volume.size_bytes, volume.created.sub_block_size)
            reader = SnapshotSource(
                self._manifests, self._blockio, source.snapshot_id,
                source.lineage_id if source.encrypted else None, source.volume_size << 30,
            )
            disk = self._disks[volume_id] = VolumeDisk(store, reader, volume.size_bytes)
        return disk

    def close(self) -> None:
        """Make every write durable (a stop is a flush for every client) and close the stores."""
        with self._lock:
            disks, self._disks = list(self._disks.values()), {}
        for disk in disks:
            disk.flush()
            disk.close()

    # ---- snapshots -----------------------------------------------------

    def create_snapshot(self, volume_id: str, description: str | None = None) -> str:
        self.volume(volume_id)  # an unknown id ends here, before anything is kept for it
        recording = self._recording_lock(volume_id)
        recording.acquire()
        try:
            volume = self.volume(volume_id)
            with self._lock:
                disk = self._disk(volume_id)
            snapshot_id = snapshot_calls.start(
                self._usecases, volume.created.size_gib, volume.parent_for_next_snapshot,
                volume.created.sub_block_size, description,
            )
            frozen = disk.freeze()
        except BaseException:
            recording.release()
            raise
        threading.Thread(
            target=self._record, args=(volume, disk, snapshot_id, frozen, recording),
            name=f"blocksnap-snapshot-{volume_id}", daemon=True,
        ).start()
        return snapshot_id

    def _record(self, volume: Volume, disk: VolumeDisk, snapshot_id: str, frozen: list[int],
                recording: threading.Lock) -> None:
        sealed = False
        try:
            plan = plan_changes(frozen, disk.unit)
            for change in plan:
                for offset, length in change.runs:
                    data = disk.frozen_read(change.index * BLOCK_SIZE + offset, length)
                    snapshot_calls.record(self._usecases, snapshot_id, change.index, offset, data)
            snapshot_calls.complete(self._usecases, snapshot_id, len(plan))
            sealed = self._wait_sealed(snapshot_id)
            if sealed:
                event = VolumeSnapshotted(volume.volume_id, snapshot_id, volume.next_generation,
                                          round(self._clock(), 3))
                key = snapshotted_key(volume.volume_id, volume.next_generation)
                self._events.append([EventRecord(VOLUMES_STREAM, key, event)])
        except Exception:
            log.exception("snapshot %s of volume %s failed", snapshot_id, volume.volume_id)
        finally:
            disk.release(sealed, frozen)
            recording.release()

    def _wait_sealed(self, snapshot_id: str) -> bool:
        deadline = time.monotonic() + _SEAL_WAIT
        while time.monotonic() < deadline:
            status = snapshot_calls.status(self._usecases, snapshot_id)
            if status != PENDING:
                return status == COMPLETED
            time.sleep(_SEAL_POLL)
        return False
