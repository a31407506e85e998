"""Which IAM action and resource each AWS call needs, and whether a policy allows it.

The mapping follows the Service Authorization Reference for the calls
blocksnap makes: DynamoDB transactions are authorised per item (a Put needs
``dynamodb:PutItem`` on its table), GetRecords on a stream needs the stream
ARN, S3 object calls need ``bucket/key`` and listing needs the bucket, a
multi-object delete needs ``s3:DeleteObject`` per key, HeadObject is
``s3:GetObject``. A call that is not mapped here is reported as such, so a new
kind of AWS call cannot slip past the policy check unexamined.

The evaluator handles what the policy files use: Allow and Deny, Action and
Resource with ``*`` and ``?`` wildcards, and the two condition operators of
the KMS statement (``ForAllValues:StringEquals`` and ``Null`` on
``kms:EncryptionContextKeys``), evaluated against the request's real context.
Any other condition fails the check rather than being skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Need:
    action: str
    resource: str
    context: tuple = field(default=(), compare=False)  # (condition key, tuple of values)


def _table(name: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    return f"{arn}/index/{index}" if index else arn


_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def needs(service: str, operation: str, params: dict, stream_arn: str | None) -> list[Need]:
    if service == "dynamodb":
        if operation in {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable"}:
            return [Need(f"dynamodb:{operation}", _table(params["TableName"]))]
        if operation in {"Query", "Scan"}:
            return [Need(f"dynamodb:{operation}", _table(params["TableName"], params.get("IndexName")))]
        if operation in {"BatchGetItem", "BatchWriteItem"}:
            return [Need(f"dynamodb:{operation}", _table(t)) for t in params["RequestItems"]]
        if operation == "TransactWriteItems":
            out = []
            for item in params["TransactItems"]:
                [(kind, body)] = item.items()
                out.append(Need(f"dynamodb:{_TRANSACT[kind]}", _table(body["TableName"])))
            return out
    if service == "dynamodbstreams":
        if operation in {"DescribeStream", "GetShardIterator"}:
            return [Need(f"dynamodb:{operation}", params["StreamArn"])]
        if operation == "GetRecords":
            return [Need("dynamodb:GetRecords", stream_arn or "?")]
        if operation == "ListStreams":
            return [Need("dynamodb:ListStreams", "*")]
    if service == "s3":
        bucket = params.get("Bucket", "")
        if operation in {"GetObject", "HeadObject"}:
            return [Need("s3:GetObject", f"arn:aws:s3:::{bucket}/{params['Key']}")]
        if operation in {"PutObject", "DeleteObject"}:
            return [Need(f"s3:{operation}", f"arn:aws:s3:::{bucket}/{params['Key']}")]
        if operation == "DeleteObjects":
            return [Need("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{o['Key']}") for o in params["Delete"]["Objects"]]
        if operation in {"ListObjectsV2", "ListObjects"}:
            return [Need("s3:ListBucket", f"arn:aws:s3:::{bucket}")]
    if service == "kms" and operation in {"GenerateDataKey", "Decrypt", "Encrypt"}:
        context_keys = tuple(sorted((params.get("EncryptionContext") or {}).keys()))
        # Decrypt names its key inside the ciphertext; the policies grant kms on "*" anyway.
        resource = params.get("KeyId") or "*"
        return [Need(f"kms:{operation}", resource, (("kms:EncryptionContextKeys", context_keys),))]
    if service == "lambda" and operation == "Invoke":
        name = params["FunctionName"]
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        return [Need("lambda:InvokeFunction", arn)]
    return [Need(f"UNMAPPED {service}:{operation}", "")]


def _listify(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _condition_holds(condition: dict, context: dict[str, tuple]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            present = key in context and len(context[key]) > 0
            if operator == "Null":
                if (expected == "true") == present:
                    return False
            elif operator == "ForAllValues:StringEquals":
                if not all(v in _listify(expected) for v in context.get(key, ())):
                    return False
            else:
                raise AssertionError(f"condition operator {operator} is not evaluated by this test")
    return True


def decide(policy: dict, need: Need) -> tuple[bool, list[str]]:
    """(allowed, Sids of the Allow statements that grant it)."""
    context = dict(need.context)
    granting = []
    for statement in policy["Statement"]:
        if not any(_match(a, need.action, ignore_case=True) for a in _listify(statement.get("Action"))):
            continue
        if not any(_match(r, need.resource) for r in _listify(statement.get("Resource"))):
            continue
        if "Condition" in statement and not _condition_holds(statement["Condition"], context):
            continue
        if statement["Effect"] == "Deny":
            return False, []
        granting.append(statement.get("Sid", "?"))
    return bool(granting), granting
