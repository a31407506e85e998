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
import json, sys
import app
import chalicelib.service, chalicelib.wiring
import chalicelib.adapters.worker_encryption, chalicelib.adapters.lambda_encryption
import chalicelib.volumes.process  # the NBD server: no key in it either
print(json.dumps(sorted(m for m in sys.modules
                        if m.split(".")[0] == "cryptography" or m.startswith("chalicelib.encryption"))))
"""


def test_the_api_imports_no_key_handling_code():
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
