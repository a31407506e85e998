"""What checking signatures costs the server: CPU per request, verifier alone, in the app, end to end.

    python benchmarks/auth_cost.py [--puts N] [--rounds R] [--checks N]

**Verifier alone, in-process.** Requests are made by a real boto3 ``ebs``
client (a ``before-send`` hook keeps them from the network) and, for the JS
SDK's way, signed with the body's SHA-256 in ``x-amz-content-sha256``; each
is rebuilt as the WSGI front sees it and passed through
:class:`~chalicelib.http.sigv4.Guard` with the key looked up in the data dir's
key file, as ``serve``'s workers do (one ``stat`` per lookup). The figure is
CPU microseconds per check: a botocore PutSnapshotBlock (``UNSIGNED-PAYLOAD``),
a JS PutSnapshotBlock (the 512 KiB body hashed once more), a ListSnapshotBlocks.

**In the app, in-process.** The WSGI front with and without the guard,
over one embedded runtime, takes the same kind of botocore-signed
PutSnapshotBlock (each to its own block index), in ``2 × --rounds`` rounds of
``--puts / 5`` taking turns; the figure is this process's CPU per PUT: the
whole application (checksum, durable block file, event append) with no HTTP
server and none of the kernel's copying, so the check's share is larger here
than in a server.

**End to end.** ``blocksnap serve`` with keys and with ``--no-auth``, one
after the other for each of ``--rounds`` rounds, in turns going first (so
that a busy spell of the shared machine falls on both), take ``--puts`` PutSnapshotBlock calls from one
boto3 client each; the figure is the server's CPU (all its processes) per PUT.

The last line is ``RESULT key=value ...``: ``app_overhead_pct`` and
``e2e_overhead_pct`` are against the target (under 5 %); ``share_of_put_pct``
is the verifier's part of the server's CPU per PUT. On a machine shared with
other work single server rounds vary by ±15 %, more than the effect: the
in-process figures are the steadier ones.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit

import _harness  # first: it puts the repository root on sys.path
from _harness import block_payloads, process_cpu_seconds

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

from chalicelib import wiring
from chalicelib.adapters.file_keys import FileKeyStore
from chalicelib.domain.access import AccessKey, Policy
from chalicelib.http.sigv4 import Guard, SignedRequest, Verifier
from chalicelib.http.wsgi import ChaliceWSGI
from chalicelib.usecases.keys import AccessKeys
from tests.servers import ROOT_KEY_ID, ROOT_SECRET, BlocksnapServer, ebs_client

SID = "snap-0123456789abcdef0"


def _as_received(method: str, url: str, headers, body: bytes) -> SignedRequest:
    parts = urlsplit(url)
    wire = {k.lower(): v.decode("latin-1") if isinstance(v, bytes) else v for k, v in headers.items()}
    wire["host"] = parts.netloc
    return SignedRequest(method, unquote_to_bytes(parts.path).decode("latin-1"), parts.query, wire, body)


def _captured(call) -> SignedRequest:
    """The request a boto3 call signs, as the server would receive it."""
    seen = {}

    def keep(request, **_):
        seen["request"] = request
        return AWSResponse(request.url, 200, {}, None)

    client = ebs_client("http://127.0.0.1:8642")
    client.meta.events.register("before-send", keep)
    try:
        call(client)
    except Exception:  # noqa: BLE001 - the canned empty answer does not parse; the request was made
        pass
    r = seen["request"]
    body = r.body.read() if hasattr(r.body, "read") else r.body
    return _as_received(r.method, r.url, r.headers, body or b"")


def _js_style_put(block: bytes, checksum: str) -> SignedRequest:
    url = f"http://127.0.0.1:8642/snapshots/{SID}/blocks/0"
    request = AWSRequest("PUT", url, data=block, headers={
        "x-amz-Data-Length": str(len(block)), "x-amz-Checksum": checksum, "x-amz-Checksum-Algorithm": "SHA256",
        "Content-Type": "application/octet-stream", "X-Amz-Content-SHA256": hashlib.sha256(block).hexdigest(),
    })
    SigV4Auth(Credentials(ROOT_KEY_ID, ROOT_SECRET), "ebs", "us-east-1").add_auth(request)
    return _as_received("PUT", url, request.headers, block)


def _cpu_us_per_check(guard: Guard, request: SignedRequest, route: str, handler: str, count: int) -> float:
    start = time.process_time()
    for _ in range(count):
        guard.check(request, route, handler)
    return 1e6 * (time.process_time() - start) / count


def verifier_alone(workdir: Path, count: int) -> dict[str, float]:
    payloads, checksums = block_payloads(1)
    block, checksum = payloads[0], checksums[0]
    keys = AccessKeys(AccessKey(ROOT_KEY_ID, ROOT_SECRET, Policy.FULL), FileKeyStore(workdir / "access-keys.json"))
    guard = Guard(Verifier(keys.lookup))
    put = _captured(lambda c: c.put_snapshot_block(SnapshotId=SID, BlockIndex=0, BlockData=block, DataLength=len(block),
                                                   Checksum=checksum, ChecksumAlgorithm="SHA256"))
    listing = _captured(lambda c: c.list_snapshot_blocks(SnapshotId=SID, MaxResults=100))
    assert put.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD", put.headers
    route = "/snapshots/{snapshotId}/blocks/{blockIndex}"
    return {
        "verify_botocore_put_us": _cpu_us_per_check(guard, put, route, "put_snapshot_block", count),
        "verify_js_put_us": _cpu_us_per_check(guard, _js_style_put(block, checksum), route, "put_snapshot_block",
                                              count),
        "verify_list_us": _cpu_us_per_check(guard, listing, "/snapshots/{snapshotId}/blocks", "list_snapshot_blocks",
                                            count),
    }


def _call(wsgi: ChaliceWSGI, request: SignedRequest) -> tuple[str, bytes]:
    environ = {"REQUEST_METHOD": request.method, "PATH_INFO": request.path, "QUERY_STRING": request.query,
               "wsgi.input": io.BytesIO(request.body), "CONTENT_LENGTH": str(len(request.body)),
               **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in request.headers.items()}}
    status = []
    body = b"".join(wsgi(environ, lambda line, headers: status.append(line)))
    return status[0], body


def app_cpu_ms_per_put(workdir: Path, puts: int, rounds: int) -> tuple[float, float]:
    """(with the guard, without) medians of this process's CPU per PUT through the WSGI front."""
    wiring.install(wiring.embedded(workdir))
    from app import app

    root = AccessKey(ROOT_KEY_ID, ROOT_SECRET, Policy.FULL)
    fronts = {True: ChaliceWSGI(app, Guard(Verifier(AccessKeys(root, FileKeyStore(workdir / "keys")).lookup))),
              False: ChaliceWSGI(app)}
    status, body = _call(fronts[True], _captured(lambda c: c.start_snapshot(VolumeSize=64)))
    sid = json.loads(body)["SnapshotId"]
    payloads, checksums = block_payloads()
    requests = iter([_captured(lambda c: c.put_snapshot_block(
        SnapshotId=sid, BlockIndex=i, BlockData=payloads[i % len(payloads)], DataLength=len(payloads[0]),
        Checksum=checksums[i % len(payloads)], ChecksumAlgorithm="SHA256")) for i in range(4 * rounds * puts)])
    figures: dict[bool, list[float]] = {True: [], False: []}
    for n in range(2 * rounds):
        for guarded in (True, False) if n % 2 == 0 else (False, True):
            batch = [next(requests) for _ in range(puts)]
            start = time.process_time()
            for request in batch:
                status, body = _call(fronts[guarded], request)
                assert status.startswith("201"), (status, body)
            figures[guarded].append(1000 * (time.process_time() - start) / len(batch))
    return statistics.median(figures[True]), statistics.median(figures[False])


