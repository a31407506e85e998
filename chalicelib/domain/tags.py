"""Tag rules shared by the EC2 tagging calls: pure deciders over a snapshot's tag tuple.

AWS limits (Using_Tags, "Tag restrictions"): 50 user tags per resource, keys
up to 128 characters (the model's text says 127; the user guide and the
console take 128), values up to 256, case-sensitive, ``aws:`` reserved and not
counted. CreateTags adds or overwrites, and overwriting at the limit is
allowed. DeleteTags removes a key whatever its value, or only when the value
given matches (an empty value matches only an empty value), or with no tags
given every user tag.
"""

from __future__ import annotations

import re
from typing import Sequence

from .commands import Tags
from .errors import InvalidTag, TagLimitExceeded
from .snapshot import MAX_TAGS

MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256
RESERVED_PREFIX = "aws:"


# The EC2 API answers in XML, which cannot carry control characters.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def check_tag(key: str, value: str) -> None:
    if _CONTROL.search(key) or _CONTROL.search(value):
        raise InvalidTag("Tag keys and values cannot contain control characters")
    if not key:
        raise InvalidTag("Tag key cannot be null or empty")
    if key.startswith(RESERVED_PREFIX):
        raise InvalidTag(
            f"Value ( {key} ) for parameter key is invalid. "
            "Tag keys starting with 'aws:' are reserved for internal use"
        )
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidTag(f"Tag key exceeds the maximum length of {MAX_KEY_LENGTH} characters")
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidTag(f"Tag value exceeds the maximum length of {MAX_VALUE_LENGTH} characters")


def with_tags(current: Tags, added: Sequence[tuple[str, str]]) -> Tags:
    """``current`` with ``added`` set: existing keys keep their place, new ones come last."""
    if not added:
        raise InvalidTag("You must specify one or more tags to create")
    for key, value in added:
        check_tag(key, value)
    merged = dict(current)
    merged.update(added)
    result = tuple(merged.items())
    if sum(not k.startswith(RESERVED_PREFIX) for k, _ in result) > MAX_TAGS:
        raise TagLimitExceeded("The maximum number of Tags for a resource has been reached.")
    return result


def without_tags(current: Tags, removed: Sequence[tuple[str, str | None]] | None) -> Tags:
    """``current`` less the tags ``removed`` names (a None value: whatever the value; None: every user tag)."""
    if removed is None:
        return tuple((k, v) for k, v in current if k.startswith(RESERVED_PREFIX))

    def goes(key: str, value: str) -> bool:
        return any(key == k and (want is None or want == value) for k, want in removed)

    return tuple((k, v) for k, v in current if not goes(k, v))
