"""KmsKeyService's table from KMS errors to the service's, with botocore's Stubber."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from chalicelib.domain.errors import CorruptData, DependencyAccessDenied, DependencyThrottled, ValidationError
from chalicelib.encryption.kms import KmsKeyService

ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
CONTEXT = {"aws:ebs:id": "snap-0123456789abcdef0"}


@pytest.fixture
def stubbed():
    client = boto3.client("kms", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield KmsKeyService(client), stubber
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    "code, raised, reason",
    [
        ("AccessDeniedException", DependencyAccessDenied, "DEPENDENCY_ACCESS_DENIED"),
        ("NotFoundException", ValidationError, "INVALID_CUSTOMER_KEY"),
        ("DisabledException", ValidationError, "INVALID_CUSTOMER_KEY"),
        ("KMSInvalidStateException", ValidationError, "INVALID_CUSTOMER_KEY"),
    ],
)
def test_generate_data_key_errors(stubbed, code, raised, reason):
    service, stubber = stubbed
    stubber.add_client_error("generate_data_key", service_error_code=code, service_message="no")
    with pytest.raises(raised) as caught:
        service.generate_data_key(ARN, CONTEXT)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "code, raised",
    [
        ("AccessDeniedException", DependencyAccessDenied),
        ("DisabledException", DependencyAccessDenied),
        ("KeyUnavailableException", DependencyAccessDenied),
        ("InvalidCiphertextException", CorruptData),
        ("IncorrectKeyException", CorruptData),
    ],
)
def test_decrypt_errors(stubbed, code, raised):
    service, stubber = stubbed
    stubber.add_client_error("decrypt", service_error_code=code, service_message="no")
    with pytest.raises(raised):
        service.decrypt(b"wrapped", CONTEXT)


def test_other_errors_propagate(stubbed):
    service, stubber = stubbed
    stubber.add_client_error("decrypt", service_error_code="KMSInternalException", http_status_code=500)
    with pytest.raises(ClientError):
        service.decrypt(b"wrapped", CONTEXT)


def test_the_request_asks_for_aes_256_under_the_context(stubbed):
    service, stubber = stubbed
    stubber.add_response(
        "generate_data_key",
        {"Plaintext": b"k" * 32, "CiphertextBlob": b"wrapped", "KeyId": ARN},
        {"KeyId": ARN, "KeySpec": "AES_256", "EncryptionContext": CONTEXT},
    )
    assert service.generate_data_key(ARN, CONTEXT) == (b"k" * 32, b"wrapped")


def test_storage_throttling_becomes_request_throttled():
    """Throttling left after botocore's retries reaches clients as EBS's retryable error."""
    from botocore.exceptions import ClientError

    from chalicelib.adapters.aws_errors import translates_throttling
    from chalicelib.domain.errors import DependencyThrottled
    from chalicelib.http.errors import error_response

    @translates_throttling
    class Flaky:
        def put(self):
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem")

        def keys(self):
            yield "a"
            raise ClientError({"Error": {"Code": "SlowDown"}}, "ListObjectsV2")

        def other(self):
            raise ClientError({"Error": {"Code": "ValidationException"}}, "Query")

    with pytest.raises(DependencyThrottled) as e:
        Flaky().put()
    status, headers, body = error_response(e.value)
    assert status == 400 and headers["x-amzn-ErrorType"].startswith("RequestThrottledException")
    assert b"DEPENDENCY_REQUEST_THROTTLED" in body
    with pytest.raises(DependencyThrottled):
        list(Flaky().keys())
    with pytest.raises(ClientError):
        Flaky().other()


def test_throttling_after_retries_is_the_retryable_dependency_error(stubbed):
    service, stubber = stubbed
    stubber.add_client_error("generate_data_key", service_error_code="ThrottlingException", service_message="slow down")
    with pytest.raises(DependencyThrottled) as caught:
        service.generate_data_key(ARN, CONTEXT)
    assert caught.value.reason == "DEPENDENCY_REQUEST_THROTTLED"
