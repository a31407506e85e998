"""Rebuilds and ``chalice local`` keep off read models another projector is writing."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from chalicelib import wiring
from chalicelib.datadir import hold_data_dir
from chalicelib.processes import CliError
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


def test_rebuild_aws_pauses_the_deployed_stream_triggers_and_resumes_them(tmp_path, monkeypatch):
    """A deployed projector is an event source mapping: disabled for the rebuild, enabled after, even on failure."""
    import io
    import zipfile

    from chalicelib.cli.aws_setup import ensure_tables_and_bucket
    from chalicelib.cli.rebuild import paused_stream_triggers
    from tests.infra.moto_process import moto_process

    with moto_process() as moto:
        names = wiring.AwsNames()
        ensure_tables_and_bucket(names, region=moto.region, endpoint_url=moto.endpoint_url)
        stream = moto.client("dynamodb").describe_table(TableName=names.events_table)["Table"]["LatestStreamArn"]
        role = moto.client("iam").create_role(RoleName="projector", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", "def project(event, context):\n    pass\n")
        lambda_ = moto.client("lambda")
        lambda_.create_function(FunctionName="projector", Runtime="python3.12", Role=role, Handler="app.project",
                                Code={"ZipFile": code.getvalue()})
        uuid = lambda_.create_event_source_mapping(EventSourceArn=stream, FunctionName="projector",
                                                   StartingPosition="TRIM_HORIZON")["UUID"]
        state = lambda: lambda_.get_event_source_mapping(UUID=uuid)["State"]

        with paused_stream_triggers(lambda_, stream) as paused:
            assert (paused, state()) == ([uuid], "Disabled")
        assert state() == "Enabled"
        with pytest.raises(CliError), paused_stream_triggers(lambda_, stream):
            raise CliError("the rebuild failed")
        assert state() == "Enabled"

        for name in [k for k in os.environ if k.startswith(("AWS_", "BLOCKSNAP_"))]:
            monkeypatch.delenv(name)
        env = {**os.environ, "AWS_ENDPOINT_URL": moto.endpoint_url, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": moto.region}
        result = subprocess.run(
            [sys.executable, "-m", "chalicelib.cli.main", "rebuild", "--backend", "aws", "--no-progress"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert f"paused 1 stream trigger(s) of the event table: {uuid}" in result.stdout
        assert "resumed 1 stream trigger(s)" in result.stdout and state() == "Enabled"
