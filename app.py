"""The blocksnap Chalice app: routes and event sources, wiring only.

Everything here delegates to ``chalicelib``: the EBS direct API routes to
``chalicelib.http.operations`` under the botocore operation names, the
``/blocksnap/v1`` extensions to their handlers.
"""

from chalicelib import wiring
from chalicelib.http import operations
from chalicelib.http.gateway import EbsChalice

app = EbsChalice(app_name="blocksnap")

# Real clients send block bodies with no Content-Type (botocore) or with
# application/octet-stream (JS), and JSON with application/json or nothing.
ANY = ["*/*"]


def _service():
    return wiring.current().service


@app.route("/snapshots", methods=["POST"], content_types=ANY)
def start_snapshot():
    return operations.ebs(_service, "StartSnapshot", app.current_request)


@app.route("/snapshots/{snapshotId}/blocks/{blockIndex}", methods=["PUT"], content_types=ANY)
def put_snapshot_block(snapshotId, blockIndex):
    return operations.ebs(_service, "PutSnapshotBlock", app.current_request)


@app.route("/snapshots/completion/{snapshotId}", methods=["POST"], content_types=ANY)
def complete_snapshot(snapshotId):
    return operations.ebs(_service, "CompleteSnapshot", app.current_request)


@app.route("/snapshots/{snapshotId}/blocks/{blockIndex}", methods=["GET"], content_types=ANY)
def get_snapshot_block(snapshotId, blockIndex):
    return operations.ebs(_service, "GetSnapshotBlock", app.current_request)


@app.route("/snapshots/{snapshotId}/blocks", methods=["GET"], content_types=ANY)
def list_snapshot_blocks(snapshotId):
    return operations.ebs(_service, "ListSnapshotBlocks", app.current_request)


@app.route("/snapshots/{secondSnapshotId}/changedblocks", methods=["GET"], content_types=ANY)
def list_changed_blocks(secondSnapshotId):
    return operations.ebs(_service, "ListChangedBlocks", app.current_request)


@app.route("/blocksnap/v1/snapshots/{snapshotId}", methods=["GET"], content_types=ANY)
def describe_snapshot(snapshotId):
    return operations.describe_snapshot(_service, snapshotId)


@app.route(
    "/blocksnap/v1/snapshots/{snapshotId}/blocks/{blockIndex}/subblocks/{offset}",
    methods=["PUT"],
    content_types=ANY,
)
def put_sub_block(snapshotId, blockIndex, offset):
    return operations.put_sub_block(_service, app.current_request)


@app.route("/blocksnap/v1/snapshots/{snapshotId}/copy", methods=["POST"], content_types=ANY)
def copy_snapshot(snapshotId):
    return operations.copy_snapshot(_service, snapshotId, app.current_request)
