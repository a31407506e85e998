"""Back up and restore a disk image with ``blocksnap upload`` / ``download`` against a real ``blocksnap serve``."""

from __future__ import annotations

import shutil
import signal

import pytest

from tests.servers import BlocksnapServer

from .conftest import (
    GIB, ZERO, Cli, has_extension, make_image, non_zero_blocks, pattern, same_volume, write_blocks, written_blocks,
)

# Spread over the 1 GiB image (2048 blocks), clear of ext4's metadata at the start of each block group.
DATA = {i: pattern(f"base-{i}") for i in range(40, 2048, 13)}


@pytest.fixture
def image(tmp_path):
    return make_image(tmp_path / "disk.img", DATA)


def upload(cli: Cli, *args) -> str:
    run = cli.ok("upload", *args)
    return run.last_line


def test_round_trip_is_byte_identical_and_sends_only_data(cli, server, image, tmp_path):
    run = cli.ok("upload", image, "--description", "laptop", "--tag", "host=laptop")
    snapshot_id = run.last_line
    assert snapshot_id.startswith("snap-") and snapshot_id == run.stdout.strip(), "stdout is the id alone"
    assert sorted(written_blocks(server, snapshot_id)) == sorted(non_zero_blocks(image)), "zero blocks are skipped"
    assert "\r" not in run.stderr and "\x1b" not in run.stderr, "piped progress has no bar escapes"
    assert len([line for line in run.stderr.splitlines() if line.startswith("upload:")]) <= 11

    out = tmp_path / "restored.img"
    restored = cli.ok("download", snapshot_id, out)
    assert "\r" not in restored.stderr and "\x1b" not in restored.stderr
    assert same_volume(image, out)
    assert out.stat().st_blocks * 512 < GIB // 4, "the restored file is sparse"
    assert not list(tmp_path.glob("*.blocksnap-partial*")), "no temporary file is left"
    verified = cli.ok("verify", snapshot_id, "--json").json()
    assert verified == {"SnapshotId": snapshot_id, "BlocksVerified": len(non_zero_blocks(image))}


def test_an_image_not_a_whole_gib_restores_to_the_full_volume(cli, tmp_path):
    small = make_image(tmp_path / "small.img", {3: pattern("small-3")}, size=48 * 1024 * 1024 + 4096)
    result = cli.ok("upload", small, "--json").json()
    assert result["VolumeSize"] == 1
    out = tmp_path / "out.img"
    cli.ok("download", result["SnapshotId"], out)
    assert out.stat().st_size == GIB and same_volume(small, out)


def _changed(image, tmp_path):
    """The image after a day's work: blocks rewritten, new blocks, and a data block that became all zeros."""
    changed = tmp_path / "changed.img"
    shutil.copyfile(image, changed)
    data_blocks = sorted(DATA)
    edits = {
        data_blocks[3]: pattern("new-a"), data_blocks[10]: pattern("new-b"), data_blocks[50]: pattern("new-c"),
        2001: pattern("new-d"), 1500: pattern("new-e"), data_blocks[20]: ZERO,
    }
    write_blocks(changed, edits)
    return changed, sorted(edits)


def test_parent_upload_sends_exactly_the_changed_blocks(cli, server, image, tmp_path):
    parent = upload(cli, image)
    changed, edited = _changed(image, tmp_path)
    result = cli.ok("upload", changed, "--parent", parent, "--json").json()
    child = result["SnapshotId"]
    assert written_blocks(server, child) == edited, "only the changed blocks, the zeroed one included"
    assert result["BlocksSent"] == len(edited)
    assert result["ParentDigests"] in ("blocksnap", "cache")

    out = tmp_path / "child.img"
    cli.ok("download", child, out)
    assert same_volume(changed, out)
    assert cli.ok("verify", child, "--json").json()["BlocksVerified"] == len(non_zero_blocks(image)) + 2
    diff = cli.ok("diff", parent, child, "--json").json()
    assert diff == {"FirstSnapshotId": parent, "SecondSnapshotId": child, "ChangedBlockIndexes": edited}


