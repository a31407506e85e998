"""Progress output by kind of stream, and the digest cache's location and records."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from blocksnap_client.digests import DigestCache, InvalidSnapshotId, cache_dir
from blocksnap_client.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_piped_progress_is_at_most_one_line_per_tenth_without_escapes():
    stream = io.StringIO()
    progress = Progress("upload", 1000, stream=stream)
    for _ in range(1000):
        progress.update()
    progress.close()
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == [f"{p}%" for p in range(0, 101, 10)]
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_a_terminal_gets_a_bar_with_rate_and_eta():
    stream = Terminal()
    progress = Progress("upload", 100, stream=stream)
    progress.update(50)
    progress.close()
    assert "\r" in stream.getvalue() and "block/s" in stream.getvalue()


def test_quiet_prints_nothing():
    stream = Terminal()
    Progress("upload", 10, stream=stream, quiet=True).update(10)
    assert stream.getvalue() == ""


def test_cache_location_follows_xdg_and_the_override(monkeypatch, tmp_path):
    monkeypatch.delenv("BLOCKSNAP_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "blocksnap"
    monkeypatch.setenv("BLOCKSNAP_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_a_torn_journal_record_is_dropped_and_digests_round_trip(tmp_path):
    cache = DigestCache(tmp_path)
    digest = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    journal = cache.journal("snap-0123456789abcdef0")
    journal.append(3, digest)
    journal.close()
    with open(journal.path, "ab") as f:
        f.write(b"\x01\x02\x03")  # a kill in the middle of a record
    journal.append(9, digest)
    journal.close()
    assert journal.read() == {3: digest, 9: digest}
    cache.store("snap-0123456789abcdef0", {0: digest, 7: digest})
    assert cache.load("snap-0123456789abcdef0") == {0: digest, 7: digest}
    assert cache.load("snap-ffffffffffffffff0") is None


@pytest.mark.parametrize("bad", ["../etc/passwd", "snap-../../x", "", "vol-123"])
def test_a_snapshot_id_is_checked_before_it_names_a_file(tmp_path, bad):
    with pytest.raises(InvalidSnapshotId):
        DigestCache(tmp_path).load(bad)
    assert list(Path(tmp_path).iterdir()) == []
