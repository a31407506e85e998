"""The API and the volume server never load the encryption function's code, nor the cryptography library.

Checked in a fresh interpreter, because this test session itself imports both.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys, tempfile
import app
import chalicelib.usecases, chalicelib.wiring, chalicelib.processes, chalicelib.usecases.write_sink
import chalicelib.adapters.worker_encryption, chalicelib.adapters.lambda_encryption
import chalicelib.cli.main, chalicelib.cli.serve, chalicelib.cli.http_worker, chalicelib.cli.rebuild
# What the API process runs, not only what it imports first: a runtime, and a snapshot through it.
from chalicelib.http.bindings import Calls
runtime = chalicelib.wiring.embedded(tempfile.mkdtemp())
calls = Calls(runtime.usecases)
snapshot_id = calls.start_snapshot({"VolumeSize": 1})["SnapshotId"]
calls.complete_snapshot({"SnapshotId": snapshot_id, "ChangedBlocksCount": 0})
runtime.projector.catch_up()
assert runtime.records.get_snapshot(snapshot_id).status == "completed"
import chalicelib.volumes.process  # the NBD server: no key in it either
print(json.dumps(sorted(m for m in sys.modules
                        if m.split(".")[0] == "cryptography" or m.startswith("chalicelib.encryption"))))
"""


def test_the_api_imports_no_key_handling_code():
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
