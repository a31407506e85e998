"""Keys are built only from checked snapshot ids, so nothing a client sends can shape a path."""

from __future__ import annotations

import pytest

from chalicelib.domain import keys
from chalicelib.domain.checksums import sha256_b64

DIGEST = sha256_b64(b"x")
SNAP = "snap-0123456789abcdef0"


@pytest.mark.parametrize("snapshot_id", [SNAP + "0", SNAP + "/..", SNAP + "\n", "snap-0123456789ABCDEF0", "x" + SNAP])
def test_only_exact_snapshot_ids_make_keys(snapshot_id):
    for make in (
        lambda: keys.block_key(snapshot_id, 0, DIGEST),
        lambda: keys.sub_block_key(snapshot_id, 0, 0, 4096, DIGEST),
        lambda: keys.manifest_prefix(snapshot_id),
    ):
        with pytest.raises(ValueError):
            make()


def test_keys_of_a_valid_id_pass_every_adapter_check():
    for key in (keys.block_key(SNAP, 7, DIGEST), keys.sub_block_key(SNAP, 7, 4096, 8192, DIGEST),
                keys.manifest_root_key(SNAP)):
        assert keys.check_key(key) == key
    assert keys.BLOCK_OBJECT_KEY.fullmatch(keys.block_key(SNAP, 7, DIGEST))
