"""The real AWS SDK for JavaScript v3 EC2 client (``@aws-sdk/client-ec2``) against ``blocksnap serve``.

``tests/api/js/ec2_smoke.mjs`` waits for, describes, tags and deletes a
snapshot made here through the EBS direct APIs and prints a JSON summary;
node and the installed SDK come from :mod:`.test_js_sdk`'s fixtures.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from .conftest import block, snapshot
from .test_js_sdk import JS_DIR, _clean_env, js_sdk, node  # noqa: F401  (fixtures)

SCRIPT = JS_DIR / "ec2_smoke.mjs"


@pytest.fixture(scope="module")
def summary(node, js_sdk, server) -> dict:  # noqa: F811
    sid = snapshot(server.client(), {0: block("js-ec2"), 4: block("js-ec2-4")}, volume_size=1)
    proc = subprocess.run([node, str(SCRIPT), server.url, sid], cwd=js_sdk, capture_output=True, text=True,
                          timeout=180, env=_clean_env())
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"ec2_smoke.mjs printed no JSON summary (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result["_sid"] = sid
    result["_exit"] = proc.returncode
    return result


def test_all_checks_pass(summary):
    assert summary["failures"] == [], json.dumps(summary["failures"], indent=2)
    assert summary["ok"] is True and summary["_exit"] == 0


def test_describe(summary):
    assert summary["describe"] == {
        "SnapshotId": summary["_sid"], "State": "completed", "Progress": "100%", "VolumeId": "vol-ffffffff",
        "VolumeSize": 1, "Encrypted": False, "StartTimeIsDate": True, "StorageTier": "standard"}


def test_tags_dry_run_and_delete(summary):
    assert summary["tags"] == [{"Key": "sdk", "Value": "js-v3"}]
    assert summary["dryRun"] == {"name": "DryRunOperation", "httpStatusCode": 412,
                                 "message": "Request would have succeeded, but DryRun flag is set."}
    assert summary["afterDelete"]["name"] == "InvalidSnapshot.NotFound"
    assert summary["afterDelete"]["httpStatusCode"] == 400
    assert summary["malformed"]["name"] == "InvalidSnapshotID.Malformed"
