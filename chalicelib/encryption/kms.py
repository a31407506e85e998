"""The AWS key service: KMS GenerateDataKey and Decrypt through a boto3 client.

The client is built by the caller (region, endpoint, credentials) and handed
in, so this module holds no configuration. Only the encryption function's
role has ``kms:GenerateDataKey`` and ``kms:Decrypt``; the API's role has no
``kms:*`` at all.

KMS errors become the service's own, the same ones the embedded
:class:`~chalicelib.encryption.local_kms.LocalKeyService` raises:

==========================================  ====================================
KMS error                                   raised as
==========================================  ====================================
AccessDeniedException                       DependencyAccessDenied
InvalidCiphertextException,                 CorruptData: the wrapped key (or its
IncorrectKeyException                       context) failed verification
NotFoundException, DisabledException,       GenerateDataKey: ValidationError
KMSInvalidStateException,                   ``INVALID_CUSTOMER_KEY``, since the
InvalidKeyUsageException,                   caller chose that key; Decrypt:
KeyUnavailableException                     DependencyAccessDenied, since the key
                                            was usable once and KMS now refuses
ThrottlingException (after botocore's       DependencyThrottled, carried back to
retries)                                    the API as EBS's retryable
                                            RequestThrottledException
==========================================  ====================================

Anything else (network failures) propagates unchanged: it is transient, and
the caller's retry is the answer.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from ..adapters.aws_errors import translates_throttling
from ..domain.errors import CorruptData, DependencyAccessDenied, ValidationError
from ..ports import KeyService

_DENIED = {"AccessDeniedException", "AccessDenied"}
_BAD_CIPHERTEXT = {"InvalidCiphertextException", "IncorrectKeyException"}
_KEY_UNUSABLE = {
    "NotFoundException",
    "DisabledException",
    "KMSInvalidStateException",
    "InvalidKeyUsageException",
    "KeyUnavailableException",
}


@translates_throttling
class KmsKeyService(KeyService):
    def __init__(self, kms_client):
        self._kms = kms_client

    def generate_data_key(self, key_id: str, context: dict[str, str]) -> tuple[bytes, bytes]:
        try:
            response = self._kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)
        except ClientError as exc:
            code, message = _error(exc)
            if code in _KEY_UNUSABLE:
                raise ValidationError(
                    f"The KMS key {key_id} cannot be used: {code}: {message}", reason="INVALID_CUSTOMER_KEY"
                ) from None
            raise _translate(exc, f"GenerateDataKey on {key_id}") from None
        return response["Plaintext"], response["CiphertextBlob"]

    def decrypt(self, wrapped: bytes, context: dict[str, str]) -> bytes:
        try:
            response = self._kms.decrypt(CiphertextBlob=wrapped, EncryptionContext=context)
        except ClientError as exc:
            code, message = _error(exc)
            if code in _KEY_UNUSABLE:
                raise DependencyAccessDenied(f"KMS refused Decrypt: {code}: {message}") from None
            raise _translate(exc, "Decrypt") from None
        return response["Plaintext"]


def _error(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return error.get("Code", ""), error.get("Message", "")


def _translate(exc: ClientError, operation: str) -> Exception:
    code, message = _error(exc)
    if code in _DENIED:
        return DependencyAccessDenied(f"KMS denied {operation}: {message}")
    if code in _BAD_CIPHERTEXT:
        return CorruptData(f"{code}: KMS could not decrypt the wrapped data key under its context")
    return exc
