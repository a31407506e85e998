"""What one request costs the deployed API function: AWS requests, and CPU in the handler.

The API function runs in this process on the AWS backend against a moto
server (a process of its own, so its CPU is not counted), fed API Gateway
proxy events made from real botocore requests (``tests/apigateway.py``,
the REST API model the stack test uses). For each operation it counts the
DynamoDB and S3 requests the handler makes (a hook on botocore's
``_make_api_call``, which pynamodb's client goes through too) and the
process CPU time the handler spends (``time.process_time`` around it:
parsing, SHA-256, botocore serialising and signing, JSON), which is what a
Lambda's billed duration is made of besides waiting on DynamoDB and S3.

Run from the repository root: ``python benchmarks/lambda_cost.py [--blocks N]``.
Ends with ``RESULT`` (per PutSnapshotBlock and per GetSnapshotBlock).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=256, help="blocks written and read (default %(default)s)")
    args = parser.parse_args()

    import botocore.client

    import app
    from chalicelib import wiring
    from chalicelib.cli.aws_setup import ensure_tables_and_bucket
    from tests.apigateway import RestApiGateway
    from tests.infra.moto_process import moto_process
    from tests.sample_events import BINARY_MEDIA_TYPES, api_clients, checksum, routes

    calls: collections.Counter = collections.Counter()
    counting = {"on": False}
    real = botocore.client.BaseClient._make_api_call

    def counted(self, operation, params):
        if counting["on"]:
            calls[(self.meta.service_model.service_name, operation)] += 1
        return real(self, operation, params)

    botocore.client.BaseClient._make_api_call = counted
    cpu: collections.defaultdict = collections.defaultdict(list)

    with moto_process() as moto:
        os.environ.update(AWS_ENDPOINT_URL=moto.endpoint_url, AWS_ACCESS_KEY_ID="testing",
                          AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=moto.region, BLOCKSNAP_BACKEND="aws")
        names = wiring.AwsNames()
        ensure_tables_and_bucket(names, region=moto.region, endpoint_url=moto.endpoint_url)
        runtime = wiring.aws(poll_stream=True)
        wiring.install(runtime)

        def handler(event, context):
            operation = (event["httpMethod"], event["resource"])
            counting["on"] = True
            started = time.process_time()
            try:
                return app.app(event, context)
            finally:
                cpu[operation].append(time.process_time() - started)
                counting["on"] = False

        gateway = RestApiGateway(handler, routes(app.app), BINARY_MEDIA_TYPES)
        ebs = api_clients(gateway).ebs
        blocks = [hashlib.sha256(str(i).encode()).digest() * (524288 // 32) for i in range(args.blocks)]
        sid = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
        calls.clear()
        for index, data in enumerate(blocks):
            ebs.put_snapshot_block(SnapshotId=sid, BlockIndex=index, BlockData=data, DataLength=len(data),
                                   Checksum=checksum(data), ChecksumAlgorithm="SHA256")
        puts = dict(calls)
        ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=len(blocks))
        while runtime.projector.run_once():
            pass
        listed = ebs.list_snapshot_blocks(SnapshotId=sid)["Blocks"]
        calls.clear()
        for b in listed:
            got = ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=b["BlockIndex"], BlockToken=b["BlockToken"])
            assert got["BlockData"].read() == blocks[b["BlockIndex"]]
        gets = dict(calls)

    put_cpu = sorted(cpu[("PUT", "/snapshots/{snapshotId}/blocks/{blockIndex}")])
    get_cpu = sorted(cpu[("GET", "/snapshots/{snapshotId}/blocks/{blockIndex}")])
    n = len(blocks)
    print("per PutSnapshotBlock:", {f"{s}:{o}": round(c / n, 3) for (s, o), c in sorted(puts.items())})
    print("per GetSnapshotBlock:", {f"{s}:{o}": round(c / n, 3) for (s, o), c in sorted(gets.items())})
    for name, samples in (("put", put_cpu), ("get", get_cpu)):
        print(f"handler CPU ms per {name}: median {1000 * samples[len(samples) // 2]:.2f}, "
              f"p90 {1000 * samples[int(len(samples) * 0.9)]:.2f}, mean {1000 * sum(samples) / len(samples):.2f}")
    print(
        "RESULT blocks={} put_cpu_ms={:.2f} get_cpu_ms={:.2f} put_dynamodb={:.3f} put_s3={:.3f} "
        "get_dynamodb={:.3f} get_s3={:.3f}".format(
            n, 1000 * put_cpu[len(put_cpu) // 2], 1000 * get_cpu[len(get_cpu) // 2],
            sum(c for (s, _), c in puts.items() if s == "dynamodb") / n,
            sum(c for (s, _), c in puts.items() if s == "s3") / n,
            sum(c for (s, _), c in gets.items() if s == "dynamodb") / n,
            sum(c for (s, _), c in gets.items() if s == "s3") / n,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
