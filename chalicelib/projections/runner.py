"""The embedded projector: follows the SQLite log from a stored checkpoint.

Handlers run in a fixed order per batch — policy (sealer), manifests, then
records — and the checkpoint moves only after all of them have handled the
batch, so a crash replays the batch and idempotent handlers make that
harmless. On AWS, ``app.py``'s stream trigger feeds the same handlers.
"""

from __future__ import annotations

import logging
import threading
from typing import Sequence

from ..domain.events import EventRecord
from ..ports import EventFeed, ReadModelStore
from .sealing import ManifestProjection, Sealer
from .snapshot_records import SnapshotRecordsProjection
from .timekeeper import Timekeeper

log = logging.getLogger(__name__)

CHECKPOINT = "projector"
BATCH = 1000


class Projector:
    def __init__(
        self,
        feed: EventFeed,
        records: ReadModelStore,
        sealer: Sealer,
        manifests: ManifestProjection,
        snapshot_records: SnapshotRecordsProjection,
        timekeeper: Timekeeper | None = None,
    ):
        self.feed = feed
        self.records = records
        self.sealer = sealer
        self.manifests = manifests
        self.snapshot_records = snapshot_records
        self.timekeeper = timekeeper
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def apply(self, batch: Sequence[EventRecord]) -> None:
        for record in batch:
            self.sealer.handle(record)
            self.manifests.handle(record)
        self.snapshot_records.handle_batch(batch)

    def run_once(self) -> int:
        """Project one batch; return how many records it held."""
        position = self.records.get_checkpoint(CHECKPOINT)
        batch = self.feed.read_after(position, BATCH)
        if batch:
            self.apply(batch)
            self.records.set_checkpoint(CHECKPOINT, batch[-1].position)
        return len(batch)

    def catch_up(self) -> int:
        total = 0
        while True:
            n = self.run_once()
            total += n
            if n == 0:
                return total

    def wake(self) -> None:
        self._wake.set()

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
                except Exception:
                    log.exception("projector batch failed; retrying")
                self._wake.wait(poll_seconds)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name="blocksnap-projector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following, after projecting what was appended before the stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.catch_up()
