"""What a snapshot's lifecycle stream says beyond the :class:`~.snapshot.Snapshot` aggregate: tags and deletion.

The EC2 calls change a snapshot after its start: CreateTags and DeleteTags
append :class:`~.events.TagsChanged` with the whole resulting tag set under
the next ``3-tags/<seq>`` key (so two racing changes collide and one is
redecided, never lost), and DeleteSnapshot appends the one
:class:`~.events.SnapshotDeleted` a snapshot can have. Reading the stream is
strongly consistent, so a caller sees its own change at once, before the
records projection catches up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .events import Event, SnapshotDeleted, SnapshotStarted, TagsChanged

# The status the records projection gives a deleted snapshot: every read treats it as gone.
DELETED = "deleted"


@dataclass(frozen=True)
class Lifecycle:
    tags: tuple[tuple[str, str], ...]
    next_tags_seq: int
    deleted: bool


def fold(events: Iterable[Event]) -> Lifecycle | None:
    """The current tags and deletion of one snapshot's stream (None if it never started)."""
    started = None
    tags: tuple[tuple[str, str], ...] = ()
    seq = 0
    deleted = False
    for event in events:
        if isinstance(event, SnapshotStarted):
            started, tags = event, event.tags
        elif isinstance(event, TagsChanged) and event.seq >= seq:
            tags, seq = event.tags, event.seq + 1
        elif isinstance(event, SnapshotDeleted):
            deleted = True
    return None if started is None else Lifecycle(tags, seq, deleted)
