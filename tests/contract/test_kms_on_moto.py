"""KmsKeyService against moto's KMS over HTTP.

moto does not refuse a disabled key and has no key policies, so the mapping of
DisabledException and AccessDeniedException is proved with botocore's Stubber
in ``tests/unit/test_kms_error_mapping.py`` instead.
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from chalicelib.adapters.file_blocks import FileBlockStore
from chalicelib.adapters.s3_blocks import S3BlockStore
from chalicelib.domain import keys
from chalicelib.domain.checksums import sha256_b64
from chalicelib.domain.errors import CorruptData, ValidationError
from chalicelib.encryption import lambda_entry
from chalicelib.encryption.service import EncryptionService
from chalicelib.encryption.kms import KmsKeyService

CONTEXT = {"aws:ebs:id": "snap-0123456789abcdef0"}


@pytest.fixture
def kms_client(moto_server):
    return moto_server.client("kms")


@pytest.fixture
def key_arn(kms_client) -> str:
    return kms_client.create_key(Description=f"blocksnap test {uuid.uuid4()}")["KeyMetadata"]["Arn"]


@pytest.fixture
def service(kms_client) -> KmsKeyService:
    return KmsKeyService(kms_client)


def test_generate_then_decrypt(service, key_arn):
    plaintext, wrapped = service.generate_data_key(key_arn, CONTEXT)
    assert len(plaintext) == 32
    assert plaintext not in wrapped
    assert service.decrypt(wrapped, CONTEXT) == plaintext


def test_an_alias_works_as_the_key_id(service, kms_client, key_arn):
    alias = f"alias/blocksnap-{uuid.uuid4().hex[:8]}"
    kms_client.create_alias(AliasName=alias, TargetKeyId=key_arn)
    plaintext, wrapped = service.generate_data_key(alias, CONTEXT)
    assert service.decrypt(wrapped, CONTEXT) == plaintext


def test_wrong_context_fails(service, key_arn):
    _, wrapped = service.generate_data_key(key_arn, CONTEXT)
    with pytest.raises(CorruptData, match="InvalidCiphertextException"):
        service.decrypt(wrapped, {"aws:ebs:id": "snap-0123456789abcdef1"})


def test_a_tampered_blob_fails(service, key_arn):
    _, wrapped = service.generate_data_key(key_arn, CONTEXT)
    tampered = bytearray(wrapped)
    tampered[-1] ^= 0x01
    with pytest.raises(CorruptData):
        service.decrypt(bytes(tampered), CONTEXT)


def test_an_unknown_key_is_an_invalid_customer_key(service, moto_server):
    missing = f"arn:aws:kms:{moto_server.region}:123456789012:key/{uuid.uuid4()}"
    with pytest.raises(ValidationError) as caught:
        service.generate_data_key(missing, CONTEXT)
    assert caught.value.reason == "INVALID_CUSTOMER_KEY"


def test_the_encryption_function_over_kms(service, key_arn, tmp_path):
    """What the encryption Lambda runs, with moto's KMS and a file store for brevity."""
    lineage = CONTEXT["aws:ebs:id"]
    store = FileBlockStore(tmp_path, durable=False)
    encryption = EncryptionService(service, store)
    encryption.create_lineage_key(lineage, key_arn)
    block = bytes(range(256)) * 2048
    key = keys.block_key(lineage, 3, sha256_b64(block))
    ciphertext = encryption.encrypt(lineage, key, block)
    assert EncryptionService(service, store).decrypt(lineage, key, ciphertext) == block


def test_the_lambda_entry_point_builds_from_the_environment(moto_server, key_arn, monkeypatch):
    """lambda_handler with S3 and KMS on the moto server, found through AWS_ENDPOINT_URL."""
    bucket = f"blocksnap-keys-{uuid.uuid4().hex[:12]}"
    moto_server.client("s3").create_bucket(Bucket=bucket)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    monkeypatch.setenv("BLOCKSNAP_BUCKET", bucket)
    lineage = CONTEXT["aws:ebs:id"]
    block = bytes(range(256)) * 2048
    key = keys.block_key(lineage, 3, sha256_b64(block))
    lambda_entry.function.cache_clear()
    try:
        assert lambda_entry.lambda_handler(
            {"op": "create_lineage_key", "lineage_id": lineage, "kms_key_arn": key_arn}, None
        ) == {"data": ""}
        sealed = lambda_entry.lambda_handler(
            {"op": "encrypt", "lineage_id": lineage, "object_key": key,
             "data": base64.b64encode(block).decode()}, None
        )
    finally:
        lambda_entry.function.cache_clear()
    stored = moto_server.client("s3").get_object(Bucket=bucket, Key=f"keys/{lineage}")["Body"].read()
    assert json.loads(stored)["KmsKeyArn"] == key_arn
    store = S3BlockStore(moto_server.client("s3"), bucket)
    opened = EncryptionService(KmsKeyService(moto_server.client("kms")), store).decrypt(
        lineage, key, base64.b64decode(sealed["data"])
    )
    assert opened == block
