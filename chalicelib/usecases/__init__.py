"""The use cases: one module per concern, typed commands in, domain objects out.

``starts`` (StartSnapshot and copies, with their ClientToken idempotency),
``writes`` (full and sub-block writes: one append path), ``completion``,
``reads`` (get, list, diff, describe), ``garbage`` (collection and the
storage figures), and for the EC2 actions ``catalog`` (describe, tags),
``deletion`` and ``copying``; ``keys`` (access keys: the signature check's
lookup and their management); ``write_sink`` is the two appends the
encryption function's copier makes, over the event store alone. They know the ports and the domain,
never a wire name: ``chalicelib/http`` maps each protocol's members to these
commands and their results back. :class:`UseCases` is what the wiring builds
and a route handler is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import Catalog
from .completion import Completion
from .copying import Copying
from .deletion import Deletion
from .garbage import GarbageCollector
from .keys import AccessKeys
from .reads import Reads
from .starts import Starts
from .writes import Writes


@dataclass
class UseCases:
    starts: Starts
    writes: Writes
    completion: Completion
    reads: Reads
    garbage: GarbageCollector
    catalog: Catalog
    deletion: Deletion
    copying: Copying
    # Set by the HTTP worker of blocksnap serve, which authenticates requests; on AWS, IAM does.
    access: AccessKeys | None = None
