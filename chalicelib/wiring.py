"""Builds the adapters from configuration: the embedded default or AWS.

Handlers never construct storage themselves; they ask :func:`current` for
the process's :class:`Runtime`, which is built once from the environment
(``BLOCKSNAP_BACKEND``, ``BLOCKSNAP_DATA_DIR``, ...). ``blocksnap serve``
sets the same variables, so the server and a deployed function share one path.

It is the composition root and is longer than other modules for that reason
alone: each backend's builders are listed here once, so nothing else in the
tree constructs an adapter.

The stores one by one (``embedded_event_store``, ``aws_block_store``, ...)
are what the full runtimes are built from, and all the encryption function
is given: it builds them alone, so it never loads the token secret
(:func:`embedded` and :func:`aws` do) nor builds the use cases.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .adapters.durable_files import read_or_create_secret
from .adapters.file_blocks import FileBlockStore
from .adapters.sqlite_events import SQLiteEventStore
from .adapters.sqlite_read_models import SQLiteReadModelStore
from .core.blockio import BlockIO
from .domain.tokens import TokenMinter
from .core.manifest_store import ManifestStore
from .ports import BlockStore, EncryptionFunction, EventStore, ReadModelStore
from .projections.runner import BatchSource, LogSource, Projector
from .projections.sealing import ManifestProjection, Sealer
from .projections.snapshot_records import SnapshotRecordsProjection
from .projections.timekeeper import Timekeeper
from .domain.collection import GRACE_SECONDS
from .domain.rules import DEFAULT_OWNER_ID, DEFAULT_REGION, Settings
from .usecases import UseCases
from .usecases.catalog import Catalog
from .usecases.completion import Completion
from .usecases.copying import Copying
from .usecases.deletion import Deletion
from .usecases.garbage import GarbageCollector
from .usecases.reads import Reads
from .usecases.starts import Starts
from .usecases.writes import Writes

ENV_BACKEND = "BLOCKSNAP_BACKEND"
BACKENDS = ("embedded", "aws")
ENV_DATA_DIR = "BLOCKSNAP_DATA_DIR"
ENV_MINUTE_SECONDS = "BLOCKSNAP_TIMEOUT_MINUTE_SECONDS"
ENV_RUN_PROJECTOR = "BLOCKSNAP_RUN_PROJECTOR"
ENV_ENCRYPTION_FUNCTION = "BLOCKSNAP_ENCRYPTION_FUNCTION"
ENV_DEFAULT_KMS_KEY = "BLOCKSNAP_DEFAULT_KMS_KEY_ARN"
ENV_KEY_ALIAS = "BLOCKSNAP_KEY_ALIAS"
ENV_OWNER_ID = "BLOCKSNAP_OWNER_ID"
ENV_GC_GRACE = "BLOCKSNAP_GC_GRACE_SECONDS"
WORKER_SOCKET = "encryption.sock"


def xdg_data_dir() -> Path:
    """Where the data dir goes when nothing names one."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "blocksnap"


def data_dir(given: Path | None = None) -> Path:
    """The data dir: the one given (``--data-dir``), else ``BLOCKSNAP_DATA_DIR``, else :func:`xdg_data_dir`."""
    return Path(given or os.environ.get(ENV_DATA_DIR) or xdg_data_dir()).expanduser()


@dataclass(frozen=True)
class AwsNames:
    """The cloud resources' names (``BLOCKSNAP_EVENTS_TABLE``, ``…_SNAPSHOTS_TABLE``, ``…_BUCKET``).

    ``key_alias`` (``BLOCKSNAP_KEY_ALIAS``) names the default KMS key, blocksnap's ``alias/aws/ebs``.
    """

    events_table: str = "blocksnap-events"
    snapshots_table: str = "blocksnap-snapshots"
    bucket: str = "blocksnap-blocks"
    key_alias: str = "alias/blocksnap/ebs"


@dataclass
class Runtime:
    events: EventStore
    records: ReadModelStore
    blocks: BlockStore
    manifests: ManifestStore
    usecases: UseCases
    projector: Projector
    timekeeper: Timekeeper


def _secret(path: Path) -> bytes:
    """The token HMAC key: created once, readable by its owner only."""
    return read_or_create_secret(path, 32)


