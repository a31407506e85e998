"""StartSnapshot survives the retry of an append whose first attempt landed (DynamoDB PutItem, response lost)."""

from __future__ import annotations

import pytest

from chalicelib.http.bindings import Calls
from chalicelib import wiring
from chalicelib.domain.errors import DuplicateEvent


class _LostResponse:
    """An event store whose appends land, then report the collision a retry of them would meet."""

    def __init__(self, inner):
        self._inner = inner

    def append(self, records):
        self._inner.append(records)
        raise DuplicateEvent("the retry found the item its first attempt wrote")

    def __getattr__(self, name):
        return getattr(self._inner, name)


@pytest.fixture
def service():
    runtime = wiring.memory()
    runtime.usecases.starts.tokens.events = _LostResponse(runtime.events)
    return runtime


@pytest.mark.parametrize("token", [None, "retry-token"])
def test_a_start_whose_retry_collides_with_itself_succeeds(service, token):
    request = {"VolumeSize": 1, **({"ClientToken": token} if token else {})}
    started = Calls(service.usecases).start_snapshot(request)
    assert started["Status"] == "pending"
    assert service.events.snapshot(started["SnapshotId"]) is not None


def test_a_collision_with_another_snapshot_is_not_taken_for_a_retry(service, monkeypatch):
    first = Calls(service.usecases).start_snapshot({"VolumeSize": 1})["SnapshotId"]
    monkeypatch.setattr("chalicelib.usecases.starts.new_snapshot_id", lambda: first)
    with pytest.raises(DuplicateEvent):
        Calls(service.usecases).start_snapshot({"VolumeSize": 2})
