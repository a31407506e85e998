"""The real AWS SDK for JavaScript v3 (``@aws-sdk/client-ebs``) against ``blocksnap serve``.

``tests/api/js/ebs_smoke.mjs`` drives all six operations and a few error cases with the JS
client and prints a JSON summary; these tests run it once per module and assert on that
summary. Needs ``node`` (skipped without it). If ``tests/api/js/node_modules`` is missing the
pinned dependencies are installed once with ``npm ci`` (network access to the npm registry).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.servers import ROOT_KEY_ID, ROOT_SECRET

from .conftest import BLOCK

JS_DIR = Path(__file__).resolve().parent / "js"
SCRIPT = JS_DIR / "ebs_smoke.mjs"
SDK_PACKAGE = JS_DIR / "node_modules" / "@aws-sdk" / "client-ebs" / "package.json"
EC2_SDK_PACKAGE = JS_DIR / "node_modules" / "@aws-sdk" / "client-ec2" / "package.json"
PINNED = json.loads((JS_DIR / "package.json").read_text())["dependencies"]["@aws-sdk/client-ebs"]


def _clean_env() -> dict[str, str]:
    """No AWS_* settings from the machine (profiles, endpoints, credentials) leak in; the server's root key signs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true", AWS_ACCESS_KEY_ID=ROOT_KEY_ID, AWS_SECRET_ACCESS_KEY=ROOT_SECRET)
    return env


@pytest.fixture(scope="session")
def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.skip("node is not installed: the @aws-sdk/client-ebs smoke test needs Node.js >= 20 and npm")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    match = re.match(r"v?(\d+)", version)
    major = int(match.group(1)) if match else 0
    if major < 20:
        pytest.skip(f"node {version or '?'} is too old: @aws-sdk/client-ebs {PINNED} needs Node.js >= 20")
    return exe


@pytest.fixture(scope="session")
def js_sdk(node) -> Path:
    """``tests/api/js`` with its locked node_modules installed (``npm ci`` once if either SDK is missing)."""
    with open(JS_DIR / "package.json") as lock_handle:  # serialise concurrent installers
        fcntl.flock(lock_handle, fcntl.LOCK_EX)
        if not (SDK_PACKAGE.exists() and EC2_SDK_PACKAGE.exists()):
            npm = shutil.which("npm")
            if npm is None:
                pytest.skip("npm is not installed: cannot install @aws-sdk/client-ebs into tests/api/js")
            proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR,
                                  capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                pytest.fail(f"`npm ci` in {JS_DIR} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    installed = json.loads(SDK_PACKAGE.read_text())["version"]
    assert installed == PINNED, (
        f"tests/api/js/node_modules has @aws-sdk/client-ebs {installed}, package.json pins {PINNED}: "
        "run `npm ci` in tests/api/js")
    return JS_DIR


@pytest.fixture(scope="module")
def summary(node, js_sdk, server) -> dict:
    proc = subprocess.run([node, str(SCRIPT), server.url], cwd=js_sdk, capture_output=True,
                          text=True, timeout=180, env=_clean_env())
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"ebs_smoke.mjs printed no JSON summary (exit {proc.returncode}):\n"
                    f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    result["_exit"] = proc.returncode
    result["_stderr"] = proc.stderr
    return result


def test_all_checks_pass(summary):
    assert summary["failures"] == [], json.dumps(summary["failures"], indent=2) + "\n" + summary["_stderr"]
    assert summary["ok"] is True
    assert summary["_exit"] == 0
    assert summary["checks"] >= 60
    assert summary["sdkVersion"] == PINNED


def test_start_snapshot(summary):
    start = summary["start"]
    assert start["httpStatusCode"] == 201
    assert start["Status"] == "pending"
    assert start["StartTimeIsDate"] is True  # epoch-number timestamp parsed into a Date
    assert start["VolumeSize"] == 1
    assert start["BlockSize"] == BLOCK
    assert start["Description"] == "made by js sdk"
    assert start["Tags"] == [{"Key": "team", "Value": "storage"}, {"Key": "sdk", "Value": "js-v3"}]
    assert start["requestId"]


def test_put_is_payload_hash_signed_over_http(summary):
    # the point of running the JS SDK at all: its Put carries the real body SHA-256
    # (botocore sends UNSIGNED-PAYLOAD) and an octet-stream Content-Type
    assert summary["putPayloadSigning"] == "payload-hash"
    assert summary["putContentType"] == "application/octet-stream"


def test_complete_then_poll(summary):
    assert summary["completeFirstStatus"] == "pending"
    assert summary["parentWait"]["status"] == "completed"
    assert summary["childWait"]["status"] == "completed"


def test_list_and_get(summary):
    assert summary["parentBlocks"] == [0, 1]
    assert summary["childBlocks"] == [0, 1, 5]
    got = summary["get"]
    assert got["bodyLength"] == BLOCK
    assert got["DataLengthType"] == "number"
    assert got["DataLength"] == BLOCK
    assert got["ChecksumAlgorithm"] == "SHA256"


def test_list_changed_blocks(summary):
    assert summary["changed"] == [
        {"BlockIndex": 1, "hasFirst": True, "hasSecond": True},
        {"BlockIndex": 5, "hasFirst": False, "hasSecond": True},
    ]


def test_errors(summary):
    nf = summary["errorNotFound"]
    assert (nf["name"], nf["Reason"], nf["httpStatusCode"]) == (
        "ResourceNotFoundException", "SNAPSHOT_NOT_FOUND", 404)
    assert nf["modeled"] is True
    val = summary["errorValidation"]
    assert (val["name"], val["httpStatusCode"]) == ("ValidationException", 400)
    assert "maxResults" in val["message"]
    mismatch = summary["errorChecksum"]
    assert (mismatch["name"], mismatch["httpStatusCode"]) == ("InvalidSignatureException", 403)


def test_wrong_keys_are_refused(summary):
    wrong, unknown = summary["errorWrongSecret"], summary["errorUnknownKey"]
    assert (wrong["name"], wrong["httpStatusCode"]) == ("InvalidSignatureException", 403)
    assert (unknown["name"], unknown["httpStatusCode"]) == ("UnrecognizedClientException", 403)
