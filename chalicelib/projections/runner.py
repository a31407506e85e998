"""The projector: feeds batches of the event log to the projections.

Handlers run in a fixed order per batch — policy (sealer), manifests, then
records — and a batch's position is committed only after all of them have
handled it, so a crash replays the batch and idempotent handlers make that
harmless. The batches come from a :class:`BatchSource`: the SQLite log with a
stored checkpoint (embedded), or a DynamoDB stream (``blocksnap serve
--backend aws`` polls it; on AWS ``app.py``'s stream trigger calls
:meth:`Projector.apply` directly).

:class:`Follower` is the loop itself, shared by every follower of the log:
the projector, and the encryption function's copier
(:mod:`chalicelib.encryption.follower`), which keeps its own checkpoint.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
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


class Follower(ABC):
    """Feeds a batch source's batches to :meth:`apply` on a thread of its own, committing after each.

    A batch that fails is not committed, so it is handed over again after
    ``retry_seconds``: a follower's handlers must be idempotent.
    """

    thread_name = "blocksnap-follower"

    def __init__(self, source: BatchSource | None):
        self.source = source
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def apply(self, batch: Sequence[EventRecord]) -> None:
        """Handle one batch; it is committed only if this returns."""

    def idle(self) -> bool:
        """Work for a moment when the log has nothing new; True if there was some."""
        return False

    def run_once(self) -> int:
        """Handle one batch; return how many records it held."""
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

    def start(self, poll_seconds: float = 0.05, retry_seconds: float | None = None) -> None:
        retry = poll_seconds if retry_seconds is None else retry_seconds

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    if self.run_once() or self.idle():
                        continue
                    wait = poll_seconds
                except StorageFull as exc:  # the operator's to fix: one line a while, not a traceback a poll
                    log.warning("%s paused: %s; retrying in %.0f s", self.thread_name, exc, FULL_RETRY_SECONDS)
                    wait = FULL_RETRY_SECONDS
                except Exception:
                    log.exception("%s: a batch failed; retrying in %.2f s", self.thread_name, retry)
                    wait = retry
                self._stop.wait(wait)

        self._thread = threading.Thread(target=loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop following, giving the batch in hand ``timeout`` seconds to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


class Projector(Follower):
    thread_name = "blocksnap-projector"

    def __init__(
        self,
        source: BatchSource | None,
        sealer: Sealer,
        manifests: ManifestProjection,
        snapshot_records: SnapshotRecordsProjection,
        timekeeper: Timekeeper | None = None,
    ):
        super().__init__(source)
        self.sealer = sealer
        self.manifests = manifests
        self.snapshot_records = snapshot_records
        self.timekeeper = timekeeper
        self._poll_seconds = 0.05
        self._sweep_seconds = 1.0
        self._since_sweep = 0.0
        self.projected = 0  # records applied by this process: what the garbage collector watches for change

    def apply(self, batch: Sequence[EventRecord]) -> None:
        self.projected += len(batch)
        for record in batch:
            self.sealer.handle(record)
            self.manifests.handle(record)
        self.snapshot_records.handle_batch(batch)

    def idle(self) -> bool:
        """Sweep for timed-out snapshots once per ``sweep_seconds`` of idle polling."""
        self._since_sweep += self._poll_seconds
        if self.timekeeper is None or self._since_sweep < self._sweep_seconds:
            return False
        self._since_sweep = 0.0
        return bool(self.timekeeper.sweep())

    def start(self, poll_seconds: float = 0.05, sweep_seconds: float = 1.0) -> None:
        self._poll_seconds, self._sweep_seconds = poll_seconds, sweep_seconds
        super().start(poll_seconds)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop following, after projecting what was appended before the stop."""
        super().stop(timeout)
        self.catch_up()
