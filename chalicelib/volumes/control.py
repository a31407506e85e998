"""The volume server's control socket, and the client the API (and tests) use.

Volume operations run in the volume server, the process that holds the
volumes' stores; anything else reaches them over ``DATA_DIR/volumes.sock``:
one JSON request per line, one JSON answer per line. A refusal travels as
the domain error's class name and message and is raised again on the
client side, so the EC2 handlers map the same error tree as every other
operation. Like the encryption worker's socket, it is only as reachable as
the data dir (a Unix socket, mode 0600).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
from concurrent.futures import Executor
from pathlib import Path

from .. import wiring
from ..processes import CliError, one_line_errors
from ..domain import errors
from .engine import VolumeEngine

SOCKET_NAME = "volumes.sock"
_OPERATIONS = ("create_volume", "describe_volumes", "delete_volume", "create_snapshot")


class ControlServer:
    def __init__(self, engine: VolumeEngine, executor: Executor):
        self._engine = engine
        self._executor = executor

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                answer = await asyncio.get_running_loop().run_in_executor(self._executor, self._answer, line)
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _answer(self, line: bytes) -> dict:
        try:
            request = json.loads(line)
            operation = request["op"]
            if operation not in _OPERATIONS:
                raise errors.ValidationError(f"unknown volume operation {operation!r}")
            return {"result": getattr(self._engine, operation)(**request.get("args", {}))}
        except errors.BlocksnapError as exc:
            return {"error": type(exc).__name__, "message": exc.message}
        except (ValueError, KeyError, TypeError) as exc:
            return {"error": "ValidationError", "message": f"malformed volume request: {exc}"}


class VolumeClient:
    """The small Python API over the control socket; one connection per call, so it is thread-safe."""

    def __init__(self, socket_path: Path, timeout: float = 60.0):
        self._path = Path(socket_path)
        self._timeout = timeout

    def _call(self, op: str, **args):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(self._timeout)
                conn.connect(os.fspath(self._path))
                conn.sendall(json.dumps({"op": op, "args": args}).encode() + b"\n")
                with conn.makefile("rb") as answers:
                    answer = json.loads(answers.readline() or b"null")
        except OSError as exc:
            raise errors.VolumeUnavailable(f"the volume server at {self._path} cannot be reached: {exc}") from None
        if answer is None:
            raise errors.VolumeUnavailable(f"the volume server at {self._path} closed the connection")
        if "error" in answer:
            raise _rebuilt(answer["error"], answer["message"])
        return answer["result"]

    def create_volume(self, snapshot_id: str, size_gib: int | None = None, tags=()) -> dict:
        return self._call("create_volume", snapshot_id=snapshot_id, size_gib=size_gib, tags=[list(t) for t in tags])

    def describe_volumes(self, volume_ids: list[str] | None = None) -> list[dict]:
        return self._call("describe_volumes", volume_ids=volume_ids)

    def delete_volume(self, volume_id: str) -> None:
        self._call("delete_volume", volume_id=volume_id)

    def create_snapshot(self, volume_id: str, description: str | None = None) -> str:
        return self._call("create_snapshot", volume_id=volume_id, description=description)


def _rebuilt(name: str, message: str) -> errors.BlocksnapError:
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, errors.BlocksnapError)):
        cls = errors.BlocksnapError
    error = cls.__new__(cls)
    errors.BlocksnapError.__init__(error, message)
    return error


def main(argv: list[str] | None = None) -> int:
    """The Python API's command line until the EC2 operations exist.

    ``python -m chalicelib.volumes.control [--data-dir D] create SNAP [--size GIB]``,
    ``list``, ``delete VOL``, ``snapshot VOL``; it prints what the call
    returns (a new volume's or snapshot's id alone).
    """
    parser = argparse.ArgumentParser(prog="python -m chalicelib.volumes.control")
    parser.add_argument("--data-dir", type=Path, default=None, help="the data dir of the running blocksnap serve")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="a volume from a completed snapshot")
    create.add_argument("snapshot_id")
    create.add_argument("--size", type=int, default=None, help="GiB, at least the snapshot's (default: its size)")
    sub.add_parser("list", help="every volume, as JSON")
    sub.add_parser("delete", help="delete a volume no client is attached to").add_argument("volume_id")
    sub.add_parser("snapshot", help="snapshot a volume").add_argument("volume_id")
    args = parser.parse_args(argv)
    client = VolumeClient(wiring.data_dir(args.data_dir) / SOCKET_NAME)

    def run() -> int:
        try:
            if args.command == "create":
                print(client.create_volume(args.snapshot_id, args.size)["VolumeId"])
            elif args.command == "list":
                print(json.dumps(client.describe_volumes(), indent=2))
            elif args.command == "delete":
                client.delete_volume(args.volume_id)
            else:
                print(client.create_snapshot(args.volume_id))
        except errors.BlocksnapError as exc:
            raise CliError(exc.message) from None
        return 0

    return one_line_errors("blocksnap volumes", run)


if __name__ == "__main__":
    sys.exit(main())
