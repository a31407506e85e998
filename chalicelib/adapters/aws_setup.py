"""Create the cloud resources blocksnap needs, idempotently.

For LocalStack, moto and first runs against a bare account; production stacks
get the same tables from ``infra/`` CloudFormation. The schemas come from the
Model factories of the adapters themselves, so a table created here is exactly
the table the adapter reads. Both tables bill PAY_PER_REQUEST: snapshot
traffic is bursty (an upload writes thousands of blocks a second, then
nothing), which provisioned capacity would either throttle or pay for idle.
"""

from __future__ import annotations

from dataclasses import dataclass

import boto3
from botocore.exceptions import ClientError
from pynamodb.exceptions import TableError

from .dynamodb_events import event_model
from .dynamodb_read_models import read_model_models


@dataclass(frozen=True)
class AwsNames:
    events_table: str = "blocksnap-events"
    snapshots_table: str = "blocksnap-snapshots"
    bucket: str = "blocksnap-blocks"


def ensure_tables_and_bucket(
    names: AwsNames, *, region: str, endpoint_url: str | None = None
) -> None:
    """Create whatever of the two tables and the bucket does not exist yet.

    Safe to run concurrently: losing a creation race to another process counts
    as success. Credentials come from the standard AWS chain.
    """
    snapshot_model, _ = read_model_models(names.snapshots_table, host=endpoint_url, region=region)
    for model in (event_model(names.events_table, host=endpoint_url, region=region), snapshot_model):
        try:
            model.create_table(wait=True)
        except TableError as exc:
            if exc.cause_response_code != "ResourceInUseException":
                raise
            model.create_table(wait=True)
    _ensure_bucket(boto3.client("s3", region_name=region, endpoint_url=endpoint_url), names.bucket, region)


def _ensure_bucket(s3, bucket: str, region: str) -> None:
    # us-east-1 is the one region that refuses an explicit LocationConstraint.
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        s3.create_bucket(Bucket=bucket, **config)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise
