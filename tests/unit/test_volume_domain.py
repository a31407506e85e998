"""The pure parts of volumes: the snapshot plan, the aggregate, the ids."""

from hypothesis import given, strategies as st

from chalicelib.domain.events import VolumeCreated, VolumeDeleted, VolumeSnapshotted
from chalicelib.domain.ids import new_volume_id
from chalicelib.domain.volumes import VOLUME_ID, BlockChange, Volume, fold_all, plan_changes

UNIT = 4096
PER_BLOCK = 128
V = "vol-0123456789abcdef0"


def test_a_whole_block_changed_is_one_full_write_and_partial_blocks_are_their_runs():
    changed = list(range(PER_BLOCK)) + [PER_BLOCK + 1, PER_BLOCK + 2, PER_BLOCK + 5, 3 * PER_BLOCK + 127]
    assert plan_changes(changed, UNIT) == [
        BlockChange(0, True, ((0, 524288),)),
        BlockChange(1, False, ((4096, 8192), (20480, 4096))),
        BlockChange(3, False, ((520192, 4096),)),
    ]


@given(st.sets(st.integers(0, 4 * PER_BLOCK - 1)))
def test_the_plan_covers_exactly_the_changed_sub_blocks(changed):
    covered = set()
    for change in plan_changes(changed, UNIT):
        for offset, length in change.runs:
            first = change.index * PER_BLOCK + offset // UNIT
            covered.update(range(first, first + length // UNIT))
        assert change.full == (len(change.runs) == 1 and change.runs[0] == (0, 524288))
    assert covered == changed


def test_the_next_snapshot_is_incremental_to_the_last_one_else_to_the_source():
    created = VolumeCreated(V, "snap-00000000000000001", 2, UNIT, 1.0)
    volume = Volume.fold([created])
    assert (volume.parent_for_next_snapshot, volume.next_generation) == ("snap-00000000000000001", 1)
    assert volume.status == "available"
    volume = Volume.fold([created, VolumeSnapshotted(V, "snap-00000000000000002", 1, 2.0)])
    assert (volume.parent_for_next_snapshot, volume.next_generation) == ("snap-00000000000000002", 2)
    assert Volume.fold([created, VolumeDeleted(V, 3.0)]).status == "deleted"
    assert volume.size_bytes == 2 << 30


def test_fold_all_keeps_each_volume_apart():
    other = "vol-00000000000000001"
    events = [VolumeCreated(V, "snap-1", 1, UNIT, 1.0), VolumeCreated(other, "snap-2", 1, UNIT, 1.0),
              VolumeDeleted(other, 2.0)]
    assert [(v.volume_id, v.status) for v in fold_all(events)] == [(V, "available"), (other, "deleted")]


def test_volume_ids_have_ec2s_shape():
    assert all(VOLUME_ID.fullmatch(new_volume_id()) for _ in range(50))
