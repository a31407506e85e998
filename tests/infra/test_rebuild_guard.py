"""Rebuilds and ``chalice local`` keep off read models another projector is writing."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from chalicelib import wiring
from chalicelib.cli.preflight import CliError, hold_data_dir
from tests.api.conftest import block, put, snapshot, start_server
from tests.servers import ROOT, BlocksnapServer


def test_rebuild_aws_is_refused_while_a_projector_advances_its_checkpoint(tmp_path, request):
    srv = start_server("aws", request, tmp_path / "data")
    stop = threading.Event()
    try:
        ebs = srv.client()
        kept = snapshot(ebs, {0: block("kept")})
        busy = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]

        def write() -> None:  # keeps the server's projector busy
            index = 0
            while not stop.is_set():
                put(ebs, busy, index % 2048, block(f"busy-{index}"))
                index += 1

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        result = subprocess.run(
            [sys.executable, "-m", "chalicelib.cli.main", "rebuild", "--backend", "aws", "--no-progress"],
            cwd=ROOT, env={**os.environ, **srv.env}, capture_output=True, text=True, timeout=120,
        )
        stop.set()
        writer.join(10)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "the projector is running" in result.stderr and "Traceback" not in result.stderr
        assert ebs.list_snapshot_blocks(SnapshotId=kept)["Blocks"]  # nothing was dropped
    finally:
        stop.set()
        srv.stop()


@pytest.fixture
def chalice_local_env(tmp_path, monkeypatch):
    """The environment the dev stage gives ``chalice local``: embedded, the projector in a thread."""
    monkeypatch.setenv(wiring.ENV_BACKEND, "embedded")
    monkeypatch.setenv(wiring.ENV_RUN_PROJECTOR, "1")
    monkeypatch.setenv(wiring.ENV_DATA_DIR, str(tmp_path / "data"))
    return tmp_path / "data"


def test_chalice_local_refuses_a_data_dir_serve_holds(chalice_local_env):
    srv = BlocksnapServer(chalice_local_env).start()
    try:
        with pytest.raises(CliError, match="is in use by blocksnap serve"):
            wiring.from_environment()
    finally:
        srv.stop()


def test_chalice_local_holds_its_data_dir_while_it_runs(chalice_local_env):
    runtime = wiring.from_environment()
    try:
        with pytest.raises(CliError, match="is in use by blocksnap chalice local"):
            hold_data_dir(chalice_local_env, "rebuild")
    finally:
        runtime.projector.stop()
        wiring.release_data_dir()
    hold_data_dir(chalice_local_env, "rebuild").close()  # released
