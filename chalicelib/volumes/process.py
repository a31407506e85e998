"""The volume server: ``python -m chalicelib.volumes.process --data-dir D --nbd-host H --nbd-port P``.

``blocksnap serve`` starts it beside the encryption worker and stops it
before the worker. It serves every volume over NBD on ``H:P`` and the
volume operations on ``D/volumes.sock``, and prints
``blocksnap nbd exports on nbd://H:P`` when both listen (``--nbd-port 0``:
the port picked). It holds no key: a volume over an encrypted snapshot is
read through the encryption worker's socket, like any API process.

SIGTERM and SIGINT close the listeners and flush every volume, so a clean
stop loses nothing; a SIGKILL loses only what no client had flushed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import wiring
from ..processes import exit_with_supervisor, one_line_errors, port_number
from .control import SOCKET_NAME, ControlServer
from .engine import VolumeEngine
from .nbd_server import NbdServer

VOLUMES_DIR = "volumes"
_THREADS = 8
# A stream reader pauses the socket past twice its limit; at the default 64 KiB a 1 MiB write
# arrives in many pause/resume rounds.
_READ_BUFFER = 4 << 20



def nbd_url(host: str, port: int) -> str:
    return f"nbd://[{host}]:{port}" if ":" in host else f"nbd://{host}:{port}"

def engine_for(data_dir: Path, backend: str) -> VolumeEngine:
    if backend == "aws":
        runtime = wiring.aws(poll_stream=False, worker_dir=data_dir)
    else:
        runtime = wiring.embedded(data_dir)
    return VolumeEngine(
        runtime.events, runtime.records, runtime.manifests, runtime.usecases.writes.blockio, runtime.usecases,
        data_dir / VOLUMES_DIR,
    )


async def serve(engine: VolumeEngine, data_dir: Path, host: str, port: int) -> None:
    executor = ThreadPoolExecutor(_THREADS, thread_name_prefix="blocksnap-volume")
    nbd = await asyncio.start_server(NbdServer(engine, executor).handle, host, port, limit=_READ_BUFFER)
    socket_path = data_dir / SOCKET_NAME
    socket_path.unlink(missing_ok=True)
    control = await asyncio.start_unix_server(ControlServer(engine, executor).handle, os.fspath(socket_path))
    os.chmod(socket_path, 0o600)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bound = nbd.sockets[0].getsockname()[1]
    print(f"blocksnap nbd exports on {nbd_url(host, bound)}", flush=True)
    try:
        await stop.wait()
    finally:
        nbd.close()
        control.close()
        socket_path.unlink(missing_ok=True)
        await loop.run_in_executor(executor, engine.close)
        executor.shutdown(wait=False, cancel_futures=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.volumes.process")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--backend", choices=wiring.BACKENDS, default="embedded")
    parser.add_argument("--nbd-host", default="127.0.0.1")
    parser.add_argument("--nbd-port", type=port_number, default=10809)
    parser.add_argument("--exit-with-parent", action="store_true", help="die with blocksnap serve")
    args = parser.parse_args(argv)
    if args.exit_with_parent:
        exit_with_supervisor()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def run() -> int:
        asyncio.run(serve(engine_for(args.data_dir, args.backend), args.data_dir, args.nbd_host, args.nbd_port))
        return 0

    return one_line_errors("blocksnap volumes", run)


if __name__ == "__main__":
    sys.exit(main())
