"""The blocksnap Chalice app: routes and event sources, wiring only.

Everything here delegates to ``chalicelib``: every rest-json route, EBS
direct API or ``/blocksnap/v1`` extension, to ``chalicelib.http.operations``
under its operation name in the wire model; the EC2 snapshot actions
(``POST /``, dispatched by ``Action``) to ``chalicelib.http.ec2_operations``;
the event table's stream to
the projector; a schedule to the timekeeper; and the encryption function,
which runs under its own IAM role and is the only code that imports
``chalicelib.encryption``.
"""

import os

from chalice import Rate

from chalicelib import wiring
from chalicelib.http import ec2_operations, operations
from chalicelib.http.gateway import EbsChalice

app = EbsChalice(app_name="blocksnap")

# Real clients send block bodies with no Content-Type (botocore) or with
# application/octet-stream (JS), and JSON with application/json or nothing.
ANY = ["*/*"]


def _usecases():
    return wiring.current().usecases


@app.route("/", methods=["POST", "GET"], content_types=ANY)
def ec2_query():
    return ec2_operations.handle(_usecases, app.current_request)


@app.route("/snapshots", methods=["POST"], content_types=ANY)
def start_snapshot():
    return operations.handle(_usecases, "StartSnapshot", app.current_request)


@app.route("/snapshots/{snapshotId}/blocks/{blockIndex}", methods=["PUT"], content_types=ANY)
def put_snapshot_block(snapshotId, blockIndex):
    return operations.handle(_usecases, "PutSnapshotBlock", app.current_request)


@app.route("/snapshots/completion/{snapshotId}", methods=["POST"], content_types=ANY)
def complete_snapshot(snapshotId):
    return operations.handle(_usecases, "CompleteSnapshot", app.current_request)


@app.route("/snapshots/{snapshotId}/blocks/{blockIndex}", methods=["GET"], content_types=ANY)
def get_snapshot_block(snapshotId, blockIndex):
    return operations.handle(_usecases, "GetSnapshotBlock", app.current_request)


@app.route("/snapshots/{snapshotId}/blocks", methods=["GET"], content_types=ANY)
def list_snapshot_blocks(snapshotId):
    return operations.handle(_usecases, "ListSnapshotBlocks", app.current_request)


@app.route("/snapshots/{secondSnapshotId}/changedblocks", methods=["GET"], content_types=ANY)
def list_changed_blocks(secondSnapshotId):
    return operations.handle(_usecases, "ListChangedBlocks", app.current_request)


@app.route("/blocksnap/v1/snapshots/{snapshotId}", methods=["GET"], content_types=ANY)
def describe_snapshot(snapshotId):
    return operations.handle(_usecases, "DescribeSnapshot", app.current_request)


@app.route(
    "/blocksnap/v1/snapshots/{snapshotId}/blocks/{blockIndex}/subblocks/{offset}",
    methods=["PUT"],
    content_types=ANY,
)
def put_snapshot_sub_block(snapshotId, blockIndex, offset):
    return operations.handle(_usecases, "PutSnapshotSubBlock", app.current_request)


@app.route("/blocksnap/v1/snapshots/{snapshotId}/copy", methods=["POST"], content_types=ANY)
def copy_snapshot(snapshotId):
    return operations.handle(_usecases, "CopySnapshot", app.current_request)


@app.route("/blocksnap/v1/snapshots/{snapshotId}/checksums", methods=["GET"], content_types=ANY)
def list_snapshot_checksums(snapshotId):
    return operations.handle(_usecases, "ListSnapshotChecksums", app.current_request)


@app.route("/blocksnap/v1/snapshots/{snapshotId}/writes", methods=["GET"], content_types=ANY)
def list_snapshot_writes(snapshotId):
    return operations.handle(_usecases, "ListSnapshotWrites", app.current_request)


@app.route("/blocksnap/v1/usage", methods=["GET"], content_types=ANY)
def get_usage():
    return operations.handle(_usecases, "GetUsage", app.current_request)


@app.route("/blocksnap/v1/keys", methods=["POST"], content_types=ANY)
def create_access_key():
    return operations.handle(_usecases, "CreateAccessKey", app.current_request)


@app.route("/blocksnap/v1/keys", methods=["GET"], content_types=ANY)
def list_access_keys():
    return operations.handle(_usecases, "ListAccessKeys", app.current_request)


@app.route("/blocksnap/v1/keys/{accessKeyId}", methods=["DELETE"], content_types=ANY)
def delete_access_key(accessKeyId):
    return operations.handle(_usecases, "DeleteAccessKey", app.current_request)


# ``chalice package`` needs a literal ARN; infra/ replaces it with the event
# table's stream ARN when it merges the generated template.
EVENTS_STREAM_ARN = os.environ.get(
    "BLOCKSNAP_EVENTS_STREAM_ARN",
    "arn:aws:dynamodb:us-east-1:000000000000:table/blocksnap-events/stream/1970-01-01T00:00:00.000",
)


@app.on_dynamodb_record(stream_arn=EVENTS_STREAM_ARN, batch_size=1000, starting_position="TRIM_HORIZON", name="projector")
def project(event):
    from chalicelib.adapters.dynamodb_stream import record_from_image

    wiring.current().projector.apply([record_from_image(r.new_image) for r in event if r.new_image])


@app.schedule(Rate(1, unit=Rate.MINUTES), name="timekeeper")
def sweep_timeouts(event):
    wiring.current().timekeeper.sweep()


@app.lambda_function(name="encryption")
def encryption(event, context):
    from chalicelib.encryption.lambda_entry import lambda_handler

    return lambda_handler(event, context)


@app.on_dynamodb_record(stream_arn=EVENTS_STREAM_ARN, batch_size=10, starting_position="TRIM_HORIZON", name="encryption_copier")
def copy_encrypted(event):
    """Encrypted copies, triggered by CopyRequested; same code and role as the encryption function."""
    from chalicelib.encryption.lambda_entry import lambda_handler

    return lambda_handler(event.to_dict(), None)