def assemble(
    events: EventStore,
    records: ReadModelStore,
    blocks: BlockStore,
    secret: bytes,
    source: BatchSource | None,
    clock: Callable[[], float] = time.time,
    minute_seconds: float = 60.0,
    encryption: EncryptionFunction | None = None,
    settings: Settings | None = None,
) -> Runtime:
    manifests = ManifestStore(blocks)
    grace = gc_grace_from_env()
    blockio = BlockIO(blocks, encryption, grace)
    settings = settings or settings_from_env()
    tokens = TokenMinter(secret)
    # Its own manifest store: a collection walks every page, which must not evict the readers' hot ones.
    collector = GarbageCollector(events, records, ManifestStore(blocks, cache_pages=64), blocks, clock, grace)
    starts = Starts(events, records, blockio, settings, clock)
    completion = Completion(events, records, clock)
    usecases = UseCases(
        starts=starts,
        writes=Writes(events, manifests, blockio, clock),
        completion=completion,
        reads=Reads(events, records, manifests, blockio, tokens, clock),
        garbage=collector,
        catalog=Catalog(events, records, tokens, settings.owner_id, clock),
        deletion=Deletion(events, clock),
        copying=Copying(starts, completion, events, records, settings.region, settings.owner_id),
    )
    timekeeper = Timekeeper(events, records, clock, minute_seconds)
    projector = Projector(
        source,
        Sealer(events, manifests, clock),
        ManifestProjection(events, manifests),
        SnapshotRecordsProjection(records),
        timekeeper,
    )
    return Runtime(events, records, blocks, manifests, usecases, projector, timekeeper)


def gc_grace_from_env() -> float:
    """The collector's grace period (``BLOCKSNAP_GC_GRACE_SECONDS``; tests shorten it)."""
    value = os.environ.get(ENV_GC_GRACE)
    try:
        grace = float(value) if value else GRACE_SECONDS
    except ValueError:
        grace = -1.0
    if grace < 0:
        raise SystemExit(f"blocksnap: {ENV_GC_GRACE} must be a number of seconds, not {value!r}")
    return grace


def settings_from_env(
    region: str | None = None, default_kms_key_arn: Callable[[], str | None] = lambda: None
) -> Settings:
    """The account and region the service reports (OwnerId, default KMS key ARN).

    On AWS the deployment sets ``BLOCKSNAP_OWNER_ID`` to the account id and
    the region comes from the boto3 session; locally both keep the
    placeholders a fresh emulator uses. The default key is
    ``BLOCKSNAP_DEFAULT_KMS_KEY_ARN``, else what ``default_kms_key_arn``
    finds (the AWS backend: the key behind the alias), else the service's
    placeholder.
    """
    owner = os.environ.get(ENV_OWNER_ID) or DEFAULT_OWNER_ID
    if not re.fullmatch(r"[0-9]{12}", owner):
        raise SystemExit(f"blocksnap: {ENV_OWNER_ID} must be a 12-digit AWS account id, not {owner!r}")
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    default_key = os.environ.get(ENV_DEFAULT_KMS_KEY) or default_kms_key_arn()
    return Settings(owner_id=owner, region=region, default_kms_key_arn=default_key)


def embedded_event_store(data_dir: Path) -> SQLiteEventStore:
    return SQLiteEventStore(_made(data_dir) / "events.sqlite3")


def embedded_read_model_store(data_dir: Path) -> SQLiteReadModelStore:
    return SQLiteReadModelStore(_made(data_dir) / "readmodels.sqlite3")


def embedded_block_store(data_dir: Path) -> FileBlockStore:
    return FileBlockStore(_made(data_dir) / "store")


def _made(data_dir: Path) -> Path:
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


def embedded(
    data_dir: Path,
    clock: Callable[[], float] = time.time,
    minute_seconds: float = 60.0,
) -> Runtime:
    """The embedded default: SQLite events and read models, files for blocks."""
    data_dir = Path(data_dir)
    events = embedded_event_store(data_dir)
    records = embedded_read_model_store(data_dir)
    return assemble(
        events,
        records,
        embedded_block_store(data_dir),
        _secret(data_dir / "token-secret"),
        LogSource(events, records),
        clock,
        minute_seconds,
        _worker(data_dir),
    )


def memory(
    clock: Callable[[], float] = time.time,
    minute_seconds: float = 60.0,
    encryption: EncryptionFunction | None = None,
) -> Runtime:
    """The embedded runtime over in-memory adapters, for unit tests: no files, no processes.

    There is no encryption function unless one is given, so an encrypted
    start is refused as on a deployment without one.
    """
    from .adapters.memory_blocks import MemoryBlockStore
    from .adapters.memory_events import MemoryEventStore
    from .adapters.memory_read_models import MemoryReadModelStore

    events, records = MemoryEventStore(), MemoryReadModelStore()
    return assemble(
        events, records, MemoryBlockStore(), secrets.token_bytes(32), LogSource(events, records),
        clock, minute_seconds, encryption,
    )


