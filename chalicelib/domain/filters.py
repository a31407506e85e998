"""EC2 describe filters: which snapshots a ``Filters`` list selects.

AWS's rules (Using_Filtering in the EC2 user guide): names and values are
case-sensitive; the values of one filter are OR-ed, the filters AND-ed; in a
value ``*`` matches any run of characters and ``?`` **zero or one**
character, and a backslash makes ``*``, ``?`` or ``\\`` literal. A filter
selects a snapshot when any of the snapshot's values for that name matches
(``tag-key`` has one value per tag). Wildcards apply to every filter; AWS
does not document otherwise. ``start-time`` is compared with the text AWS
sends (``2026-12-01T10:00:00.123Z``), so ``2026-12-01*`` selects a day.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

from .errors import ValidationError
from .snapshot import COMPLETED, SnapshotRecord

# AWS gives snapshots made through the EBS direct APIs this volume id.
DIRECT_API_VOLUME_ID = "vol-ffffffff"
STORAGE_TIER = "standard"
TAG_PREFIX = "tag:"

_NAMES = frozenset({
    "description", "encrypted", "kms-key-id", "owner-alias", "owner-id", "progress", "snapshot-id",
    "start-time", "status", "storage-tier", "tag-key", "volume-id", "volume-size",
})


@dataclass(frozen=True)
class Filter:
    name: str
    values: tuple[str, ...]


def check_filters(filters: Sequence[Filter]) -> None:
    for f in filters:
        if f.name not in _NAMES and not (f.name.startswith(TAG_PREFIX) and len(f.name) > len(TAG_PREFIX)):
            raise ValidationError(f"The filter '{f.name}' is invalid")
        if not f.values:
            raise ValidationError(f"The filter '{f.name}' needs at least one value")


def progress(record: SnapshotRecord) -> str:
    """``100%`` once completed, else the copy's progress (a direct-API upload reports ``0%``)."""
    return "100%" if record.status == COMPLETED else f"{record.progress or 0}%"


def iso_time(epoch: float) -> str:
    """The timestamp text AWS sends: milliseconds and ``Z``."""
    millis = int(round(epoch * 1000))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + f".{millis % 1000:03d}Z"


def attributes(record: SnapshotRecord) -> dict[str, tuple[str, ...]]:
    """Every filterable value of a snapshot, by filter name."""
    values: dict[str, tuple[str, ...]] = {
        "snapshot-id": (record.snapshot_id,),
        "status": (record.status,),
        "description": (record.description or "",),
        "owner-id": (record.owner_id,),
        "owner-alias": (),
        "volume-id": (DIRECT_API_VOLUME_ID,),
        "volume-size": (str(record.volume_size),),
        "encrypted": ("true" if record.encrypted else "false",),
        "kms-key-id": (record.kms_key_arn,) if record.encrypted and record.kms_key_arn else (),
        "start-time": (iso_time(record.start_time),),
        "progress": (progress(record),),
        "storage-tier": (STORAGE_TIER,),
        "tag-key": tuple(k for k, _ in record.tags),
    }
    for key, value in record.tags:
        values[TAG_PREFIX + key] = (value,)
    return values


def selects(filters: Sequence[Filter], attrs: Mapping[str, Iterable[str]]) -> bool:
    """True when every filter has a value matching one of the snapshot's values for it."""
    for f in filters:
        have = tuple(attrs.get(f.name, ()))
        if not any(_pattern(v).fullmatch(h) for v in f.values for h in have):
            return False
    return True


@lru_cache(maxsize=1024)
def _pattern(value: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value) and value[i + 1] in "*?\\":
            out.append(re.escape(value[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else ".?" if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)
