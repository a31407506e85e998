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

from .events import Event
from .snapshot import Snapshot

# The status the records projection gives a deleted snapshot: every read treats it as gone.
DELETED = "deleted"


@dataclass(frozen=True)
class Lifecycle:
    tags: tuple[tuple[str, str], ...]
    next_tags_seq: int
    deleted: bool


def fold(events: Iterable[Event]) -> Lifecycle | None:
    """The current tags and deletion of one snapshot's stream (None if it never started): a view of the aggregate."""
    snapshot = Snapshot.fold(events)
    if snapshot is None:
        return None
    return Lifecycle(snapshot.tags, snapshot.next_tags_seq, snapshot.deleted is not None)
