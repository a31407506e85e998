"""The account and region the service reports come from the deployment's environment."""

from __future__ import annotations

import pytest

from chalicelib.http.bindings import Calls
from chalicelib import wiring


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("BLOCKSNAP_OWNER_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "BLOCKSNAP_DEFAULT_KMS_KEY_ARN"):
        monkeypatch.delenv(name, raising=False)


def test_local_placeholders_by_default():
    settings = wiring.settings_from_env()
    assert (settings.owner_id, settings.region, settings.default_kms_key_arn) == ("000000000000", "us-east-1", None)


def test_the_deployment_names_account_and_region(monkeypatch):
    monkeypatch.setenv("BLOCKSNAP_OWNER_ID", "123456789012")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    settings = wiring.settings_from_env()
    assert (settings.owner_id, settings.region) == ("123456789012", "eu-west-1")
    assert wiring.settings_from_env("ap-south-1").region == "ap-south-1"


def test_a_malformed_account_id_stops_the_start(monkeypatch):
    monkeypatch.setenv("BLOCKSNAP_OWNER_ID", "12345")
    with pytest.raises(SystemExit, match="12-digit"):
        wiring.settings_from_env()


def test_started_snapshots_report_the_account(monkeypatch):
    monkeypatch.setenv("BLOCKSNAP_OWNER_ID", "123456789012")
    runtime = wiring.memory()
    assert Calls(runtime.usecases).start_snapshot({"VolumeSize": 1})["OwnerId"] == "123456789012"
