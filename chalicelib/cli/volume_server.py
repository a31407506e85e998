"""Start and stop the volume server for ``blocksnap serve``.

Like the encryption worker it inherits the data dir's lock (the dir stays
held until it has exited too) and dies with ``serve`` even when ``serve`` is
SIGKILLed. Its output, the ready line with the NBD address included, is
passed through.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from ..processes import CliError
from ..volumes.process import nbd_url
from .preflight import listen_address, url

_STOP_SECONDS = 40.0


def start_volume_server(data_dir: Path, backend: str, lock_fd: int, nbd_host: str, nbd_port: int) -> subprocess.Popen:
    try:
        ip, _ = listen_address(nbd_host, nbd_port)  # a port already taken is one line, before the server starts
    except CliError as exc:  # named as what it is: an NBD address
        raise CliError(str(exc).replace(url(nbd_host, nbd_port), nbd_url(nbd_host, nbd_port))) from None
    server = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.volumes.process", "--data-dir", str(data_dir), "--backend", backend,
         "--nbd-host", ip, "--nbd-port", str(nbd_port), "--exit-with-parent"],
        stdout=subprocess.PIPE,
        text=True,
        pass_fds=[lock_fd],
    )
    assert server.stdout is not None
    try:
        for line in server.stdout:
            print(line, end="", flush=True)
            if "nbd exports on" in line:
                break
        else:
            raise CliError(f"the volume server exited with status {server.wait()}")
        threading.Thread(target=_relay, args=(server.stdout,), name="blocksnap-volumes-output", daemon=True).start()
    except BaseException:
        stop_volume_server(server)
        raise
    return server


def _relay(stream) -> None:
    for line in stream:
        print(line, end="", flush=True)


def stop_volume_server(server: subprocess.Popen | None) -> None:
    if server is None:
        return
    server.terminate()
    try:
        server.wait(timeout=_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        server.kill()
