"""The pure rules behind the EC2 snapshot operations: filters, tags, ids, the lifecycle fold, keyed page tokens."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given, strategies as st

from chalicelib.domain import lifecycle
from chalicelib.domain.errors import InvalidTag, MalformedSnapshotId, TagLimitExceeded, ValidationError
from chalicelib.domain.events import SnapshotDeleted, SnapshotStarted, TagsChanged
from chalicelib.domain.filters import Filter, attributes, check_filters, iso_time, selects
from chalicelib.domain.ids import check_snapshot_id, new_snapshot_id
from chalicelib.domain.snapshot import COMPLETED, SnapshotRecord
from chalicelib.domain.tags import with_tags, without_tags
from chalicelib.domain.tokens import TokenInvalid, TokenMinter

SNAP = "snap-0123456789abcdef0"
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)


def escaped(value: str) -> str:
    return re.sub(r"([*?\\])", r"\\\1", value)


def one(name: str, *values: str) -> list[Filter]:
    return [Filter(name, values)]


@given(text, text)
def test_an_escaped_value_matches_only_itself(value, other):
    assert selects(one("description", escaped(value)), {"description": [value]})
    assert selects(one("description", escaped(value)), {"description": [other]}) == (value == other)


@given(text, text, text)
def test_star_matches_any_run_of_characters(prefix, middle, suffix):
    pattern = escaped(prefix) + "*" + escaped(suffix)
    assert selects(one("description", pattern), {"description": [prefix + middle + suffix]})


def test_question_mark_is_zero_or_one_character():
    for have, hit in (("ab", True), ("axb", True), ("axyb", False), ("b", False)):
        assert selects(one("description", "a?b"), {"description": [have]}) == hit


def test_values_are_or_ed_filters_and_ed_and_names_case_sensitive():
    attrs = {"status": ["completed"], "volume-size": ["8"]}
    assert selects([Filter("status", ("pending", "completed"))], attrs)
    assert not selects([Filter("status", ("completed",)), Filter("volume-size", ("9",))], attrs)
    assert not selects(one("status", "Completed"), attrs)
    assert not selects(one("tag:k", "*"), attrs)  # a missing tag never matches, not even '*'


def test_filter_names():
    check_filters(one("tag:Name", "x") + one("tag-key", "x") + one("start-time", "2026-*"))
    for bad in (one("tag:", "x"), one("Status", "x"), [Filter("status", ())]):
        with pytest.raises(ValidationError):
            check_filters(bad)


def test_attributes_of_a_record():
    started = SnapshotStarted(SNAP, 8, SNAP, 1796119200.123, 60, "111122223333", tags=(("a", "1"), ("b", "")))
    record = SnapshotRecord.from_started(started)
    attrs = attributes(record)
    assert attrs["start-time"] == ("2026-12-01T10:00:00.123Z",)
    assert (attrs["progress"], attrs["encrypted"]) == (("0%",), ("false",))
    assert (attrs["tag-key"], attrs["tag:b"]) == (("a", "b"), ("",))
    assert attributes(replace(record, status=COMPLETED))["progress"] == ("100%",)
    assert iso_time(0.9996) == "1970-01-01T00:00:01.000Z"


def test_snapshot_id_shapes():
    for ok in (SNAP, "snap-0000000a", new_snapshot_id()):
        assert check_snapshot_id(ok) == ok
    with pytest.raises(ValidationError, match=r"Value \(snap-0123456789ABCDEF0\) for parameter snapshotId"):
        check_snapshot_id("snap-0123456789ABCDEF0")
    for bad in ("snap-0", "snap-0123456789abcdef", "vol-0123456789abcdef0", "snap-0123456789abcdef0 "):
        with pytest.raises(MalformedSnapshotId):
            check_snapshot_id(bad)


def test_create_tags_adds_overwrites_in_place_and_keeps_the_limit():
    assert with_tags((("a", "1"), ("b", "2")), [("b", "3"), ("c", "")]) == (("a", "1"), ("b", "3"), ("c", ""))
    fifty = tuple((f"k{i}", "v") for i in range(50))
    assert with_tags(fifty, [("k0", "new")])[0] == ("k0", "new")
    with pytest.raises(TagLimitExceeded):
        with_tags(fifty, [("k50", "v")])
    for bad in ([], [("", "v")], [("aws:x", "v")], [("k" * 129, "v")], [("k", "v" * 257)], [("k", "a\x00")]):
        with pytest.raises(InvalidTag):
            with_tags((), bad)
    assert with_tags((), [("k" * 128, "v" * 256)])


def test_delete_tags_by_key_by_value_or_all():
    tags = (("a", "1"), ("b", ""), ("c", "3"))
    assert without_tags(tags, [("a", None)]) == (("b", ""), ("c", "3"))
    assert without_tags(tags, [("a", "2"), ("b", ""), ("c", "")]) == (("a", "1"), ("c", "3"))
    assert without_tags(tags, None) == ()
    assert without_tags((("aws:kept", "x"),) + tags, None) == (("aws:kept", "x"),)


def test_the_lifecycle_fold_takes_the_latest_tags_and_the_deletion():
    started = SnapshotStarted(SNAP, 1, SNAP, 1.0, 60, "111122223333", tags=(("a", "1"),))
    assert lifecycle.fold([]) is None
    assert lifecycle.fold([started]) == lifecycle.Lifecycle((("a", "1"),), 0, False)
    changes = [TagsChanged(SNAP, 0, (("b", "2"),), 2.0), TagsChanged(SNAP, 1, (), 3.0)]
    assert lifecycle.fold([started, *changes]) == lifecycle.Lifecycle((), 2, False)
    assert lifecycle.fold([started, changes[0], SnapshotDeleted(SNAP, 4.0)]).deleted is True


def test_tag_events_round_trip_through_json():
    event = TagsChanged(SNAP, 3, (("k", "v"),), 5.0)
    assert TagsChanged.from_json("TagsChanged", event.to_json()) == event


def test_keyed_page_tokens_are_bound_and_expire():
    minter = TokenMinter(b"s" * 32)
    token = minter.keyed_page_token("DescribeSnapshots", "q1", SNAP, expiry=100)
    assert minter.open_keyed_page_token(token, "DescribeSnapshots", "q1", now=50) == SNAP
    for operation, subject, now in (("DescribeSnapshots", "q2", 50), ("DescribeVolumes", "q1", 50),
                                    ("DescribeSnapshots", "q1", 101)):
        with pytest.raises(TokenInvalid):
            minter.open_keyed_page_token(token, operation, subject, now)
    with pytest.raises(TokenInvalid):
        TokenMinter(b"t" * 32).open_keyed_page_token(token, "DescribeSnapshots", "q1", 50)
    with pytest.raises(TokenInvalid):
        minter.open_page_token(token, "DescribeSnapshots", "q1", 50)
