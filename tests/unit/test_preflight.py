"""The CLI's checks before it starts anything: one line on stderr and status 1 for every mistake."""

from __future__ import annotations

import socket

import pytest

from chalicelib.cli import main as cli
from chalicelib.cli.preflight import listen_address, url
from chalicelib.datadir import hold_data_dir
from chalicelib.processes import CliError


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    status = cli.main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err


@pytest.mark.parametrize(
    ("option", "value"),
    [("--port", "-1"), ("--port", "65536"), ("--port", "abc"), ("--threads", "0"), ("--processes", "0"),
     ("--processes", "²")],
)
def test_bad_numbers_are_usage_errors(capsys, tmp_path, option, value):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve", "--data-dir", str(tmp_path), option, value])
    assert exit_info.value.code == 2
    assert f"argument {option}: {value!r} is not" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [("BLOCKSNAP_PROCESSES", "abc", "BLOCKSNAP_PROCESSES: 'abc' is not a whole number"),
     ("BLOCKSNAP_BACKEND", "bogus", "BLOCKSNAP_BACKEND: 'bogus' is not one of embedded, aws"),
     ("BLOCKSNAP_TIMEOUT_MINUTE_SECONDS", "soon", "BLOCKSNAP_TIMEOUT_MINUTE_SECONDS: could not convert"),
     ("BLOCKSNAP_TIMEOUT_MINUTE_SECONDS", "nan", "BLOCKSNAP_TIMEOUT_MINUTE_SECONDS: 'nan' is not a positive number")],
)
def test_bad_environment_is_one_line(capsys, monkeypatch, tmp_path, variable, value, message):
    monkeypatch.setenv(variable, value)
    status, err = run_cli(capsys, "serve", "--data-dir", str(tmp_path / "data"))
    assert status == 1
    assert err.startswith(f"blocksnap: {message}")
    assert not (tmp_path / "data").exists(), "nothing may start before the settings are checked"


def test_help_works_whatever_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("BLOCKSNAP_PROCESSES", "abc")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve", "--help"])
    assert exit_info.value.code == 0
    assert "$BLOCKSNAP_PROCESSES" in capsys.readouterr().out


def test_a_file_is_not_a_data_dir(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    for data_dir, message in [
        (tmp_path / "file", "is not a directory"),
        (tmp_path / "file" / "below", "cannot create the data dir"),
    ]:
        status, err = run_cli(capsys, "serve", "--port", "0", "--data-dir", str(data_dir))
        assert status == 1
        assert message in err


def test_rebuild_without_events_says_so(capsys, tmp_path):
    status, err = run_cli(capsys, "rebuild", "--data-dir", str(tmp_path / "none"), "--no-progress")
    assert (status, err) == (1, f"blocksnap: no event table in {tmp_path / 'none'}: nothing to rebuild\n")


def test_a_data_dir_has_one_holder(tmp_path):
    with hold_data_dir(tmp_path, "serve"):
        with pytest.raises(CliError, match=r"in use by blocksnap serve \(pid \d+\); stop it first"):
            hold_data_dir(tmp_path, "rebuild", wait_seconds=0.3)
    hold_data_dir(tmp_path, "rebuild").close()  # released with its file
    assert (tmp_path / "blocksnap.lock").read_text().count("\n") == 1  # the last holder only


def test_rebuild_is_refused_while_the_data_dir_is_held(capsys, tmp_path):
    (tmp_path / "events.sqlite3").write_bytes(b"")
    with hold_data_dir(tmp_path, "serve"):
        status, err = run_cli(capsys, "rebuild", "--data-dir", str(tmp_path), "--no-progress")
    assert status == 1
    assert "in use by blocksnap serve" in err


def test_a_port_shared_by_reuseport_listeners_is_taken():
    """granian's workers listen with SO_REUSEPORT, which would let a second server share the port."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(CliError, match=f"cannot listen on http://127.0.0.1:{port}: Address already in use"):
            listen_address("127.0.0.1", port)


def test_host_names_resolve_and_port_zero_picks_one():
    ip, port = listen_address("localhost", 0)
    assert ip in {"127.0.0.1", "::1"}
    assert port > 0
    with pytest.raises(CliError, match="cannot resolve --host no-such-host.invalid"):
        listen_address("no-such-host.invalid", 0)


def test_urls_bracket_ipv6_literals():
    assert url("::1", 8642) == "http://[::1]:8642"
    assert url("127.0.0.1", 8642) == "http://127.0.0.1:8642"
