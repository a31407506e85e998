"""The NBD server's answers to what real clients rarely send: malformed options, out-of-range requests.

The common paths are tested with qemu and libnbd in ``tests/api/test_volumes_nbd.py``;
these speak the protocol by hand to reach the refusals.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.volumes import nbd_wire as w
from chalicelib.volumes.disk import VolumeDisk
from chalicelib.volumes.nbd_server import NbdServer
from chalicelib.volumes.store import VolumeStore
from tests.unit.test_volume_disk import SIZE, UNIT, FakeSource

NAME = "vol-0123456789abcdef0"


class OneVolume:
    def __init__(self, disk):
        self.disk = disk
        self.attached = 0

    def export_size(self, name):
        return SIZE if name == NAME else None

    def export_names(self):
        return [NAME]

    def attach(self, name):
        self.attached += 1
        return self.disk

    def detach(self, name):
        self.attached -= 1


@pytest.fixture
def address(tmp_path):
    exports = OneVolume(VolumeDisk(VolumeStore(tmp_path / "v", SIZE, UNIT), FakeSource(), SIZE))
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        asyncio.start_server(NbdServer(exports, ThreadPoolExecutor(2)).handle, "127.0.0.1", 0)
    )
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield server.sockets[0].getsockname()

    async def shut_down():
        server.close()
        connections = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in connections:
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(shut_down(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def recv(conn, n):
    data = b""
    while len(data) < n:
        more = conn.recv(n - len(data))
        if not more:
            raise EOFError(f"closed after {len(data)} of {n} bytes")
        data += more
    return data


def connect(address, flags=w.FLAG_FIXED_NEWSTYLE | w.FLAG_NO_ZEROES):
    conn = socket.create_connection(address, timeout=10)
    magic, opt, server_flags = w.HANDSHAKE.unpack(recv(conn, w.HANDSHAKE.size))
    assert (magic, opt, server_flags) == (w.NBDMAGIC, w.IHAVEOPT, w.FLAG_FIXED_NEWSTYLE | w.FLAG_NO_ZEROES)
    conn.sendall(struct.pack(">I", flags))
    return conn


def option(conn, opt, data=b""):
    conn.sendall(w.OPTION.pack(w.IHAVEOPT, opt, len(data)) + data)


def reply(conn):
    magic, opt, kind, length = w.OPTION_REPLY.unpack(recv(conn, w.OPTION_REPLY.size))
    assert magic == w.OPTION_REPLY_MAGIC
    return opt, kind, recv(conn, length)


def go_request(name, *infos):
    encoded = name.encode()
    return struct.pack(">I", len(encoded)) + encoded + struct.pack(f">H{len(infos)}H", len(infos), *infos)


def test_option_refusals_and_the_list(address):
    conn = connect(address)
    option(conn, w.OPT_LIST, b"x")
    assert reply(conn)[1] == w.REP_ERR_INVALID
    option(conn, 8)  # NBD_OPT_STRUCTURED_REPLY: not offered
    assert reply(conn)[1] == w.REP_ERR_UNSUP
    option(conn, w.OPT_STARTTLS)
    assert reply(conn)[1] == w.REP_ERR_UNSUP
    option(conn, w.OPT_INFO, go_request("vol-00000000000000000"))
    assert reply(conn)[1] == w.REP_ERR_UNKNOWN
    option(conn, w.OPT_GO, b"\x00\x00\x00\x09abc")  # a name longer than the option
    assert reply(conn)[1] == w.REP_ERR_INVALID
    option(conn, w.OPT_LIST)
    assert reply(conn) == (w.OPT_LIST, w.REP_SERVER, struct.pack(">I", len(NAME)) + NAME.encode())
    assert reply(conn)[1] == w.REP_ACK
    option(conn, w.OPT_ABORT)
    assert reply(conn)[1] == w.REP_ACK
    assert conn.recv(1) == b""


def test_a_client_without_fixed_newstyle_is_turned_away(address):
    conn = connect(address, flags=0)
    assert conn.recv(1) == b""


def go(address, *infos):
    conn = connect(address)
    option(conn, w.OPT_GO, go_request(NAME, *infos))
    answers = []
    while (answer := reply(conn))[1] != w.REP_ACK:
        answers.append(answer[2])
    return conn, answers


def request(conn, kind, offset, length, flags=0, payload=b"", cookie=7):
    conn.sendall(w.REQUEST.pack(w.REQUEST_MAGIC, flags, kind, cookie, offset, length) + payload)
    magic, error, got_cookie = w.SIMPLE_REPLY.unpack(recv(conn, w.SIMPLE_REPLY.size))
    assert (magic, got_cookie) == (w.SIMPLE_REPLY_MAGIC, cookie)
    return error, recv(conn, length) if kind == w.CMD_READ and not error else b""


def test_go_names_size_flags_and_block_sizes_only_when_asked(address):
    _, answers = go(address)
    assert answers == [w.info_export(SIZE)]
    _, answers = go(address, w.INFO_BLOCK_SIZE)
    assert answers == [w.info_export(SIZE), struct.pack(">HIII", 3, 512, 4096, 32 << 20)]


def test_requests_out_of_range_are_refused_and_the_rest_served(address):
    conn, _ = go(address)
    assert request(conn, w.CMD_READ, SIZE - 512, 1024)[0] == w.EINVAL
    assert request(conn, w.CMD_WRITE, SIZE - 512, 1024, payload=bytes(1024))[0] == w.ENOSPC
    assert request(conn, w.CMD_WRITE_ZEROES, SIZE, 512)[0] == w.ENOSPC
    assert request(conn, 7, 0, 512)[0] == w.EINVAL  # BLOCK_STATUS: needs structured replies
    assert request(conn, w.CMD_READ, 0, (32 << 20) + 1)[0] == w.EINVAL
    assert request(conn, w.CMD_WRITE, 1000, 24, flags=w.CMD_FLAG_FUA, payload=b"\x01" * 24) == (0, b"")
    assert request(conn, w.CMD_READ, 1000, 24) == (0, b"\x01" * 24)
    assert request(conn, w.CMD_TRIM, 0, 8192) == (0, b"")
    assert request(conn, w.CMD_READ, 4090, 10) == (0, bytes(10))
    assert request(conn, w.CMD_FLUSH, 0, 0) == (0, b"")
    conn.sendall(w.REQUEST.pack(w.REQUEST_MAGIC, 0, w.CMD_DISC, 1, 0, 0))
    assert conn.recv(1) == b""