def server_cpu_ms_per_put(workdir: Path, puts: int, no_auth: bool) -> float:
    payloads, checksums = block_payloads()
    server = BlocksnapServer(workdir, args=("--no-auth",) if no_auth else ()).start()
    try:
        ebs = server.client()
        sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
        before = process_cpu_seconds(server.proc.pid)
        for i in range(puts):
            ebs.put_snapshot_block(SnapshotId=sid, BlockIndex=i % 2048, BlockData=payloads[i % len(payloads)],
                                   DataLength=len(payloads[0]), Checksum=checksums[i % len(payloads)],
                                   ChecksumAlgorithm="SHA256")
        return 1000 * (process_cpu_seconds(server.proc.pid) - before) / puts
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--puts", type=int, default=300, help="PUTs per server per round (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both servers (default: %(default)s)")
    parser.add_argument("--checks", type=int, default=2000, help="verifier calls per request kind")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="blocksnap-auth-cost-") as tmp:
        workdir = Path(tmp)
        alone = verifier_alone(workdir, args.checks)
        print("verifier alone, CPU µs per request: " + ", ".join(f"{k} {v:.1f}" for k, v in alone.items()), flush=True)
        app_auth, app_open = app_cpu_ms_per_put(workdir / "in-process", max(args.puts // 5, 10), args.rounds)
        print(f"in the app: CPU per PUT {app_auth:.2f} ms with the guard, {app_open:.2f} ms without", flush=True)
        with_auth, without = [], []
        for n in range(args.rounds):
            for no_auth in (False, True) if n % 2 == 0 else (True, False):  # neither always goes first
                figures = without if no_auth else with_auth
                figures.append(server_cpu_ms_per_put(workdir / f"{n}-{no_auth}", args.puts, no_auth))
            print(f"round {n + 1}: server CPU per PUT {with_auth[-1]:.2f} ms with keys, "
                  f"{without[-1]:.2f} ms with --no-auth", flush=True)
    auth_ms, open_ms = statistics.median(with_auth), statistics.median(without)
    result = {
        **alone,
        "share_of_put_pct": 100 * alone["verify_botocore_put_us"] / 1000 / open_ms,
        "app_put_cpu_ms_auth": app_auth,
        "app_put_cpu_ms_no_auth": app_open,
        "app_overhead_pct": 100 * (app_auth - app_open) / app_open,
        "e2e_put_cpu_ms_auth": auth_ms,
        "e2e_put_cpu_ms_no_auth": open_ms,
        "e2e_overhead_pct": 100 * (auth_ms - open_ms) / open_ms,
        "cores": os.cpu_count() or 0,
    }
    print("RESULT " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
