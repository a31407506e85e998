"""A secret file is created once, whole and private, however many processes race to create it."""

from __future__ import annotations

import stat
import threading

from chalicelib.adapters.durable_files import read_or_create_secret


def test_racing_creators_all_get_the_one_secret(tmp_path):
    path = tmp_path / "secret"
    barrier = threading.Barrier(8)
    seen: list[bytes] = []

    def create() -> None:
        barrier.wait()
        seen.append(read_or_create_secret(path, 32))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and len(set(seen)) == 1 and len(seen[0]) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]  # no temporary file left behind
    assert read_or_create_secret(path, 32) == seen[0]
