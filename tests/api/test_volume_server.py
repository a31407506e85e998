"""``blocksnap serve``'s volume server: started and stopped with it, refused cleanly when its port is taken."""

from __future__ import annotations

import socket
import subprocess
import sys

from chalicelib.datadir import hold_data_dir


def test_a_taken_nbd_port_is_one_line_and_leaves_nothing_running(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "chalicelib.cli.main", "serve", "--port", "0", "--nbd-port", str(port),
             "--data-dir", str(tmp_path / "data")],
            capture_output=True, text=True, timeout=120,
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"blocksnap: cannot listen on nbd://127.0.0.1:{port}: Address already in use\n"
    )
    assert not (tmp_path / "data" / "encryption.sock").exists()
    hold_data_dir(tmp_path / "data", "test", wait_seconds=2.0).close()  # the encryption worker has let go
