"""LambdaEncryptionFunction against the encryption Lambda's handler, through a fake invoke."""

from __future__ import annotations

import io
import json
import os

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.encryption_wire import error_body
from chalicelib.adapters.lambda_encryption import LambdaEncryptionFunction
from chalicelib.adapters.memory_blocks import MemoryBlockStore
from chalicelib.domain import keys
from chalicelib.domain.checksums import sha256_b64
from chalicelib.domain.errors import CorruptData, DependencyAccessDenied, DependencyThrottled, ValidationError
from chalicelib.encryption.lambda_entry import answer_invocation
from chalicelib.encryption.service import EncryptionService
from chalicelib.encryption.local_kms import LocalKeyService

LINEAGE = "snap-0123456789abcdef0"
ARN = "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555"
BLOCK = os.urandom(512 * 1024)
OBJECT_KEY = keys.block_key(LINEAGE, 1, sha256_b64(BLOCK))


class FakeLambda:
    """What boto3's ``lambda`` client returns for a synchronous invoke of ``handler``."""

    def __init__(self, handler):
        self.handler = handler
        self.calls: list[dict] = []

    def invoke(self, FunctionName, InvocationType, Payload):
        self.calls.append({"FunctionName": FunctionName, "InvocationType": InvocationType})
        try:
            body, extra = self.handler(json.loads(Payload), None), {}
        except Exception as exc:  # the Lambda runtime's report of an unhandled exception
            body = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            extra = {"FunctionError": "Unhandled"}
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode()), **extra}


NAME = "blocksnap-encryption"


@pytest.fixture
def fake(tmp_path) -> FakeLambda:
    function = EncryptionService(LocalKeyService(tmp_path / "kms"), MemoryBlockStore())
    return FakeLambda(lambda event, context: answer_invocation(function, event))


@pytest.fixture
def client(fake) -> LambdaEncryptionFunction:
    return LambdaEncryptionFunction(fake, NAME)


def test_round_trip(client, fake):
    client.create_lineage_key(LINEAGE, ARN)
    ciphertext = client.encrypt(LINEAGE, OBJECT_KEY, BLOCK)
    assert client.decrypt(LINEAGE, OBJECT_KEY, ciphertext) == BLOCK
    assert fake.calls[0] == {"FunctionName": NAME, "InvocationType": "RequestResponse"}


def test_errors_come_back_as_the_callers_own(client):
    with pytest.raises(DependencyAccessDenied):
        client.encrypt(LINEAGE, OBJECT_KEY, BLOCK)
    client.create_lineage_key(LINEAGE, ARN)
    ciphertext = client.encrypt(LINEAGE, OBJECT_KEY, BLOCK)
    with pytest.raises(CorruptData):
        client.decrypt(LINEAGE, OBJECT_KEY, ciphertext[:-1] + bytes([ciphertext[-1] ^ 1]))
    with pytest.raises(ValidationError) as caught:
        client.create_lineage_key("snap-nope", ARN)
    assert caught.value.reason == "INVALID_PARAMETER_VALUE"


def test_a_crashed_function_is_a_runtime_error():
    def crash(event, context):
        raise MemoryError("out of memory")

    client = LambdaEncryptionFunction(FakeLambda(crash), NAME)
    with pytest.raises(RuntimeError, match="blocksnap-encryption failed: MemoryError: out of memory"):
        client.encrypt(LINEAGE, OBJECT_KEY, BLOCK)


def test_throttling_comes_back_as_the_retryable_dependency_error():
    """Lambda refusing the invoke, or KMS throttling inside the function, both reach the API as DependencyThrottled."""

    class ThrottledLambda:
        def invoke(self, **_):
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "Invoke")

    with pytest.raises(DependencyThrottled):
        LambdaEncryptionFunction(ThrottledLambda(), NAME).encrypt(LINEAGE, OBJECT_KEY, BLOCK)

    def kms_throttled(event, context):
        return {"error": error_body(DependencyThrottled("KMS is throttling requests: ThrottlingException"))}

    with pytest.raises(DependencyThrottled):
        LambdaEncryptionFunction(FakeLambda(kms_throttled), NAME).encrypt(LINEAGE, OBJECT_KEY, BLOCK)