def aws_names() -> AwsNames:
    defaults = AwsNames()
    return AwsNames(
        events_table=os.environ.get("BLOCKSNAP_EVENTS_TABLE", defaults.events_table),
        snapshots_table=os.environ.get("BLOCKSNAP_SNAPSHOTS_TABLE", defaults.snapshots_table),
        bucket=os.environ.get("BLOCKSNAP_BUCKET", defaults.bucket),
        key_alias=os.environ.get(ENV_KEY_ALIAS, defaults.key_alias),
    )


@functools.cache
def default_key_arn(kms_endpoint: str | None, region: str, alias: str) -> str | None:
    """The ARN of the key behind ``alias`` (``blocksnap init --backend aws`` creates it), or None if none.

    Asked once per process: a deployed function gets the ARN from the stack
    (``BLOCKSNAP_DEFAULT_KMS_KEY_ARN``) and never asks, since only the
    encryption roles have ``kms:`` rights; ``blocksnap serve --backend aws``
    asks KMS's DescribeKey.
    """
    return key_behind_alias(aws_session().client("kms", region_name=region, endpoint_url=kms_endpoint), alias)


def key_behind_alias(kms, alias: str) -> str | None:
    """DescribeKey of ``alias``: the key's ARN, or None if the alias names no key."""
    from botocore.exceptions import ClientError

    from .adapters.aws_errors import error_code

    try:
        return kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
    except ClientError as exc:
        if error_code(exc) != "NotFoundException":
            raise
    return None


def aws_region(session) -> str:
    """The session's region (AWS_REGION, AWS_DEFAULT_REGION, the profile), else us-east-1 as a fresh account's."""
    return session.region_name or DEFAULT_REGION


def aws_session():
    """A boto3 session for the configured target.

    ``BLOCKSNAP_AWS_TARGET=localstack`` takes LocalStack's endpoints from
    localstack-client; otherwise boto3's own resolution applies, including the
    standard ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` variables
    that point it at moto or any other endpoint.
    """
    if os.environ.get("BLOCKSNAP_AWS_TARGET") == "localstack":
        import localstack_client.session

        return localstack_client.session.Session()
    import boto3

    return boto3.Session()


def _aws_secret(s3, bucket: str) -> bytes:
    """The token HMAC key: from the environment, else created once in the bucket."""
    from botocore.exceptions import ClientError

    from .adapters.aws_errors import error_code

    if os.environ.get("BLOCKSNAP_TOKEN_SECRET"):
        return bytes.fromhex(os.environ["BLOCKSNAP_TOKEN_SECRET"])
    key = "config/token-secret"
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if error_code(exc) not in ("NoSuchKey", "404"):
            raise
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=secrets.token_bytes(32), IfNoneMatch="*")
    except ClientError as exc:
        if error_code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict"):
            raise
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def aws(
    clock: Callable[[], float] = time.time,
    minute_seconds: float = 60.0,
    poll_stream: bool = True,
    worker_dir: Path | None = None,
) -> Runtime:
    """The cloud backend: DynamoDB events and records (pynamodb), S3 blocks.

    ``poll_stream`` makes the projector poll the event table's stream itself
    (``blocksnap serve --backend aws``); on Lambda the stream trigger feeds it.
    The encryption function is the Lambda named by
    ``BLOCKSNAP_ENCRYPTION_FUNCTION``, or else the worker process serving in
    ``worker_dir`` (``blocksnap serve --backend aws`` runs one).
    """
    names = aws_names()
    session = aws_session()
    region = aws_region(session)
    settings = settings_from_env(region, lambda: default_key_arn(_endpoint(session, "kms"), region, names.key_alias))
    events = aws_event_store(session)
    records = aws_read_model_store(session)
    s3 = aws_client(session, "s3")
    encryption = None
    if os.environ.get(ENV_ENCRYPTION_FUNCTION):
        from .adapters.lambda_encryption import LambdaEncryptionFunction

        encryption = LambdaEncryptionFunction(aws_lambda_client(), os.environ[ENV_ENCRYPTION_FUNCTION])
    elif worker_dir is not None:
        encryption = _worker(worker_dir)
    source = stream_source(records) if poll_stream else None
    return assemble(
        events, records, aws_block_store(session, s3), _aws_secret(s3, names.bucket),
        source, clock, minute_seconds, encryption, settings,
    )


