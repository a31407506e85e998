"""The key policies, operation by operation: exactly what each scope may call."""

from __future__ import annotations

import pytest

from chalicelib.domain.access import ACCESS_KEY_ID, Policy, allowed, new_key, operation_name

READS = ["GetSnapshotBlock", "ListSnapshotBlocks", "ListChangedBlocks", "DescribeSnapshot",
         "DescribeSnapshots", "DescribeVolumes", "DescribeLockedSnapshots", "DescribeTags"]
APPENDS = ["StartSnapshot", "PutSnapshotBlock", "CompleteSnapshot", "PutSnapshotSubBlock", "CopySnapshot", "CreateSnapshot"]
DESTRUCTIVE = ["DeleteSnapshot", "DeleteTags", "CreateTags", "UnlockSnapshot", "LockSnapshot", "ModifySnapshotAttribute",
               "DeleteVolume", "CreateVolume", "ResetSnapshotAttribute"]
KEYS = ["CreateAccessKey", "ListAccessKeys", "DeleteAccessKey"]


@pytest.mark.parametrize("operation", READS + APPENDS + DESTRUCTIVE + KEYS + ["SomethingNew"])
def test_full_keys_may_call_everything(operation):
    assert allowed(Policy.FULL, operation)


@pytest.mark.parametrize("operation", READS)
def test_reads_are_open_to_every_scope(operation):
    assert allowed(Policy.READ_ONLY, operation) and allowed(Policy.APPEND_ONLY, operation)


@pytest.mark.parametrize("operation", APPENDS)
def test_append_only_keys_create_and_write_but_read_only_keys_do_not(operation):
    assert allowed(Policy.APPEND_ONLY, operation)
    assert not allowed(Policy.READ_ONLY, operation)


@pytest.mark.parametrize("operation", DESTRUCTIVE + KEYS + ["SomethingNew", None])
def test_scoped_keys_never_destroy_retag_or_manage_keys(operation):
    assert not allowed(Policy.APPEND_ONLY, operation)
    assert not allowed(Policy.READ_ONLY, operation)


def test_handler_names_become_operation_names():
    assert operation_name("put_snapshot_block") == "PutSnapshotBlock"
    assert operation_name("list_access_keys") == "ListAccessKeys"


def test_new_keys_look_like_aws_keys_and_differ():
    a, b = new_key(Policy.READ_ONLY), new_key(Policy.READ_ONLY)
    assert ACCESS_KEY_ID.fullmatch(a.access_key_id) and len(a.access_key_id) == 20
    assert len(a.secret_access_key) == 40
    assert a.access_key_id != b.access_key_id and a.secret_access_key != b.secret_access_key


def test_every_route_handler_is_named_after_an_operation_the_policies_know():
    """The key policies name operations; the guard takes them from the handler's name, so the two must agree."""
    from app import app
    from chalicelib.http import model

    served = set(model.wire_model()["operations"])
    for path, methods in app.routes.items():
        if path == "/":
            continue  # the EC2 Query route: its operation is the request's Action
        for entry in methods.values():
            assert operation_name(entry.view_name) in served, (path, entry.view_name)
