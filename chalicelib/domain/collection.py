"""The garbage collector's rules: what may be freed, and when.

An object of the block store may be freed when no live snapshot reaches it
and it is older than :data:`GRACE_SECONDS` at the moment the collector began
marking. The age is what makes a collection safe beside concurrent writes:

* A write stores its bytes, then appends the event that references them.
  An object written after marking began is young, so it is kept even though
  the mark could not see its event yet.
* A write that reuses a stored block (deduplication) makes the object young
  again before it appends its event (``BlockStore.put_shared``), so the same
  holds for it.

Both need only that a write's event follows its store within the grace
period, which a request (bounded by the HTTP server's timeouts) always does.
"""

from __future__ import annotations

GRACE_SECONDS = 600.0


def collectable(marked: bool, modified: float | None, mark_start: float, grace: float = GRACE_SECONDS) -> bool:
    """Whether an object may be freed: unreferenced, present, and old when marking began."""
    return not marked and modified is not None and modified < mark_start - grace