def test_parent_without_digests_says_so_and_still_restores_the_zeroed_block(cli, server, image, tmp_path):
    parent = upload(cli, image)
    changed, edited = _changed(image, tmp_path)
    forgetful = Cli(tmp_path / "other-cache", cli.endpoint_url)  # another machine: no digest cache
    if has_extension(server, "checksums"):
        pytest.skip("blocksnap serves the checksums extension, so this fallback happens only against a "
                    "server without it (AWS, moto), where the event count below cannot be read")
    run = forgetful.ok("upload", changed, "--parent", parent)
    assert "sending every non-zero block" in run.stderr
    child = run.last_line
    zeroed = sorted(DATA)[20]
    assert written_blocks(server, child) == sorted([*non_zero_blocks(changed), zeroed])
    out = tmp_path / "child.img"
    forgetful.ok("download", child, out)
    assert same_volume(changed, out)


def test_parent_digests_come_from_the_checksums_extension(cli, server, image, tmp_path):
    assert has_extension(server, "checksums")
    parent = upload(cli, image)
    changed, edited = _changed(image, tmp_path)
    result = Cli(tmp_path / "other-cache", cli.endpoint_url).ok("upload", changed, "--parent", parent, "--json")
    assert result.json()["ParentDigests"] == "blocksnap"
    assert written_blocks(server, result.json()["SnapshotId"]) == edited


def _interrupt_midway(cli: Cli, *args) -> tuple[int, str]:
    """Ctrl-C once the upload reports 30 %."""
    proc = cli.popen(*args)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("upload: 30%"):
            proc.send_signal(signal.SIGINT)
            break
    stderr = "".join(lines) + proc.stderr.read()
    proc.wait(60)
    return proc.returncode, stderr


def test_ctrl_c_then_resume_sends_only_what_was_missing(cli, server, image, tmp_path):
    code, stderr = _interrupt_midway(cli, "upload", image, "--workers", "1")
    assert code == 130, stderr
    assert "Traceback" not in stderr
    message = stderr.strip().splitlines()[-1]
    assert "To continue: blocksnap upload " in message
    command = message.split("To continue: ")[1].split()
    snapshot_id = command[command.index("--resume") + 1]
    sent_before = written_blocks(server, snapshot_id)
    assert 0 < len(sent_before) < len(DATA)

    resumed = cli.ok(*command[1:])  # the printed command, as the user would paste it
    assert resumed.last_line == snapshot_id
    assert written_blocks(server, snapshot_id) == sorted(non_zero_blocks(image)), "no block sent twice"
    out = tmp_path / "out.img"
    cli.ok("download", snapshot_id, out)
    assert same_volume(image, out)


def test_encrypted_upload_with_a_kms_key(cli, server, tmp_path):
    secret = {7: b"top secret payload".ljust(512 * 1024, b"!")}
    image = make_image(tmp_path / "secret.img", secret, size=GIB)
    key = "arn:aws:kms:us-east-1:000000000000:key/blocksnap-client-test"
    snapshot_id = upload(cli, image, "--kms-key-arn", key)
    store = server.store()
    stored = [store.get(k) for k in store.list(f"blocks/{snapshot_id}/")]
    assert stored and all(b"top secret" not in raw for raw in stored)
    out = tmp_path / "out.img"
    cli.ok("download", snapshot_id, out)
    assert same_volume(image, out)


def test_download_refuses_an_existing_file_and_leaves_nothing_when_it_fails(cli, image, tmp_path):
    snapshot_id = upload(cli, image)
    existing = tmp_path / "existing.img"
    existing.write_bytes(b"keep me")
    refused = cli("download", snapshot_id, existing)
    assert refused.code == 1 and "--force" in refused.stderr and existing.read_bytes() == b"keep me"
    cli.ok("download", snapshot_id, existing, "--force")
    assert same_volume(image, existing)

    missing = cli("download", "snap-0123456789abcdef0", tmp_path / "never.img")
    assert missing.code == 1
    assert len(missing.stderr.strip().splitlines()) == 1 and "Traceback" not in missing.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("never")) == []


def test_exit_codes_and_one_line_errors(cli, tmp_path):
    usage = cli("upload")
    assert usage.code == 2
    no_image = cli("upload", tmp_path / "absent.img")
    assert no_image.code == 1 and len(no_image.stderr.strip().splitlines()) == 1
    bad_id = cli("download", "not-a-snapshot", tmp_path / "x")
    assert bad_id.code == 2


