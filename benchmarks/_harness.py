"""Shared pieces of the benchmarks: servers, block payloads, parallel runs, the RESULT line.

Every server a benchmark drives runs in a process of its own, as
``blocksnap serve`` does in production, so that the server and the clients
never share a GIL: an in-process server would slow the clients down and be
slowed down by them, and the comparison would measure the interpreter lock
rather than the server. Moto's server and the null endpoint are started by
running this file as a script (``python _harness.py moto`` or
``null-endpoint``) and print their URL as their first line, like
``blocksnap serve`` does.

The moto server is the app ``ThreadedMotoServer`` serves (every moto service:
EBS, DynamoDB, DynamoDB Streams, S3, KMS) on werkzeug's threaded server,
wrapped in :class:`CountingApp`, which counts every request by AWS service,
operation and what it touches, and adds up the DynamoDB request units each
would be billed. ``GET /_blocksnap_bench/counts`` on the moto server returns
the counters; :meth:`Endpoint.aws_counts` reads them.

The null endpoint is the client-side baseline: it answers PutSnapshotBlock
and GetSnapshotBlock correctly (the same bytes, headers and checksums blocksnap
would send) but does no work, so the rate the clients reach against it is the
most any server could show them on this machine. It is a thread per
connection on blocking sockets with a hand-written HTTP/1.1 keep-alive
parser, enough for botocore and nothing else; its threads spend their time
in ``recv_into`` and ``sendall`` with the GIL released, so it serves several
hundred MiB/s on one core.

Blocksnap itself is started through :data:`BACKENDS`, a map from a backend
name to a context manager that takes a work directory and yields an
:class:`Endpoint`; adding a backend to every benchmark means adding one entry.
``embedded`` is ``blocksnap serve`` on a data dir; ``aws`` is ``blocksnap
serve --backend aws`` on a moto server of its own (tables, bucket and a KMS
key created first), whose counters then see every request blocksnap's API
handlers, projector, timekeeper and encryption worker make.

The machine these run on has two cores and is often shared, so besides wall
time :func:`run_parallel` records CPU seconds, of this process and of the
server process when it runs here: CPU per block moves far less than MiB/s
when something else competes for the cores.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import queue
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, Sequence, TypeVar
from urllib.parse import parse_qs, unquote
from urllib.request import urlopen

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
# tests/ is not an installed package; the benchmarks reuse its server launcher.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chalicelib.domain.checksums import sha256_b64  # noqa: E402
from chalicelib.domain.snapshot import BLOCK_SIZE  # noqa: E402
from tests.moto_fixtures import FAKE_ENV, REGION, MotoServer  # noqa: E402
from tests.servers import BlocksnapServer, ebs_client  # noqa: E402

MiB = 1024 * 1024
PAYLOAD_COUNT = 8
_PAYLOAD_SEED = 1
_URL = re.compile(r"(http://[0-9.]+:[0-9]+)")

Worker = TypeVar("Worker")


# ---- payloads -------------------------------------------------------------


def block_payloads(count: int = PAYLOAD_COUNT) -> tuple[list[bytes], list[str]]:
    """``count`` distinct 512 KiB blocks and their base64 SHA-256, the same in every process.

    Block ``i`` of a benchmark is ``payloads[i % count]``; the null endpoint
    builds the same list, so a client can check every body it reads.
    """
    rng = random.Random(_PAYLOAD_SEED)
    payloads = [rng.randbytes(BLOCK_SIZE) for _ in range(count)]
    return payloads, [sha256_b64(p) for p in payloads]


# ---- servers --------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """Where a server listens and, when it runs on this machine, its process.

    ``counts_url`` is set when the AWS requests the server makes go to a moto
    server of this module (the ``aws`` backend), or when the server is that
    moto server: :meth:`aws_counts` reads its request counters.
    ``backing_pid`` is the process serving the server's own backend when it
    runs here (the ``aws`` backend's moto server).
    """

    url: str
    pid: int | None = None
    counts_url: str | None = None
    backing_pid: int | None = None

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time the server process has used so far (from /proc)."""
        return process_cpu_seconds(self.pid)

    def backing_cpu_seconds(self) -> float | None:
        """The same for the backing process (moto, for the ``aws`` backend)."""
        return process_cpu_seconds(self.backing_pid)

    def aws_counts(self) -> AwsCounts | None:
        """What moto has answered so far (see :class:`CountingApp`); None without a counting moto."""
        if self.counts_url is None:
            return None
        with urlopen(self.counts_url, timeout=30) as response:
            counts = json.load(response)
        return AwsCounts(Counter(counts["requests"]), Counter(counts["units"]))


def process_cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU time so far of a process and its live descendants (from /proc).

    Descendants count because ``blocksnap serve --processes N`` answers
    requests in child processes too. None without a pid.
    """
    if pid is None:
        return None
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def embedded_blocksnap(workdir: Path) -> Iterator[Endpoint]:
    """``blocksnap serve`` on a free port with its data dir under ``workdir``, one process per core."""
    server = BlocksnapServer(workdir / "blocksnap-data", env={"BLOCKSNAP_PROCESSES": str(os.cpu_count() or 1)}).start()
    try:
        assert server.url is not None and server.proc is not None
        yield Endpoint(server.url, server.proc.pid)
    finally:
        server.stop()


# What the ``aws`` backend's tables and bucket are called on its private moto
# server: short names, so that the request counters read "events" and "snapshots".
AWS_NAMES = ("events", "snapshots", "blocksnap-bench")
AWS_REGION = REGION


@contextmanager
def _fake_aws_credentials() -> Iterator[None]:
    """Moto's fake credentials in ``os.environ`` for the block, so that no real ones are ever sent."""
    saved = {name: os.environ.get(name) for name in FAKE_ENV}
    os.environ.update(FAKE_ENV)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def aws_blocksnap(workdir: Path) -> Iterator[Endpoint]:
    """``blocksnap serve --backend aws`` against a moto server of its own, requests counted.

    The moto server (DynamoDB, DynamoDB Streams, S3, KMS) runs in a child
    process behind :class:`CountingApp`; the events and snapshots tables and
    the bucket are created as ``tests/api/conftest.py`` does, with a KMS key
    as the default key for ``Encrypted=true``. The yielded endpoint is
    blocksnap's (its ``pid`` is the ``blocksnap serve`` process), and its
    ``counts_url`` is the moto server's counters, which see every request
    blocksnap's API handlers, projector, timekeeper and encryption worker make.
    """
    from chalicelib.cli.aws_setup import ensure_tables_and_bucket
    from chalicelib.wiring import AwsNames

    names = AwsNames(*AWS_NAMES)
    with moto_server() as moto, _fake_aws_credentials():
        target = MotoServer(moto.url)
        ensure_tables_and_bucket(names, region=target.region, endpoint_url=target.endpoint_url)
        key_arn = target.client("kms").create_key(Description="blocksnap default")["KeyMetadata"]["Arn"]
        server = BlocksnapServer(
            workdir / "blocksnap-data", env={"BLOCKSNAP_DEFAULT_KMS_KEY_ARN": key_arn}, moto=target, names=names
        ).start()
        try:
            assert server.url is not None and server.proc is not None
            yield Endpoint(server.url, server.proc.pid, moto.counts_url, moto.pid)
        finally:
            server.stop()


BACKENDS: dict[str, Callable[[Path], ContextManager[Endpoint]]] = {
    "embedded": embedded_blocksnap,
    "aws": aws_blocksnap,
}


@contextmanager
def _child_server(kind: str, timeout: float = 30.0, counts: bool = False) -> Iterator[Endpoint]:
    """Run this file as ``python _harness.py <kind>`` and yield the URL it prints first."""
    proc = subprocess.Popen(
        [sys.executable, __file__, kind], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert proc.stdout is not None
        found: list[str] = []
        reader = threading.Thread(target=lambda: found.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        match = _URL.search(found[0]) if found else None
        if match is None:
            raise RuntimeError(f"{kind} did not start (exit code {proc.poll()})")
        url = match.group(1)
        yield Endpoint(url, proc.pid, url + COUNTS_PATH if counts else None)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def moto_server() -> ContextManager[Endpoint]:
    """Moto's server app (werkzeug, one thread per request, everything in memory), requests counted.

    The same app ``ThreadedMotoServer`` serves (every service, EBS as well as
    DynamoDB, DynamoDB Streams, S3 and KMS), wrapped in :class:`CountingApp`;
    the endpoint's :meth:`~Endpoint.aws_counts` reads the counters.
    """
    return _child_server("moto", counts=True)


def null_endpoint() -> ContextManager[Endpoint]:
    """The do-nothing EBS endpoint of the module docstring."""
    return _child_server("null-endpoint")


def _run_moto() -> None:
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no log line per request
    # What ThreadedMotoServer does in its thread, with the counter around the app.
    app = CountingApp(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    host, port = server.server_address[:2]
    print(f"moto serving on http://{host}:{port}", flush=True)
    server.serve_forever()


# ---- counting the requests moto answers ------------------------------------

COUNTS_PATH = "/_blocksnap_bench/counts"
_EVENT_STREAMS = (
    ("lifecycle", re.compile(r"^snap-[0-9a-f]+$")),
    ("blocks", re.compile(r"^snap-[0-9a-f]+/blocks/[0-9]+$")),
    ("progress", re.compile(r"^snap-[0-9a-f]+/progress$")),
    ("token", re.compile(r"^token/")),
)
_EBS_ROUTES = (
    ("POST", re.compile(r"^/snapshots$"), "StartSnapshot"),
    ("PUT", re.compile(r"^/snapshots/[^/]+/blocks/[0-9]+$"), "PutSnapshotBlock"),
    ("POST", re.compile(r"^/snapshots/completion/[^/]+$"), "CompleteSnapshot"),
    ("GET", re.compile(r"^/snapshots/[^/]+/blocks/[0-9]+$"), "GetSnapshotBlock"),
    ("GET", re.compile(r"^/snapshots/[^/]+/blocks$"), "ListSnapshotBlocks"),
    ("GET", re.compile(r"^/snapshots/[^/]+/changedblocks$"), "ListChangedBlocks"),
)
# The key attributes of the two tables, to remember item sizes for UpdateItem.
_TABLE_KEYS = {AWS_NAMES[0]: ("stream", "key"), AWS_NAMES[1]: ("snapshot_id",)}
_READS = {"GetItem", "Query", "Scan", "BatchGetItem"}
_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


@dataclass(frozen=True)
class AwsCounts:
    """What a moto server behind :class:`CountingApp` has answered: requests, and DynamoDB units.

    Both are keyed ``"<service> <Operation> <resource>"``. ``units`` holds,
    for DynamoDB requests, the read or write request units on-demand DynamoDB
    would bill for them, computed from item sizes (see :class:`CountingApp`).
    """

    requests: Counter[str]
    units: Counter[str]

    def __sub__(self, other: AwsCounts) -> AwsCounts:
        return AwsCounts(self.requests - other.requests, self.units - other.units)

    def __add__(self, other: AwsCounts) -> AwsCounts:
        return AwsCounts(self.requests + other.requests, self.units + other.units)


class CountingApp:
    """WSGI middleware: counts the requests the wrapped moto app answers, by what they cost on AWS.

    A request is counted under ``"<service> <Operation> <resource>"``:

    * the service is the SigV4 credential scope's (``…/<region>/<service>/aws4_request``),
      except that DynamoDB Streams, which signs as ``dynamodb``, is ``streams``
      (told apart by its ``X-Amz-Target``);
    * the operation is the ``X-Amz-Target`` action for DynamoDB, Streams and
      KMS, and is derived from method, key and query string for S3 and EBS;
    * the resource is, for DynamoDB, the table and what in it the request
      touches, read from the JSON body: on ``events`` the streams
      (``events/lifecycle``, ``events/blocks``, ``events/lifecycle+token``);
      on ``snapshots`` ``snapshots/record``, ``snapshots/status-index`` or
      ``snapshots/checkpoint:<reader>`` (``stream``: the projector's stream
      position, ``copier``: the encryption worker's). For S3 it is the first segment of the
      object key (``blocks``, ``manifests``, ``config``, ``keys``), or ``-``
      for a bucket-level request.

    An answer of 400 or above is counted a second time under the same key
    with `` !<status>`` appended (a failed conditional write is still billed).

    For DynamoDB it also adds up the request units on-demand DynamoDB bills,
    from the sizes of the items (attribute name lengths plus value sizes, as
    AWS defines item size): a write is ``ceil(size / 1 KB)`` WRU per item,
    twice that in a transaction, and an UpdateItem is charged for the item's
    size as last written through this server; a strongly consistent read is
    ``ceil(size / 4 KB)`` RRU, over the sum of the items for a Query and per
    item for GetItem and BatchGetItem, at least 1, and half that when
    eventually consistent (a secondary index). A failed conditional write is
    charged for the item it would have written.

    ``GET`` :data:`COUNTS_PATH` answers the counters as JSON, without
    reaching moto and without being counted.

    DynamoDB and DynamoDB Streams requests are served one at a time: moto's
    DynamoDB is not thread-safe (a Query that iterates a table while a PutItem
    adds to it fails with a 500, and the caller's retry would be counted).
    Moto holds the GIL for nearly all of its work, so this costs little.
    """

    def __init__(self, app: Callable[..., Any]):
        self.app = app
        self.requests: Counter[str] = Counter()
        self.units: Counter[str] = Counter()
        self.item_sizes: dict[tuple, int] = {}
        self.lock = threading.Lock()
        self.dynamodb_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == COUNTS_PATH:
            with self.lock:
                body = json.dumps({"requests": dict(self.requests), "units": dict(self.units)}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        request = None
        try:
            if target.startswith("DynamoDB_"):
                length = int(environ.get("CONTENT_LENGTH") or 0)
                raw = environ["wsgi.input"].read(length) if length else b""
                environ["wsgi.input"] = io.BytesIO(raw)  # moto reads the body again
                request = json.loads(raw or b"{}")
            key = self._classify(environ, target, request)
        except Exception:  # the counter must never break a request
            key, request = "unclassified", None
        with self.lock:
            self.requests[key] += 1
        status: list[int] = []

        def counting_start_response(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(int(status_line.split(" ", 1)[0]))
            if status[0] >= 400:
                with self.lock:
                    self.requests[f"{key} !{status[0]}"] += 1
            return start_response(status_line, headers, exc_info) if exc_info else start_response(status_line, headers)

        try:
            if target.startswith("DynamoDB"):
                with self.dynamodb_lock:
                    result = self.app(environ, counting_start_response)
            else:
                result = self.app(environ, counting_start_response)
        except Exception:
            with self.lock:  # werkzeug answers 500 itself, without our start_response
                self.requests[f"{key} !500"] += 1
            raise
        if request is None:
            return result
        # A DynamoDB answer is small (at most a 1 MB Query page): read it to size the items.
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        try:
            units = self._units(target.split(".", 1)[1], request, json.loads(body or b"{}"), status[0])
            with self.lock:
                self.units[key] += units
        except Exception:
            pass
        return [body]

    def _classify(self, environ: dict[str, Any], target: str, request: dict | None) -> str:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", auth)
        service = scope.group(1) if scope else "unsigned"
        if target.startswith("DynamoDBStreams"):
            return f"streams {target.split('.', 1)[1]} events"
        if request is not None:
            return f"dynamodb {target.split('.', 1)[1]} {_dynamodb_resource(request)}"
        if target:
            return f"{service} {target.split('.', 1)[-1]} -"
        method = environ.get("REQUEST_METHOD", "")
        path = unquote(environ.get("PATH_INFO", ""))
        if service == "s3":
            return _s3_operation(method, path, environ.get("QUERY_STRING", ""), environ)
        if service == "ebs":
            operation = next((op for m, route, op in _EBS_ROUTES if m == method and route.match(path)), method)
            return f"ebs {operation} -"
        return f"{service} {method} -"

    def _units(self, operation: str, request: dict, response: dict, status: int) -> float:
        """On-demand request units of one DynamoDB request (class docstring)."""
        if operation in _WRITES:
            return self._write_units(operation, request)
        if operation not in _READS or status >= 400:
            return 0.0
        factor = 1.0 if request.get("ConsistentRead") else 0.5
        if operation == "GetItem":
            return factor * _read_units(_item_size(response.get("Item") or {}))
        if operation in ("Query", "Scan"):
            return factor * _read_units(sum(_item_size(item) for item in response.get("Items", ())))
        total = 0.0  # BatchGetItem: per item, consistency per table
        for table, items in response.get("Responses", {}).items():
            consistent = request["RequestItems"].get(table, {}).get("ConsistentRead")
            total += (1.0 if consistent else 0.5) * sum(_read_units(_item_size(item)) for item in items)
        return total

    def _write_units(self, operation: str, request: dict) -> float:
        if operation == "PutItem":
            return self._put(request["TableName"], request["Item"])
        if operation == "UpdateItem":
            with self.lock:
                size = self.item_sizes.get(_item_key(request["TableName"], request["Key"]), 1)
            return float(math.ceil(size / 1024))
        if operation == "DeleteItem":
            with self.lock:
                size = self.item_sizes.get(_item_key(request["TableName"], request["Key"]), 1)
            return float(math.ceil(size / 1024))
        if operation == "TransactWriteItems":
            total = 0.0
            for entry in request["TransactItems"]:
                (kind, action), = entry.items()
                if kind == "Put":
                    total += 2 * self._put(action["TableName"], action["Item"])
                else:
                    total += 2.0
            return total
        total = 0.0  # BatchWriteItem
        for table, entries in request["RequestItems"].items():
            for entry in entries:
                put = entry.get("PutRequest")
                total += self._put(table, put["Item"]) if put else 1.0
        return total

    def _put(self, table: str, item: dict) -> float:
        size = _item_size(item)
        key_names = _TABLE_KEYS.get(table)
        if key_names:
            with self.lock:
                self.item_sizes[_item_key(table, {name: item[name] for name in key_names})] = size
        return float(math.ceil(size / 1024))


def _read_units(size: int) -> int:
    return max(1, math.ceil(size / 4096))


def _item_key(table: str, key: dict) -> tuple:
    return (table, json.dumps(key, sort_keys=True))


def _item_size(item: dict) -> int:
    """DynamoDB's item size: the UTF-8 length of every attribute name plus the size of its value."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict) -> int:
    (kind, content), = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(content) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in content.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in content)
    return len(json.dumps(content))  # sets: close enough for the items blocksnap writes (none)


def _dynamodb_resource(request: dict) -> str:
    tables = list(_find_tables(request))
    table = tables[0] if tables else "-"
    strings = list(_attribute_strings(request))
    if table == AWS_NAMES[0]:
        kinds = [name for name, pattern in _EVENT_STREAMS if any(pattern.search(s) for s in strings)]
        return f"{table}/{'+'.join(kinds) or 'other'}"
    if table == AWS_NAMES[1]:
        if request.get("IndexName"):
            return f"{table}/status-index"
        checkpoint = next((s for s in strings if s.startswith("checkpoint/")), None)
        if checkpoint is not None:  # checkpoint/<reader>:<shard id>: which stream reader's position
            return f"{table}/checkpoint:{checkpoint[len('checkpoint/'):].split(':', 1)[0]}"
        return f"{table}/record"
    return table


def _s3_operation(method: str, path: str, query_string: str, environ: dict[str, Any]) -> str:
    # Path-style addressing (botocore's choice for an IP endpoint): /bucket/key.
    _, _, key = path.lstrip("/").partition("/")
    query = parse_qs(query_string, keep_blank_values=True)
    resource = key.split("/", 1)[0] if key else "-"
    if key:
        if method == "PUT":
            operation = (
                "CopyObject" if environ.get("HTTP_X_AMZ_COPY_SOURCE")
                else "UploadPart" if "uploadId" in query else "PutObject"
            )
        elif method == "POST":
            operation = "CompleteMultipartUpload" if "uploadId" in query else "CreateMultipartUpload"
        else:
            operation = {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, method)
    else:
        operation = {
            "GET": "ListObjectsV2" if "list-type" in query else "ListObjects",
            "HEAD": "HeadBucket",
            "PUT": "CreateBucket",
            "DELETE": "DeleteBucket",
            "POST": "DeleteObjects" if "delete" in query else "PostBucket",
        }.get(method, method)
    return f"s3 {operation} {resource}"


def _find_tables(body: Any) -> Iterator[str]:
    """Table names in a DynamoDB request: ``TableName`` anywhere, or the keys of ``RequestItems``."""
    if isinstance(body, dict):
        for name, value in body.items():
            if name == "TableName" and isinstance(value, str):
                yield value
            elif name == "RequestItems" and isinstance(value, dict):
                yield from value
            else:
                yield from _find_tables(value)
    elif isinstance(body, list):
        for value in body:
            yield from _find_tables(value)


def _attribute_strings(body: Any) -> Iterator[str]:
    """Every string attribute value (``{"S": ...}``) in a DynamoDB request."""
    if isinstance(body, dict):
        for name, value in body.items():
            if name == "S" and isinstance(value, str):
                yield value
            else:
                yield from _attribute_strings(value)
    elif isinstance(body, list):
        for value in body:
            yield from _attribute_strings(value)


def _run_null_endpoint() -> None:
    payloads, digests = block_payloads()
    get_responses = [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        b"x-amz-Data-Length: %d\r\nx-amz-Checksum: %s\r\nx-amz-Checksum-Algorithm: SHA256\r\n"
        b"Content-Length: %d\r\n\r\n" % (BLOCK_SIZE, digest.encode(), BLOCK_SIZE) + payload
        for payload, digest in zip(payloads, digests)
    ]
    put_response = (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
        b"x-amz-Checksum: %s\r\nx-amz-Checksum-Algorithm: SHA256\r\nContent-Length: 2\r\n\r\n{}"
    )

    def connection(sock: socket.socket) -> None:
        body = memoryview(bytearray(BLOCK_SIZE))
        with sock, suppress(ConnectionError), sock.makefile("rb", buffering=256 * 1024) as rfile:
            while request_line := rfile.readline():
                headers = {}
                while (line := rfile.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    headers[name.strip().lower()] = value.strip()
                remaining = int(headers.get(b"content-length", 0))
                while remaining > 0:
                    received = rfile.readinto(body[: min(remaining, BLOCK_SIZE)])
                    if not received:
                        return
                    remaining -= received
                method, target = request_line.split(b" ")[:2]
                if method == b"GET":
                    index = int(target.split(b"?")[0].rsplit(b"/", 1)[1])
                    sock.sendall(get_responses[index % len(get_responses)])
                else:
                    sock.sendall(put_response % headers.get(b"x-amz-checksum", b""))

    listener = socket.create_server(("127.0.0.1", 0))
    host, port = listener.getsockname()[:2]
    print(f"null endpoint serving on http://{host}:{port}", flush=True)
    while True:
        sock, _ = listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=connection, args=(sock,), daemon=True).start()


_CHILDREN = {"moto": _run_moto, "null-endpoint": _run_null_endpoint}


# ---- clients and parallel runs -----------------------------------------------


def ebs_clients(url: str, count: int) -> list[Any]:
    """``count`` boto3 ``ebs`` clients, built here because client creation is not thread-safe.

    Each client is used by one thread only, so one pooled connection is enough;
    retries are off (``tests.servers.ebs_client``) so a failure shows at once.
    """
    return [ebs_client(url, max_pool_connections=1) for _ in range(count)]


@dataclass(frozen=True)
class Timing:
    """One parallel run over ``blocks`` blocks: wall seconds and CPU seconds."""

    blocks: int
    seconds: float
    cpu: float
    server_cpu: float | None

    @property
    def mib_per_s(self) -> float:
        return self.blocks * BLOCK_SIZE / MiB / self.seconds

    @property
    def cpu_ms(self) -> float:
        """This process's CPU milliseconds per block."""
        return 1000 * self.cpu / self.blocks

    @property
    def server_cpu_ms(self) -> float | None:
        return None if self.server_cpu is None else 1000 * self.server_cpu / self.blocks


def run_parallel(
    workers: Sequence[Worker],
    items: Sequence[Any],
    work: Callable[[Worker, Any], None],
    *,
    desc: str,
    progress: bool,
    server: Endpoint | None = None,
) -> Timing:
    """``work(worker, item)`` for every item, one thread per worker, timed.

    Threads take items from one queue, so a slow request delays nothing
    else. Each item is one 512 KiB block, which is what the progress bar counts.
    The first exception stops the other threads and is raised here.
    """
    pending: queue.SimpleQueue = queue.SimpleQueue()
    for item in items:
        pending.put(item)
    failed = threading.Event()
    bar = tqdm(
        total=len(items) * BLOCK_SIZE, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
        disable=not progress, leave=False,
    )

    def loop(worker: Worker) -> None:
        while not failed.is_set():
            try:
                item = pending.get_nowait()
            except queue.Empty:
                return
            try:
                work(worker, item)
            except BaseException:
                failed.set()
                raise
            bar.update(BLOCK_SIZE)

    server_start = server.cpu_seconds() if server else None
    with bar, ThreadPoolExecutor(len(workers)) as pool:
        cpu_start, start = time.process_time(), time.perf_counter()
        futures = [pool.submit(loop, worker) for worker in workers]
        for future in futures:
            future.result()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    server_end = server.cpu_seconds() if server else None
    server_cpu = None if server_start is None or server_end is None else server_end - server_start
    return Timing(len(items), seconds, cpu, server_cpu)


# ---- output ---------------------------------------------------------------


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Left-aligned first column, right-aligned numbers; short rows are left blank at the end."""
    cells = [list(header)] + [[_cell(v) for v in row] + [""] * (len(header) - len(row)) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        line = "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        print(line.rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return "-" if value is None else str(value)


def result_line(metrics: dict[str, float]) -> str:
    """The one machine-readable line a benchmark ends with: ``RESULT key=value ...``."""
    return "RESULT " + " ".join(f"{key}={value:.3f}" for key, value in metrics.items())


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in _CHILDREN:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(_CHILDREN)}}}")
    _CHILDREN[sys.argv[1]]()
