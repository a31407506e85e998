// Smoke test of blocksnap's EC2 snapshot operations with the real AWS SDK for JavaScript v3 (@aws-sdk/client-ec2).
//
//   node ec2_smoke.mjs http://127.0.0.1:PORT snap-…
//
// The snapshot (completed, made by the Python test through the EBS direct APIs) is described, waited for,
// tagged, dry-run deleted and deleted; prints one JSON summary on stdout and exits 1 if a check failed.
// Driven by tests/api/test_js_sdk_ec2.py.

import { readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";

import {
  EC2Client,
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DescribeSnapshotsCommand,
  waitUntilSnapshotCompleted,
} from "@aws-sdk/client-ec2";

const [url, snapshotId] = process.argv.slice(2);
if (!url || !snapshotId) {
  console.error("usage: node ec2_smoke.mjs <endpoint-url> <snapshot-id>");
  process.exit(2);
}

const pkg = new URL("./node_modules/@aws-sdk/client-ec2/package.json", import.meta.url);
const summary = { ok: false, sdkVersion: JSON.parse(readFileSync(pkg, "utf8")).version, checks: 0, failures: [] };

function eq(name, got, want) {
  summary.checks += 1;
  if (!isDeepStrictEqual(got, want)) summary.failures.push({ check: name, got, want });
}

async function failure(command) {
  try {
    await client.send(command);
    return { name: null };
  } catch (err) {
    return { name: err.name, message: err.message, httpStatusCode: err.$metadata?.httpStatusCode };
  }
}

const client = new EC2Client({
  endpoint: url,
  region: "us-east-1",
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY },
  maxAttempts: 1,
});

try {
  const waited = await waitUntilSnapshotCompleted(
    { client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
    { SnapshotIds: [snapshotId] },
  );
  eq("waiter", waited.state, "SUCCESS");

  const [snap] = (await client.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }))).Snapshots;
  summary.describe = {
    SnapshotId: snap.SnapshotId,
    State: snap.State,
    Progress: snap.Progress,
    VolumeId: snap.VolumeId,
    VolumeSize: snap.VolumeSize,
    Encrypted: snap.Encrypted,
    StartTimeIsDate: snap.StartTime instanceof Date && !Number.isNaN(snap.StartTime.getTime()),
    StorageTier: snap.StorageTier,
  };

  await client.send(new CreateTagsCommand({ Resources: [snapshotId], Tags: [{ Key: "sdk", Value: "js-v3" }] }));
  const [tagged] = (await client.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }))).Snapshots;
  summary.tags = tagged.Tags;

  summary.dryRun = await failure(new DeleteSnapshotCommand({ SnapshotId: snapshotId, DryRun: true }));
  await client.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
  summary.afterDelete = await failure(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
  summary.malformed = await failure(new DescribeSnapshotsCommand({ SnapshotIds: ["snap-x"] }));
} catch (err) {
  summary.failures.push({ check: "unexpected", error: String(err?.stack || err) });
}

summary.ok = summary.failures.length === 0;
console.log(JSON.stringify(summary));
process.exit(summary.ok ? 0 : 1);