def test_wait_returns_once_reads_work(cli, image):
    snapshot_id = upload(cli, image, "--no-wait")
    assert cli.ok("wait", snapshot_id, "--timeout", "60").last_line == snapshot_id
    assert cli.ok("verify", snapshot_id).code == 0


def test_resume_from_the_servers_acknowledged_writes(cli, server, image, tmp_path):
    assert has_extension(server, "writes")
    code, stderr = _interrupt_midway(cli, "upload", image, "--workers", "1")
    assert code == 130, stderr
    command = stderr.strip().splitlines()[-1].split("To continue: ")[1].split()
    snapshot_id = command[command.index("--resume") + 1]
    elsewhere = Cli(tmp_path / "fresh-cache", cli.endpoint_url)  # the journal is gone: only the server knows
    assert elsewhere.ok(*command[1:]).last_line == snapshot_id
    assert written_blocks(server, snapshot_id) == sorted(non_zero_blocks(image))


def test_an_interrupted_download_continues_where_it_stopped(cli, image, tmp_path):
    snapshot_id = upload(cli, image)
    out = tmp_path / "out.img"
    proc = cli.popen("download", snapshot_id, out, "--workers", "1")
    for line in proc.stderr:
        if line.startswith("download: 30%"):
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    assert proc.wait(60) == 130, rest
    assert "run the same command again" in rest and not out.exists()
    continued = cli.ok("download", snapshot_id, out, "--json").json()
    assert 0 < continued["BlocksRead"] < continued["Blocks"]
    assert same_volume(image, out)
    assert not list(tmp_path.glob("out.img.*")), "the partial file and its journal are gone"


def test_show_answers_on_blocksnap(cli, image):
    snapshot_id = upload(cli, image, "--description", "shown")
    shown = cli.ok("show", snapshot_id, "--json").json()
    assert shown["SnapshotId"] == snapshot_id and shown["Description"] == "shown"
    assert shown.get("State", shown.get("Status")) == "completed"


def test_a_killed_upload_resumes_from_the_journal(cli, server, image):
    proc = cli.popen("upload", image, "--workers", "1")
    snapshot_id = None
    for line in proc.stderr:
        if line.startswith("started "):
            snapshot_id = line.split()[1]
        if line.startswith("upload: 30%"):
            proc.kill()  # no Ctrl-C handler runs: what the journal has is all there is
            break
    proc.wait(60)
    assert snapshot_id is not None
    before = written_blocks(server, snapshot_id)
    assert 0 < len(before) < len(DATA)
    assert cli.ok("upload", image, "--resume", snapshot_id).last_line == snapshot_id
    after = written_blocks(server, snapshot_id)
    assert sorted(set(after)) == sorted(non_zero_blocks(image))
    # One worker: at most the one block acknowledged but not yet journaled when the kill came is sent again.
    assert len(after) - len(set(after)) <= 1


def test_wait_for_a_snapshot_that_does_not_exist_fails_at_once(cli):
    run = cli("wait", "snap-0123456789abcdef0", "--timeout", "600")
    assert run.code == 1 and "not found" in run.stderr and "Traceback" not in run.stderr


def test_a_server_lost_midway_is_one_line_and_a_resume_command(image, tmp_path):
    server = BlocksnapServer(tmp_path / "data").start()
    cli = Cli(tmp_path / "cache", server.url)
    try:
        proc = cli.popen("upload", image, "--workers", "1", "--max-attempts", "1")
        for line in proc.stderr:
            if line.startswith("started "):
                snapshot_id = line.split()[1]
            if line.startswith("upload: 30%"):
                server.kill()
                break
        stderr = proc.stderr.read()
        assert proc.wait(60) == 1, stderr
        assert f"--resume {snapshot_id}" in stderr and "Traceback" not in stderr
        assert len(stderr.strip().splitlines()) <= 3  # progress lines, the resume hint, the error

        server.start()  # the same data dir on a new port
        cli.endpoint_url = server.url
        assert cli.ok("upload", image, "--resume", snapshot_id).last_line == snapshot_id
        assert sorted(set(written_blocks(server, snapshot_id))) == sorted(non_zero_blocks(image))
    finally:
        server.stop()
