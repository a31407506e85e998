"""The copier as a follower of the event log: the projector's loop, with its own checkpoint.

Each batch's ``CopyRequested`` events go to the :class:`Copier`; the rest are
skipped. The batch is committed after the copier has handled it, so a crash
replays it, which the copier makes harmless (it resumes a copy where it
stopped). The loop, the polling and the retry after a failure are
:class:`~chalicelib.projections.runner.Follower`'s; on Lambda the stream
trigger calls :meth:`CopyFollower.apply` directly, as ``app.project`` calls
the projector's.
"""

from __future__ import annotations

from typing import Sequence

from ..domain.events import EventRecord
from ..projections.runner import BatchSource, Follower
from .copier import Copier

CHECKPOINT = "copier"
POLL_SECONDS = 0.2
RETRY_SECONDS = 5.0  # a store that is down, or a copy that crashed: not worth a tight loop


class CopyFollower(Follower):
    thread_name = "blocksnap-copier"

    def __init__(self, source: BatchSource | None, copier: Copier):
        super().__init__(source)
        self.copier = copier

    def apply(self, batch: Sequence[EventRecord]) -> None:
        for record in batch:
            self.copier.handle(record)

    def start(self, poll_seconds: float = POLL_SECONDS, retry_seconds: float | None = RETRY_SECONDS) -> None:
        super().start(poll_seconds, retry_seconds)
