"""The NBD server: every available volume is an export named by its volume id.

One asyncio loop serves every connection. Requests whose data is at hand
(a read of written or cached sub-blocks, an aligned write: a ``pread`` or
``pwrite`` in the page cache) are answered inline, in order; those that wait
on the snapshot chain or on an fsync (flush, FUA, unaligned writes, zeroing)
run on a thread pool and answer when done, out of order, as the protocol
allows (each reply carries its request's cookie). Why a server of our own
rather than nbdkit's Python plugin: README, "Volumes".
"""

from __future__ import annotations

import asyncio
import logging
import struct
from concurrent.futures import Executor
from typing import Protocol

from ..domain.errors import BlocksnapError
from . import nbd_wire as w
from .disk import VolumeDisk

log = logging.getLogger(__name__)

_UNGATHERED = 64 << 10


class Exports(Protocol):
    def export_size(self, name: str) -> int | None: ...

    def export_names(self) -> list[str]: ...

    def attach(self, name: str) -> VolumeDisk: ...

    def detach(self, name: str) -> None: ...


class _Abort(Exception):
    """The client ended the handshake (NBD_OPT_ABORT), or broke it."""


class NbdServer:
    def __init__(self, exports: Exports, executor: Executor):
        self._exports = exports
        self._executor = executor

    async def _call(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            name = await self._negotiate(reader, writer)
            disk = await self._call(self._exports.attach, name)
            try:
                await self._transmit(reader, writer, disk)
            finally:
                self._exports.detach(name)
        except (_Abort, asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # a client gone, or the server stopping
        except BlocksnapError as exc:  # the volume went away between the handshake and the attach
            log.warning("NBD connection refused: %s", exc.message)
        except Exception:  # one broken connection must not take the server down
            log.exception("NBD connection failed")
        finally:
            writer.close()

    # ---- handshake -----------------------------------------------------

    async def _negotiate(self, reader, writer) -> str:
        writer.write(w.HANDSHAKE.pack(w.NBDMAGIC, w.IHAVEOPT, w.FLAG_FIXED_NEWSTYLE | w.FLAG_NO_ZEROES))
        (client_flags,) = struct.unpack(">I", await reader.readexactly(4))
        if not client_flags & w.FLAG_FIXED_NEWSTYLE:
            raise _Abort()
        no_zeroes = bool(client_flags & w.FLAG_NO_ZEROES)
        while True:
            magic, option, length = w.OPTION.unpack(await reader.readexactly(w.OPTION.size))
            if magic != w.IHAVEOPT or length > w.MAX_OPTION:
                raise _Abort()
            data = await reader.readexactly(length)
            if option == w.OPT_EXPORT_NAME:
                name = data.decode("utf-8", "replace")
                size = await self._call(self._exports.export_size, name)
                if size is None:
                    raise _Abort()  # the protocol's only answer to an unknown name here
                writer.write(struct.pack(">QH", size, w.TRANSMISSION_FLAGS) + (b"" if no_zeroes else bytes(124)))
                return name
            if option == w.OPT_ABORT:
                writer.write(w.option_reply(option, w.REP_ACK))
                await writer.drain()
                raise _Abort()
            if option == w.OPT_LIST:
                await self._list(writer, option, data)
            elif option in (w.OPT_INFO, w.OPT_GO):
                name = await self._info(writer, option, data)
                if name is not None and option == w.OPT_GO:
                    return name
            else:  # STARTTLS, STRUCTURED_REPLY, meta contexts: not offered
                writer.write(w.option_reply(option, w.REP_ERR_UNSUP))
            await writer.drain()

    async def _list(self, writer, option: int, data: bytes) -> None:
        if data:
            writer.write(w.option_reply(option, w.REP_ERR_INVALID))
            return
        for name in await self._call(self._exports.export_names):
            encoded = name.encode()
            writer.write(w.option_reply(option, w.REP_SERVER, struct.pack(">I", len(encoded)) + encoded))
        writer.write(w.option_reply(option, w.REP_ACK))

    async def _info(self, writer, option: int, data: bytes) -> str | None:
        """NBD_OPT_INFO / NBD_OPT_GO: the export's size, flags and block sizes; the name if it exists."""
        try:
            (name_length,) = struct.unpack_from(">I", data)
            name = data[4 : 4 + name_length].decode("utf-8")
            (count,) = struct.unpack_from(">H", data, 4 + name_length)
            wanted = struct.unpack_from(f">{count}H", data, 6 + name_length)
            if len(data) != 6 + name_length + 2 * count:
                raise ValueError("trailing bytes")
        except (struct.error, UnicodeDecodeError, ValueError):
            writer.write(w.option_reply(option, w.REP_ERR_INVALID))
            return None
        size = await self._call(self._exports.export_size, name)
        if size is None:
            writer.write(w.option_reply(option, w.REP_ERR_UNKNOWN, f"no volume named {name!r}".encode()))
            return None
        writer.write(w.option_reply(option, w.REP_INFO, w.info_export(size)))
        if w.INFO_BLOCK_SIZE in wanted:
            writer.write(w.option_reply(option, w.REP_INFO, w.info_block_size()))
        writer.write(w.option_reply(option, w.REP_ACK))
        return name

    # ---- transmission --------------------------------------------------

    async def _transmit(self, reader, writer, disk: VolumeDisk) -> None:
        pending: set[asyncio.Task] = set()
        replies = _Replies(writer)
        try:
            while True:
                magic, flags, kind, cookie, offset, length = w.REQUEST.unpack(
                    await reader.readexactly(w.REQUEST.size)
                )
                if magic != w.REQUEST_MAGIC or kind == w.CMD_DISC:
                    return
                payload = b""
                if kind == w.CMD_WRITE:
                    if length > w.MAX_REQUEST:
                        return  # the payload cannot be skipped safely: end the connection
                    payload = await reader.readexactly(length)
                error = _check(kind, offset, length, disk.size)
                if error:
                    replies.add(cookie, error, b"")
                elif _inline(disk, kind, flags, offset, length):
                    replies.add(cookie, *_run(disk, kind, flags, offset, length, payload))
                else:
                    task = asyncio.create_task(self._slow(replies, disk, kind, flags, cookie, offset, length, payload))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                await writer.drain()
        finally:
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            replies.send()
            await self._call(disk.flush)

    async def _slow(self, replies, disk, kind, flags, cookie, offset, length, payload) -> None:
        replies.add(cookie, *await self._call(_run, disk, kind, flags, offset, length, payload))


class _Replies:
    """Small replies gathered while the loop works through the requests of one read, then sent in one write.

    A client with 16 requests in flight sends them together; answering each
    with its own ``send`` cost more than serving it (a profile of 4 KiB
    random reads: two thirds of the time in ``send``). A large read's data
    goes out at once, uncopied: the order of replies is free, each one's
    bytes only must be contiguous.
    """

    def __init__(self, writer: asyncio.StreamWriter):
        self._writer = writer
        self._parts: list[bytes] = []

    def add(self, cookie: int, error: int, data: bytes) -> None:
        header = w.SIMPLE_REPLY.pack(w.SIMPLE_REPLY_MAGIC, error, cookie)
        if len(data) >= _UNGATHERED:
            self._writer.write(header)
            self._writer.write(data)
            return
        if not self._parts:
            asyncio.get_running_loop().call_soon(self.send)
        self._parts += (header, data)

    def send(self) -> None:
        parts, self._parts = self._parts, []
        if parts and not self._writer.is_closing():
            self._writer.write(b"".join(parts))


def _check(kind: int, offset: int, length: int, size: int) -> int:
    if kind not in (w.CMD_READ, w.CMD_WRITE, w.CMD_FLUSH, w.CMD_TRIM, w.CMD_WRITE_ZEROES):
        return w.EINVAL
    if kind == w.CMD_FLUSH:
        return 0
    if kind == w.CMD_READ and length > w.MAX_REQUEST:
        return w.EINVAL
    if offset + length > size:
        return w.EINVAL if kind == w.CMD_READ else w.ENOSPC
    return 0


def _inline(disk: VolumeDisk, kind: int, flags: int, offset: int, length: int) -> bool:
    if length == 0:
        return True
    if kind == w.CMD_READ:
        return disk.ready(offset, length)
    return kind == w.CMD_WRITE and not flags & w.CMD_FLAG_FUA and disk.aligned(offset, length)


def _run(disk: VolumeDisk, kind: int, flags: int, offset: int, length: int, payload: bytes) -> tuple[int, bytes]:
    """Carry out one request: (NBD error number, data to send)."""
    try:
        if kind == w.CMD_READ:
            return 0, disk.read(offset, length) if length else b""
        if kind == w.CMD_WRITE and length:
            disk.write(offset, payload)
        elif kind in (w.CMD_TRIM, w.CMD_WRITE_ZEROES) and length:
            disk.zero(offset, length)
        if kind == w.CMD_FLUSH or flags & w.CMD_FLAG_FUA:
            disk.flush()
        return 0, b""
    except Exception:  # the client sees EIO; the cause is logged here
        log.exception("NBD request %d at %d+%d failed", kind, offset, length)
        return w.EIO, b""
