"""Builds the adapters from configuration: the embedded default or AWS.

Handlers never construct storage themselves; they ask :func:`current` for
the process's :class:`Runtime`, which is built once from the environment
(``BLOCKSNAP_BACKEND``, ``BLOCKSNAP_DATA_DIR``, ...). ``blocksnap serve``
sets the same variables, so the server and a deployed function share one path.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .adapters.file_blocks import FileBlockStore
from .adapters.sqlite_events import SQLiteEventStore
from .adapters.sqlite_read_models import SQLiteReadModelStore
from .blockio import BlockIO
from .domain.tokens import TokenMinter
from .manifest_store import ManifestStore
from .ports import BlockStore, EventFeed, EventStore, ReadModelStore
from .projections.runner import Projector
from .projections.sealing import ManifestProjection, Sealer
from .projections.snapshot_records import SnapshotRecordsProjection
from .projections.timekeeper import Timekeeper
from .service import SnapshotService

ENV_BACKEND = "BLOCKSNAP_BACKEND"
ENV_DATA_DIR = "BLOCKSNAP_DATA_DIR"
ENV_MINUTE_SECONDS = "BLOCKSNAP_TIMEOUT_MINUTE_SECONDS"
ENV_RUN_PROJECTOR = "BLOCKSNAP_RUN_PROJECTOR"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "blocksnap"


@dataclass
class Runtime:
    events: EventStore
    records: ReadModelStore
    blocks: BlockStore
    manifests: ManifestStore
    service: SnapshotService
    projector: Projector | None


def _secret(path: Path) -> bytes:
    """The token HMAC key: created once, readable by its owner only."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    os.unlink(tmp)
    return path.read_bytes()


def assemble(
    events: EventStore,
    records: ReadModelStore,
    blocks: BlockStore,
    secret: bytes,
    feed: EventFeed | None,
    clock: Callable[[], float] = time.time,
    minute_seconds: float = 60.0,
) -> Runtime:
    manifests = ManifestStore(blocks)
    service = SnapshotService(events, records, manifests, BlockIO(blocks), TokenMinter(secret), clock)
    projector = None
    if feed is not None:
        projector = Projector(
            feed,
            records,
            Sealer(events, manifests, clock),
            ManifestProjection(events, manifests),
            SnapshotRecordsProjection(records),
            Timekeeper(events, records, clock, minute_seconds),
        )
    return Runtime(events, records, blocks, manifests, service, projector)


def embedded(
    data_dir: Path,
    clock: Callable[[], float] = time.time,
    minute_seconds: float = 60.0,
) -> Runtime:
    """The embedded default: SQLite events and read models, files for blocks."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    events = SQLiteEventStore(data_dir / "events.sqlite3")
    return assemble(
        events,
        SQLiteReadModelStore(data_dir / "readmodels.sqlite3"),
        FileBlockStore(data_dir / "store"),
        _secret(data_dir / "token-secret"),
        events,
        clock,
        minute_seconds,
    )


def from_environment() -> Runtime:
    backend = os.environ.get(ENV_BACKEND, "embedded")
    minute_seconds = float(os.environ.get(ENV_MINUTE_SECONDS, "60"))
    if backend == "embedded":
        data_dir = Path(os.environ.get(ENV_DATA_DIR) or default_data_dir())
        runtime = embedded(data_dir, minute_seconds=minute_seconds)
        if os.environ.get(ENV_RUN_PROJECTOR) == "1" and runtime.projector is not None:
            runtime.projector.start()  # `chalice local`: no separate process follows the log
        return runtime
    raise ValueError(f"unknown {ENV_BACKEND}: {backend!r} (expected 'embedded' or 'aws')")


_lock = threading.Lock()
_current: Runtime | None = None


def current() -> Runtime:
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = from_environment()
    return _current


def install(runtime: Runtime) -> None:
    """Make ``runtime`` the process's runtime (``blocksnap serve`` and tests)."""
    global _current
    with _lock:
        _current = runtime
