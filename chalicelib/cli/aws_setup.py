"""Create the cloud resources blocksnap needs, idempotently.

For LocalStack, moto and first runs against a bare account; production stacks
declare the same resources in ``infra/``. The table specs below are written
out rather than derived from the pynamodb models so that they read like the
CloudFormation they mirror, and so that setup needs one boto3 client instead
of a botocore session per model. They cannot drift from the adapters unseen:
every cloud contract test runs its adapter on tables created here.

Both tables bill PAY_PER_REQUEST: snapshot traffic is bursty (an upload
writes thousands of blocks a second, then nothing for hours), which
provisioned capacity would either throttle or pay for while idle.
"""

from __future__ import annotations


import boto3
from botocore.exceptions import ClientError

from ..adapters.aws_errors import error_code
from ..adapters.dynamodb_read_models import STATUS_INDEX
from ..wiring import AwsNames, key_behind_alias

DEFAULT_KEY_DESCRIPTION = (
    "blocksnap's default key: StartSnapshot and copies with Encrypted=true and no KmsKeyArn (EBS's aws/ebs)"
)


def _attributes(**types: str) -> list[dict]:
    return [{"AttributeName": name, "AttributeType": kind} for name, kind in types.items()]


def _key(**kinds: str) -> list[dict]:
    return [{"AttributeName": name, "KeyType": kind} for name, kind in kinds.items()]


def events_table_spec(name: str) -> dict:
    """Partition ``stream``, sort ``key``; NEW_IMAGE stream for the projector."""
    return {
        "TableName": name,
        "AttributeDefinitions": _attributes(stream="S", key="S"),
        "KeySchema": _key(stream="HASH", key="RANGE"),
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    }


def snapshots_table_spec(name: str) -> dict:
    """Partition ``snapshot_id``; KEYS_ONLY index on ``status`` for the timeout sweep."""
    return {
        "TableName": name,
        "AttributeDefinitions": _attributes(snapshot_id="S", status="S"),
        "KeySchema": _key(snapshot_id="HASH"),
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [
            {
                "IndexName": STATUS_INDEX,
                "KeySchema": _key(status="HASH"),
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    }


def ensure_tables_and_bucket(
    names: AwsNames, *, region: str, endpoint_url: str | None = None, session: boto3.Session | None = None
) -> None:
    """Create whatever of the two tables and the bucket does not exist yet.

    Safe to run concurrently: losing a creation race to another process counts
    as success. Credentials come from the standard AWS chain, endpoints from
    ``session`` (a localstack-client session points at LocalStack) unless
    ``endpoint_url`` names one.
    """
    factory = session or boto3.Session()
    dynamodb = factory.client("dynamodb", region_name=region, endpoint_url=endpoint_url)
    for spec in (events_table_spec(names.events_table), snapshots_table_spec(names.snapshots_table)):
        _ensure_table(dynamodb, spec)
    _ensure_bucket(factory.client("s3", region_name=region, endpoint_url=endpoint_url), names.bucket, region)


def ensure_default_key(names: AwsNames, *, region: str, session: boto3.Session | None = None,
                       endpoint_url: str | None = None) -> str:
    """The ARN of the key behind ``names.key_alias``, created (with the alias) if the alias names none.

    AWS creates ``alias/aws/ebs`` the first time an account encrypts a
    snapshot without naming a key; a customer cannot create an ``aws/`` alias,
    so blocksnap keeps its own. A key created here has KMS's default key
    policy (the account's IAM policies decide who may use it); the stack's
    key (``infra/resources.yaml``) grants use to the encryption roles only.
    Two concurrent runs may both create a key: the one whose alias lands is
    kept, the other is scheduled for deletion.
    """
    kms = (session or boto3.Session()).client("kms", region_name=region, endpoint_url=endpoint_url)
    found = key_behind_alias(kms, names.key_alias)
    if found:
        return found
    created = kms.create_key(Description=DEFAULT_KEY_DESCRIPTION)["KeyMetadata"]["Arn"]
    try:
        kms.create_alias(AliasName=names.key_alias, TargetKeyId=created)
    except ClientError as exc:
        if error_code(exc) != "AlreadyExistsException":
            raise
        kms.schedule_key_deletion(KeyId=created, PendingWindowInDays=7)
        return key_behind_alias(kms, names.key_alias)
    return created


def _ensure_table(dynamodb, spec: dict) -> None:
    try:
        dynamodb.create_table(**spec)
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
    dynamodb.get_waiter("table_exists").wait(
        TableName=spec["TableName"], WaiterConfig={"Delay": 2, "MaxAttempts": 60}
    )


def _ensure_bucket(s3, bucket: str, region: str) -> None:
    # us-east-1 is the one region that refuses an explicit LocationConstraint.
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        s3.create_bucket(Bucket=bucket, **config)
    except ClientError as exc:
        if error_code(exc) != "BucketAlreadyOwnedByYou":
            raise
