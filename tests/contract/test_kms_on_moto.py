"""KmsKeyService against moto's KMS over HTTP, and the service's error mapping."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.adapters.file_blocks import FileBlockStore
from chalicelib.domain import keys
from chalicelib.domain.checksums import sha256_b64
from chalicelib.domain.errors import CorruptData, DependencyAccessDenied, ValidationError
from chalicelib.encryption.function import EncryptionService
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


def test_a_disabled_key_refuses_both_ways(service, kms_client, key_arn):
    _, wrapped = service.generate_data_key(key_arn, CONTEXT)
    kms_client.disable_key(KeyId=key_arn)
    with pytest.raises(ValidationError) as caught:
        service.generate_data_key(key_arn, CONTEXT)
    assert caught.value.reason == "INVALID_CUSTOMER_KEY"
    with pytest.raises(DependencyAccessDenied):
        service.decrypt(wrapped, CONTEXT)


def test_the_encryption_function_over_kms(service, key_arn, tmp_path):
    """What the encryption Lambda runs, with moto's KMS and a file store for brevity."""
    lineage = CONTEXT["aws:ebs:id"]
    store = FileBlockStore(tmp_path, durable=False)
    function = EncryptionService(service, store)
    function.create_lineage_key(lineage, key_arn)
    block = bytes(range(256)) * 2048
    key = keys.block_key(lineage, 3, sha256_b64(block))
    ciphertext = function.encrypt(lineage, key, block)
    assert EncryptionService(service, store).decrypt(lineage, key, ciphertext) == block
