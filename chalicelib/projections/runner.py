"""The projector: feeds batches of the event log to the projections.

Handlers run in a fixed order per batch — policy (sealer), manifests, then
records — and a batch's position is committed only after all of them have
handled it, so a crash replays the batch and idempotent handlers make that
harmless. The batches come from a :class:`BatchSource`: the SQLite log with a
stored checkpoint (embedded), or a DynamoDB stream (``blocksnap serve
--backend aws`` polls it; on AWS ``app.py``'s stream trigger calls
:meth:`Projector.apply` directly).
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Protocol, Sequence

from ..domain.errors import StorageFull
from ..domain.events import EventRecord
from ..ports import EventFeed, ReadModelStore
from .sealing import ManifestProjection, Sealer
from .snapshot_records import SnapshotRecordsProjection
from .timekeeper import Timekeeper

log = logging.getLogger(__name__)

CHECKPOINT = "projector"
BATCH = 1000
FULL_RETRY_SECONDS = 5.0


class BatchSource(Protocol):
    def next_batch(self) -> tuple[Sequence[EventRecord], Callable[[], None]]:
        """The next records to project, and the function that commits their position."""


class LogSource:
    """The embedded source: the SQLite log after a checkpoint kept with the read models."""

    def __init__(self, feed: EventFeed, records: ReadModelStore, name: str = CHECKPOINT):
        self.feed = feed
        self.records = records
        self.name = name

    def next_batch(self):
        batch = self.feed.read_after(int(self.records.get_checkpoint(self.name) or 0), BATCH)
        last = str(batch[-1].position) if batch else None
        return batch, (lambda: self.records.set_checkpoint(self.name, last)) if batch else (lambda: None)


class Projector:
    def __init__(
        self,
        source: BatchSource | None,
        sealer: Sealer,
        manifests: ManifestProjection,
        snapshot_records: SnapshotRecordsProjection,
        timekeeper: Timekeeper | None = None,
    ):
        self.source = source
        self.sealer = sealer
        self.manifests = manifests
        self.snapshot_records = snapshot_records
        self.timekeeper = timekeeper
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def apply(self, batch: Sequence[EventRecord]) -> None:
        for record in batch:
            self.sealer.handle(record)
            self.manifests.handle(record)
        self.snapshot_records.handle_batch(batch)

    def run_once(self) -> int:
        """Project one batch; return how many records it held."""
        if self.source is None:
            return 0
        batch, commit = self.source.next_batch()
        if batch:
            self.apply(batch)
            commit()
        return len(batch)

    def catch_up(self) -> int:
        total = 0
        while True:
            n = self.run_once()
            total += n
            if n == 0:
                return total

    def start(self, poll_seconds: float = 0.05, sweep_seconds: float = 1.0) -> None:
        def loop() -> None:
            since_sweep = 0.0
            while not self._stop.is_set():
                try:
                    if self.run_once():
                        continue
                    since_sweep += poll_seconds
                    if self.timekeeper is not None and since_sweep >= sweep_seconds:
                        since_sweep = 0.0
                        if self.timekeeper.sweep():
                            continue
                except StorageFull as exc:  # the operator's to fix: one line a while, not a traceback a poll
                    log.warning("projector paused: %s; retrying in %.0f s", exc, FULL_RETRY_SECONDS)
                    self._stop.wait(FULL_RETRY_SECONDS)
                except Exception:
                    log.exception("projector batch failed; retrying")
                self._stop.wait(poll_seconds)

        self._thread = threading.Thread(target=loop, name="blocksnap-projector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following, after projecting what was appended before the stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.catch_up()