def aws_event_store(session):
    """The event table (``BLOCKSNAP_EVENTS_TABLE``), through pynamodb."""
    from .adapters.dynamodb_events import DynamoDBEventStore

    return DynamoDBEventStore(
        aws_names().events_table, host=_endpoint(session, "dynamodb"), region=aws_region(session)
    )


def aws_read_model_store(session):
    """The snapshots table (``BLOCKSNAP_SNAPSHOTS_TABLE``): records, indexes and checkpoints."""
    from .adapters.dynamodb_read_models import DynamoDBReadModelStore

    return DynamoDBReadModelStore(
        aws_names().snapshots_table, host=_endpoint(session, "dynamodb"), region=aws_region(session)
    )


def aws_block_store(session, s3=None):
    """The bucket (``BLOCKSNAP_BUCKET``): blocks, manifests, wrapped keys."""
    from .adapters.s3_blocks import S3BlockStore

    return S3BlockStore(s3 or aws_client(session, "s3"), aws_names().bucket)


def aws_client(session, service: str):
    """A client of ``service`` from ``session``, in its region."""
    return session.client(service, region_name=aws_region(session))


def stream_source(records: ReadModelStore, checkpoint_prefix: str = "stream"):
    """The event table's DynamoDB stream as a batch source, with checkpoints named by ``checkpoint_prefix``."""
    from .adapters.dynamodb_stream import DynamoDBStreamSource

    session = aws_session()
    region = aws_region(session)
    dynamodb = session.client("dynamodb", region_name=region, endpoint_url=_endpoint(session, "dynamodb"))
    arn = dynamodb.describe_table(TableName=aws_names().events_table)["Table"]["LatestStreamArn"]
    streams = session.client("dynamodbstreams", region_name=region, endpoint_url=_endpoint(session, "dynamodbstreams"))
    return DynamoDBStreamSource(streams, arn, records, checkpoint_prefix)


def aws_lambda_client():
    """A Lambda client of the configured target (``rebuild`` pauses the stream triggers with it)."""
    session = aws_session()
    return session.client("lambda", region_name=aws_region(session), endpoint_url=_endpoint(session, "lambda"))


def _worker(data_dir: Path) -> EncryptionFunction:
    """The embedded encryption function: the worker process's socket in the data dir."""
    from .adapters.worker_encryption import WorkerEncryptionFunction

    return WorkerEncryptionFunction(data_dir / WORKER_SOCKET)


def _endpoint(session, service: str) -> str | None:
    """The endpoint a client of ``service`` from this session would use (None: AWS's own).

    pynamodb takes a host rather than a session, so it is resolved once here
    from a real client, which applies boto3's and localstack-client's rules.
    """
    client = session.client(service, region_name=aws_region(session))
    url = client.meta.endpoint_url
    return None if url.endswith(".amazonaws.com") or ".amazonaws.com/" in url else url


def from_environment() -> Runtime:
    backend = os.environ.get(ENV_BACKEND, "embedded")
    minute_seconds = float(os.environ.get(ENV_MINUTE_SECONDS, "60"))
    if backend == "aws":
        runtime = aws(minute_seconds=minute_seconds, poll_stream=os.environ.get(ENV_RUN_PROJECTOR) == "1")
        if os.environ.get(ENV_RUN_PROJECTOR) == "1":
            runtime.projector.start()
        return runtime
    if backend == "embedded":
        if os.environ.get(ENV_RUN_PROJECTOR) == "1":  # `chalice local`: no separate process follows the log
            _hold_data_dir(data_dir(), "chalice local")
        runtime = embedded(data_dir(), minute_seconds=minute_seconds)
        if os.environ.get(ENV_RUN_PROJECTOR) == "1":
            runtime.projector.start()
        return runtime
    raise ValueError(f"unknown {ENV_BACKEND}: {backend!r} (expected 'embedded' or 'aws')")


_lock = threading.Lock()
_current: Runtime | None = None
_held: list = []


def _hold_data_dir(path: Path, command: str) -> None:
    """Hold the data dir for the life of the process, as ``blocksnap serve`` does (released at exit)."""
    from .datadir import hold_data_dir

    _held.append(hold_data_dir(path, command))


def release_data_dir() -> None:
    """Let go of a data dir :func:`from_environment` took (tests; a process lets go by exiting)."""
    while _held:
        _held.pop().close()


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
