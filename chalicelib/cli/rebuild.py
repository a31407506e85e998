"""``blocksnap rebuild``: drop every read model and project the events again.

Read models are snapshot records, checkpoints and manifests. The events are
untouched; because sealing decisions are events too, replaying them rebuilds
byte-identical manifests and records.

Embedded, the SQLite log is replayed in append order. On the AWS backend the
table's stream keeps only 24 hours, so the events are read from the table
itself: every snapshot's history in turn, in the order the snapshots were
started. That order is enough, because the projections need only one
thing from across snapshots: a parent's manifest before its child is sealed,
and a parent is sealed before a child can name it.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from .. import wiring
from ..domain.events import (
    STARTED_KEY,
    EventRecord,
    block_streams,
    lifecycle_stream,
    progress_stream,
)
from ..ports import EventStore
from ..datadir import hold_data_dir
from ..processes import CliError

# serve --backend aws's projector commits a checkpoint after every batch it
# projects and polls the stream every 0.25 s: busy, it moves well within this.
WATCH_SECONDS = 2.0


def rebuild(data_dir: Path, progress: bool = True) -> int:
    """Rebuild the embedded read models, holding the data dir so that no server runs meanwhile."""
    if not (data_dir / "events.sqlite3").exists():
        raise CliError(f"no event table in {data_dir}: nothing to rebuild")
    with hold_data_dir(data_dir, "rebuild"):
        runtime = wiring.embedded(data_dir)
        _drop_read_models(runtime)
        projector = runtime.projector
        with tqdm(desc="events", unit="ev", disable=not progress) as bar:
            while count := projector.run_once():
                bar.update(count)
        print(f"rebuilt {len(runtime.records.all_snapshots())} snapshot records in {data_dir}")
    return 0


def rebuild_aws(progress: bool = True, watch_seconds: float = WATCH_SECONDS) -> int:
    """Rebuild the AWS backend's read models from its event table.

    A projector working at the same time would write into the tables being
    rebuilt. A deployed one is paused: the Lambda event source mappings on
    the event table's stream are disabled for the rebuild and enabled again
    after it (Lambda resumes each from its position, so what was written
    meanwhile is projected then). A ``serve --backend aws`` projector cannot
    be paused from here, but is caught: its stream checkpoints move while
    this watches them, and the rebuild is refused before it touches anything.
    """
    runtime = wiring.aws(poll_stream=False)
    source = wiring.stream_source(runtime.records)
    with paused_stream_triggers(wiring.aws_lambda_client(), source.stream_arn):
        refuse_if_projecting(source, watch_seconds)
        return _replay_aws(runtime, progress)


def _replay_aws(runtime: wiring.Runtime, progress: bool) -> int:
    events = runtime.events  # the DynamoDB adapter: scan_key is its own, for rebuilds only
    started = sorted(
        (record.event for record in events.scan_key(STARTED_KEY)),
        key=lambda event: (event.start_time, event.snapshot_id),
    )
    _drop_read_models(runtime)
    for event in tqdm(started, desc="snapshots", unit="snap", disable=not progress):
        runtime.projector.apply(snapshot_history(events, event.snapshot_id))
    names = wiring.aws_names()
    print(f"rebuilt {len(runtime.records.all_snapshots())} snapshot records in table {names.snapshots_table}")
    return 0


@contextlib.contextmanager
def paused_stream_triggers(lambda_client, stream_arn: str, wait_seconds: float = 60.0) -> Iterator[list[str]]:
    """The enabled event source mappings on ``stream_arn`` disabled (until Lambda says so), then enabled again."""
    from botocore.exceptions import ClientError

    try:
        mappings = [m for page in lambda_client.get_paginator("list_event_source_mappings").paginate(
            EventSourceArn=stream_arn) for m in page["EventSourceMappings"] if m["State"] in ("Enabled", "Enabling")]
    except ClientError as exc:
        raise CliError(f"cannot list the stream triggers of {stream_arn} to pause them: {exc}") from None
    paused = [m["UUID"] for m in mappings]
    try:
        for uuid in paused:
            lambda_client.update_event_source_mapping(UUID=uuid, Enabled=False)
        deadline = time.monotonic() + wait_seconds
        while any(lambda_client.get_event_source_mapping(UUID=u)["State"] != "Disabled" for u in paused):
            if time.monotonic() > deadline:
                raise CliError(f"the stream triggers {', '.join(paused)} did not stop within {wait_seconds:g} s")
            time.sleep(1)
        if paused:
            print(f"paused {len(paused)} stream trigger(s) of the event table: {', '.join(paused)}")
        yield paused
    finally:
        for uuid in paused:
            lambda_client.update_event_source_mapping(UUID=uuid, Enabled=True)
        if paused:
            print(f"resumed {len(paused)} stream trigger(s)")


def refuse_if_projecting(source, watch_seconds: float) -> None:
    """A CliError if any shard's projector checkpoint moves within ``watch_seconds``."""
    before = source.positions()
    time.sleep(watch_seconds)
    after = source.positions()
    moved = sorted(shard for shard, position in after.items() if position != before.get(shard))
    if moved:
        raise CliError(
            f"the projector is running: its checkpoint on {', '.join(moved)} moved in {watch_seconds:g} s; "
            "stop blocksnap serve --backend aws (or disable the projector's stream trigger) first"
        )


def snapshot_history(events: EventStore, snapshot_id: str) -> list[EventRecord]:
    """A snapshot's events in the order they can have happened.

    The start (and a copy's request), then every write and copy progress,
    then the completion request and the outcome (``1-completion`` and
    ``2-outcome`` sort after ``0-…``).
    """
    lifecycle = events.query(lifecycle_stream(snapshot_id))
    opening = [record for record in lifecycle if record.key.startswith("0-")]
    closing = [record for record in lifecycle if not record.key.startswith("0-")]
    writes = [record for stream in block_streams(snapshot_id) for record in events.query(stream)]
    return [*opening, *writes, *events.query(progress_stream(snapshot_id)), *closing]


def _drop_read_models(runtime: wiring.Runtime) -> None:
    runtime.records.clear()
    runtime.blocks.delete_prefix("manifests/")
    runtime.manifests.drop_cache()
