"""AWS throttling, translated once for every cloud adapter.

Throttling that outlives botocore's own retries must reach the client as
EBS's retryable ``RequestThrottledException`` (Reason
``DEPENDENCY_REQUEST_THROTTLED``), not as a 500, so that SDKs back off and
retry instead of giving up. :func:`translates_throttling` wraps every public
method of an adapter class, so no method can forget it (DynamoDB, S3, KMS);
:func:`translate_throttling` wraps one function, where the calls sit in a
private method (the Lambda invoke of the encryption function).
"""

from __future__ import annotations

import functools
import inspect

from botocore.exceptions import ClientError
from pynamodb.exceptions import PynamoDBException

from ..domain.errors import DependencyThrottled

THROTTLING_CODES = frozenset({
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "Throttling",
    "SlowDown",
    "RequestThrottled",
    "TooManyRequestsException",  # Lambda
})


# A condition expression that did not hold: the code of a failed single write,
# and the cancellation reason of a transaction item.
CONDITION_FAILED = frozenset({"ConditionalCheckFailedException", "ConditionalCheckFailed"})


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore or pynamodb error, else None."""
    if isinstance(exc, PynamoDBException):
        return exc.cause_response_code
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def _translated(exc: Exception) -> Exception:
    if isinstance(exc, (PynamoDBException, ClientError)) and error_code(exc) in THROTTLING_CODES:
        return DependencyThrottled(f"The storage service is throttling requests: {error_code(exc)}")
    return exc


def translate_throttling(method):
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(*args, **kwargs):
            try:
                yield from method(*args, **kwargs)
            except (PynamoDBException, ClientError) as exc:
                raise _translated(exc) from exc

        return generator

    @functools.wraps(method)
    def call(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except (PynamoDBException, ClientError) as exc:
            raise _translated(exc) from exc

    return call


def translates_throttling(cls):
    for name, method in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(method):
            setattr(cls, name, translate_throttling(method))
    return cls
