"""ClientToken idempotency for the operations that create a snapshot (start, copy).

A token is claimed by an event in its own stream, appended in the same
transaction as the snapshot's start, so two racing requests with one token
can never both create a snapshot: the loser finds the claim and answers with
the winner's snapshot, or with a conflict when its parameters differ.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from ..domain.errors import DuplicateEvent, IdempotencyConflict
from ..domain.events import STARTED_KEY, ClientTokenClaimed, EventRecord, SnapshotStarted, lifecycle_stream, token_stream
from ..ports import EventStore


def request_digest(operation: str, command: object) -> str:
    """What makes two requests with one ClientToken 'the same': every field but the token."""
    fields = {k: v for k, v in dataclasses.asdict(command).items() if k != "client_token" and v not in (None, ())}
    fields["operation"] = operation
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


class ClientTokens:
    def __init__(self, events: EventStore):
        self.events = events

    def replay(self, client_token: str | None, digest: str) -> SnapshotStarted | None:
        """The snapshot an earlier request with this token created, or None if the token is new."""
        if client_token is None:
            return None
        claims = self.events.query(token_stream(client_token))
        if not claims:
            return None
        claim = claims[0].event
        assert isinstance(claim, ClientTokenClaimed)
        if claim.request_digest != digest:
            raise IdempotencyConflict()
        snapshot = self.events.snapshot(claim.snapshot_id)
        assert snapshot is not None
        return snapshot.started

    def append_start(self, started: SnapshotStarted, more: list[EventRecord]) -> SnapshotStarted:
        """Append a snapshot's first events and its token claim atomically; a lost race answers with the winner."""
        records = [EventRecord(lifecycle_stream(started.snapshot_id), STARTED_KEY, started), *more]
        token = started.client_token
        if token is not None:
            claim = ClientTokenClaimed(token, started.request_digest or "", started.snapshot_id)
            records.append(EventRecord(token_stream(token), "0", claim))
        try:
            self.events.append(records)
        except DuplicateEvent:
            if token is None and self._already_appended(started):
                return started
            replay = self.replay(token, started.request_digest or "")
            if replay is None:
                raise
            return replay
        return started

    def _already_appended(self, started: SnapshotStarted) -> bool:
        """True when the collision is with this very event: a retried write whose first attempt landed.

        Snapshot ids are random, so without a ClientToken that is the only way
        a start can collide (DynamoDB's PutItem retried after a lost response).
        """
        stored = self.events.query(lifecycle_stream(started.snapshot_id), STARTED_KEY)
        return [record.event for record in stored] == [started]
