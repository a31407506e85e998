"""The Network Block Device protocol's numbers (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md).

Only the fixed newstyle handshake is spoken (every client since 2012 does);
replies are simple replies: structured replies are optional in the
protocol and are refused, which every client handles.
"""

from __future__ import annotations

import struct

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
OPTION_REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698

FLAG_FIXED_NEWSTYLE = 1 << 0
FLAG_NO_ZEROES = 1 << 1

OPT_EXPORT_NAME = 1
OPT_ABORT = 2
OPT_LIST = 3
OPT_STARTTLS = 5
OPT_INFO = 6
OPT_GO = 7

REP_ACK = 1
REP_SERVER = 2
REP_INFO = 3
REP_ERR_UNSUP = (1 << 31) + 1
REP_ERR_INVALID = (1 << 31) + 3
REP_ERR_UNKNOWN = (1 << 31) + 6

INFO_EXPORT = 0
INFO_BLOCK_SIZE = 3

TRANSMISSION_FLAGS = (
    (1 << 0)  # HAS_FLAGS
    | (1 << 2)  # SEND_FLUSH
    | (1 << 3)  # SEND_FUA
    | (1 << 5)  # SEND_TRIM
    | (1 << 6)  # SEND_WRITE_ZEROES
    | (1 << 8)  # CAN_MULTI_CONN: every connection to a volume shares one store, so a flush on one covers all
)

CMD_READ = 0
CMD_WRITE = 1
CMD_DISC = 2
CMD_FLUSH = 3
CMD_TRIM = 4
CMD_WRITE_ZEROES = 6
CMD_FLAG_FUA = 1 << 0

EIO = 5
EINVAL = 22
ENOSPC = 28

# Issue 15: minimum 512, preferred 4096 (the sub-block), maximum 32 MiB per request.
MIN_BLOCK = 512
PREFERRED_BLOCK = 4096
MAX_REQUEST = 32 << 20
MAX_OPTION = 64 << 10

HANDSHAKE = struct.Struct(">QQH")
OPTION = struct.Struct(">QII")
OPTION_REPLY = struct.Struct(">QIII")
REQUEST = struct.Struct(">IHHQQI")
SIMPLE_REPLY = struct.Struct(">IIQ")


def option_reply(option: int, reply: int, data: bytes = b"") -> bytes:
    return OPTION_REPLY.pack(OPTION_REPLY_MAGIC, option, reply, len(data)) + data


def info_export(size: int) -> bytes:
    return struct.pack(">HQH", INFO_EXPORT, size, TRANSMISSION_FLAGS)


def info_block_size() -> bytes:
    return struct.pack(">HIII", INFO_BLOCK_SIZE, MIN_BLOCK, PREFERRED_BLOCK, MAX_REQUEST)
