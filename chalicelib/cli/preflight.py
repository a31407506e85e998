"""What the commands check before they start, so that a mistake is one line and not a traceback.

Two servers on one port, or ``rebuild`` under a live server, fail quietly
otherwise: granian binds with SO_REUSEPORT, so a second ``serve`` shares the
port and the kernel splits clients between two data dirs; and a rebuild that
clears the read models while a server's projector follows the same event log
can end with no manifests at all. Both are refused, the second by holding the
data dir (:mod:`chalicelib.datadir`).
"""

from __future__ import annotations

import argparse
import ipaddress
import socket

from ..processes import CliError


def listen_address(host: str, port: int) -> tuple[str, int]:
    """The IP address to bind for ``host`` and the port, checked free now (a free one for port 0).

    The probe binds without SO_REUSEPORT, so it fails against any listener
    on the port, granian's own included. Host names are resolved here
    because granian takes IP literals only.
    """
    try:
        ip = str(ipaddress.ip_address(host))
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise CliError(f"cannot resolve --host {host}: {exc.strerror}") from exc
        ip = infos[0][4][0]
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, port))
        except OSError as exc:
            raise CliError(f"cannot listen on {url(host, port)}: {exc.strerror or exc}") from exc
        return ip, probe.getsockname()[1]


def url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def positive_integer(value: str) -> int:
    """argparse type: a whole number of at least 1."""
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return int(value)
