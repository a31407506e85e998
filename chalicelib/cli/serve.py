"""``blocksnap serve``: the API on waitress, the projector in the background.

waitress is a production WSGI server (threaded, HTTP/1.1 keep-alive, request
size limits); the projector follows the event log in a daemon thread of the
same process. SIGINT and SIGTERM leave waitress's loop the way it expects
(SystemExit), which lets in-flight requests finish even while idle keep-alive
connections are open; then the projector drains what was appended and stops.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import waitress

from .. import wiring
from ..http.wsgi import ChaliceWSGI

# A PutSnapshotBlock body is 512 KiB; waitress spools bodies above its
# inbuf_overflow to a temp file, which would cost a disk round trip per block.
_INBUF_OVERFLOW = 4 * 1024 * 1024


def serve(host: str, port: int, data_dir: Path, threads: int, minute_seconds: float, backend: str = "embedded") -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if backend == "aws":
        runtime = wiring.aws(minute_seconds=minute_seconds)
        where = "AWS backend"
    else:
        runtime = wiring.embedded(data_dir, minute_seconds=minute_seconds)
        where = f"data dir {data_dir}"
    wiring.install(runtime)
    from app import app  # the Chalice app reads the installed runtime

    runtime.projector.start()
    server = waitress.create_server(
        ChaliceWSGI(app),
        host=host,
        port=port,
        threads=threads,
        inbuf_overflow=_INBUF_OVERFLOW,
        channel_timeout=300,
        connection_limit=1000,
        ident="blocksnap",
    )

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    bound_port = server.effective_port
    print(f"blocksnap serving on http://{host}:{bound_port} ({where})", flush=True)
    try:
        server.run()
    finally:
        server.close()
        runtime.projector.stop()
        print("blocksnap stopped", flush=True)
    return 0

