// Smoke test of a blocksnap server with the real AWS SDK for JavaScript v3 (@aws-sdk/client-ebs).
//
//   node ebs_smoke.mjs http://127.0.0.1:PORT
//
// Runs all six EBS direct operations plus error cases, prints one JSON summary on stdout
// ({"ok": bool, "failures": [...], ...}) and exits 1 if any check failed (2 on bad usage).
// Driven by tests/api/test_js_sdk.py. JS-specific wire points (see ebs-direct-api.md):
// timestamps must be epoch numbers (the SDK throws on ISO strings), x-amz-Data-Length is
// parsed with strictParseInt32, and over plain http PutSnapshotBlock is signed with the real
// payload SHA-256 instead of UNSIGNED-PAYLOAD.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";

import {
  EBSClient,
  CompleteSnapshotCommand,
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  ResourceNotFoundException,
  StartSnapshotCommand,
  ValidationException,
} from "@aws-sdk/client-ebs";

const BLOCK = 524288;
const url = process.argv[2];
if (!url) {
  console.error("usage: node ebs_smoke.mjs <endpoint-url>");
  process.exit(2);
}

const summary = { ok: false, endpoint: url, sdkVersion: sdkVersion(), node: process.version, checks: 0, failures: [] };

function sdkVersion() {
  try {
    const pkg = new URL("./node_modules/@aws-sdk/client-ebs/package.json", import.meta.url);
    return JSON.parse(readFileSync(pkg, "utf8")).version;
  } catch {
    return null;
  }
}

function check(name, cond, detail) {
  summary.checks += 1;
  if (!cond) summary.failures.push(detail === undefined ? { check: name } : { check: name, detail });
  return Boolean(cond);
}

function eq(name, got, want) {
  return check(name, isDeepStrictEqual(got, want), { got, want });
}

function isDate(v) {
  return v instanceof Date && !Number.isNaN(v.getTime());
}

function makeBlock(tag) {
  const unit = Buffer.from(`block-${tag}\n`);
  const out = new Uint8Array(BLOCK);
  for (let off = 0; off < BLOCK; off += unit.length) out.set(unit.subarray(0, Math.min(unit.length, BLOCK - off)), off);
  return out;
}

const digest = (bytes) => createHash("sha256").update(bytes).digest();
const checksum = (bytes) => digest(bytes).toString("base64");

/** LINEAR aggregate: base64(sha256(concat of raw per-block digests in ascending index order)). */
function linearAggregate(blocks) {
  const h = createHash("sha256");
  for (const index of Object.keys(blocks).map(Number).sort((a, b) => a - b)) h.update(digest(blocks[index]));
  return h.digest("base64");
}

const client = new EBSClient({
  endpoint: url,
  region: "us-east-1",
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY },
  maxAttempts: 1, // surface server errors as-is
});

// Record the signed request headers of each operation (deserialize runs after signing).
const sent = {};
client.middlewareStack.add(
  (next, context) => async (args) => {
    const headers = args.request?.headers ?? {};
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    sent[context.commandName] = { method: args.request?.method, path: args.request?.path, headers: lower };
    return next(args);
  },
  { step: "deserialize", name: "blocksnapCaptureRequest", priority: "low" },
);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function put(snapshotId, index, data) {
  const out = await client.send(new PutSnapshotBlockCommand({
    SnapshotId: snapshotId,
    BlockIndex: index,
    BlockData: data,
    DataLength: data.length,
    Checksum: checksum(data),
    ChecksumAlgorithm: "SHA256",
  }));
  eq(`put ${snapshotId}/${index} status`, out.$metadata.httpStatusCode, 201);
  eq(`put ${snapshotId}/${index} Checksum`, out.Checksum, checksum(data));
  eq(`put ${snapshotId}/${index} ChecksumAlgorithm`, out.ChecksumAlgorithm, "SHA256");
  return out;
}

async function complete(snapshotId, count, extra = {}) {
  const out = await client.send(new CompleteSnapshotCommand({ SnapshotId: snapshotId, ChangedBlocksCount: count, ...extra }));
  eq(`complete ${snapshotId} status`, out.$metadata.httpStatusCode, 202);
  return out.Status;
}

async function waitCompleted(snapshotId, count, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let status = "pending";
  let polls = 0;
  while (Date.now() < deadline) {
    status = await complete(snapshotId, count);
    polls += 1;
    if (status !== "pending") break;
    await sleep(50);
  }
  eq(`wait ${snapshotId} completed`, status, "completed");
  return { status, polls };
}

async function getBlock(snapshotId, index, token) {
  const out = await client.send(new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: index, BlockToken: token }));
  const bytes = await out.BlockData.transformToByteArray();
  eq(`get ${snapshotId}/${index} status`, out.$metadata.httpStatusCode, 200);
  check(`get ${snapshotId}/${index} DataLength is a number`, typeof out.DataLength === "number", { DataLength: out.DataLength });
  eq(`get ${snapshotId}/${index} DataLength`, out.DataLength, BLOCK);
  eq(`get ${snapshotId}/${index} body length`, bytes.length, BLOCK);
  eq(`get ${snapshotId}/${index} Checksum matches body`, out.Checksum, checksum(bytes));
  eq(`get ${snapshotId}/${index} ChecksumAlgorithm`, out.ChecksumAlgorithm, "SHA256");
  return { bytes, meta: { DataLength: out.DataLength, Checksum: out.Checksum, ChecksumAlgorithm: out.ChecksumAlgorithm } };
}

async function expectError(name, command, using = client) {
  try {
    await using.send(command);
  } catch (e) {
    return {
      name: e.name,
      Reason: e.Reason ?? null,
      message: e.message,
      httpStatusCode: e.$metadata?.httpStatusCode ?? null,
      requestId: e.$metadata?.requestId ?? null,
      fault: e.$fault ?? null,
      modeled: e instanceof ResourceNotFoundException || e instanceof ValidationException,
    };
  }
  check(`${name} should fail`, false);
  return null;
}

async function main() {
  const data = { p0: makeBlock("js-p0"), p1: makeBlock("js-p1"), c1: makeBlock("js-c1"), c5: makeBlock("js-c5") };

  // ---- StartSnapshot ------------------------------------------------------------------
  const tags = [{ Key: "team", Value: "storage" }, { Key: "sdk", Value: "js-v3" }];
  const start = await client.send(new StartSnapshotCommand({ VolumeSize: 1, Description: "made by js sdk", Tags: tags }));
  const parent = start.SnapshotId;
  summary.start = {
    SnapshotId: parent,
    Status: start.Status,
    VolumeSize: start.VolumeSize,
    BlockSize: start.BlockSize,
    Description: start.Description,
    Tags: start.Tags,
    OwnerId: start.OwnerId,
    StartTimeIsDate: isDate(start.StartTime),
    StartTime: isDate(start.StartTime) ? start.StartTime.toISOString() : String(start.StartTime),
    httpStatusCode: start.$metadata.httpStatusCode,
    requestId: start.$metadata.requestId ?? null,
  };
  eq("start status", start.$metadata.httpStatusCode, 201);
  check("start SnapshotId", /^snap-[0-9a-f]+$/.test(parent ?? ""), { SnapshotId: parent });
  eq("start Status", start.Status, "pending");
  check("start StartTime is a Date", isDate(start.StartTime), { StartTime: String(start.StartTime) });
  check("start StartTime is recent", isDate(start.StartTime) && Math.abs(Date.now() - start.StartTime.getTime()) < 3600e3,
    { StartTime: String(start.StartTime) });
  eq("start VolumeSize", start.VolumeSize, 1);
  eq("start BlockSize", start.BlockSize, BLOCK);
  eq("start Description", start.Description, "made by js sdk");
  eq("start Tags", start.Tags, tags);
  check("start requestId", Boolean(start.$metadata.requestId), { $metadata: start.$metadata });

  // ---- PutSnapshotBlock (Uint8Array body, payload-hash signed over http) ----------------
  await put(parent, 0, data.p0);
  await put(parent, 1, data.p1);
  const putSha = sent.PutSnapshotBlockCommand?.headers["x-amz-content-sha256"];
  summary.putPayloadSigning = putSha === "UNSIGNED-PAYLOAD" ? "UNSIGNED-PAYLOAD"
    : putSha === digest(data.p1).toString("hex") ? "payload-hash" : String(putSha);
  summary.putContentType = sent.PutSnapshotBlockCommand?.headers["content-type"] ?? null;

  // ---- CompleteSnapshot with a LINEAR aggregate, then poll until completed -------------
  const firstStatus = await complete(parent, 2, {
    Checksum: linearAggregate({ 0: data.p0, 1: data.p1 }),
    ChecksumAlgorithm: "SHA256",
    ChecksumAggregationMethod: "LINEAR",
  });
  summary.completeFirstStatus = firstStatus;
  check("complete first Status", firstStatus === "pending" || firstStatus === "completed", { firstStatus });
  summary.parentWait = await waitCompleted(parent, 2);

  // ---- ListSnapshotBlocks -------------------------------------------------------------
  const listing = await client.send(new ListSnapshotBlocksCommand({ SnapshotId: parent }));
  summary.parentBlocks = listing.Blocks.map((b) => b.BlockIndex);
  eq("list status", listing.$metadata.httpStatusCode, 200);
  check("list BlockIndex are numbers", listing.Blocks.every((b) => typeof b.BlockIndex === "number"),
    { Blocks: listing.Blocks.map((b) => ({ BlockIndex: b.BlockIndex, type: typeof b.BlockIndex })) });
  check("list BlockToken are strings", listing.Blocks.every((b) => typeof b.BlockToken === "string" && b.BlockToken.length > 0));
  eq("list BlockIndex values", summary.parentBlocks, [0, 1]);
  check("list ExpiryTime is a Date in the future", isDate(listing.ExpiryTime) && listing.ExpiryTime.getTime() > Date.now(),
    { ExpiryTime: String(listing.ExpiryTime) });
  eq("list VolumeSize", listing.VolumeSize, 1);
  eq("list BlockSize", listing.BlockSize, BLOCK);
  eq("list NextToken", listing.NextToken, undefined);

  // ---- GetSnapshotBlock ---------------------------------------------------------------
  const byIndex = Object.fromEntries(listing.Blocks.map((b) => [b.BlockIndex, b.BlockToken]));
  const got0 = await getBlock(parent, 0, byIndex[0]);
  summary.get = { ...got0.meta, DataLengthType: typeof got0.meta.DataLength, bodyLength: got0.bytes.length };
  eq("get 0 bytes", Buffer.compare(Buffer.from(got0.bytes), Buffer.from(data.p0)), 0);
  eq("get 0 Checksum", got0.meta.Checksum, checksum(data.p0));

  // ---- child snapshot + ListChangedBlocks ---------------------------------------------
  const childStart = await client.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: parent }));
  const child = childStart.SnapshotId;
  eq("child ParentSnapshotId", childStart.ParentSnapshotId, parent);
  await put(child, 1, data.c1);
  await put(child, 5, data.c5);
  await complete(child, 2);
  summary.childWait = await waitCompleted(child, 2);

  const childListing = await client.send(new ListSnapshotBlocksCommand({ SnapshotId: child }));
  summary.childBlocks = childListing.Blocks.map((b) => b.BlockIndex);
  eq("child list BlockIndex values (inherits 0)", summary.childBlocks, [0, 1, 5]);

  const changed = await client.send(new ListChangedBlocksCommand({ FirstSnapshotId: parent, SecondSnapshotId: child }));
  summary.changed = changed.ChangedBlocks.map((c) => ({
    BlockIndex: c.BlockIndex,
    hasFirst: typeof c.FirstBlockToken === "string",
    hasSecond: typeof c.SecondBlockToken === "string",
  }));
  eq("changed status", changed.$metadata.httpStatusCode, 200);
  eq("changed blocks", summary.changed, [
    { BlockIndex: 1, hasFirst: true, hasSecond: true },
    { BlockIndex: 5, hasFirst: false, hasSecond: true },
  ]);
  check("changed ExpiryTime is a Date", isDate(changed.ExpiryTime), { ExpiryTime: String(changed.ExpiryTime) });
  eq("changed VolumeSize", changed.VolumeSize, 1);
  eq("changed BlockSize", changed.BlockSize, BLOCK);
  eq("changed NextToken", changed.NextToken, undefined);
  const c1 = changed.ChangedBlocks.find((c) => c.BlockIndex === 1);
  if (c1) {
    const first = await getBlock(parent, 1, c1.FirstBlockToken);
    const second = await getBlock(child, 1, c1.SecondBlockToken);
    eq("changed 1 FirstBlockToken reads parent data", Buffer.compare(Buffer.from(first.bytes), Buffer.from(data.p1)), 0);
    eq("changed 1 SecondBlockToken reads child data", Buffer.compare(Buffer.from(second.bytes), Buffer.from(data.c1)), 0);
  }

  // ---- errors -------------------------------------------------------------------------
  const missing = "snap-0123456789abcdef0";
  const notFound = await expectError("unknown snapshot",
    new ListSnapshotBlocksCommand({ SnapshotId: missing }));
  summary.errorNotFound = notFound;
  if (notFound) {
    eq("not found name", notFound.name, "ResourceNotFoundException");
    eq("not found Reason", notFound.Reason, "SNAPSHOT_NOT_FOUND");
    eq("not found http status", notFound.httpStatusCode, 404);
    check("not found is the modelled class", notFound.modeled, notFound);
    check("not found message names the snapshot", String(notFound.message).includes(missing), { message: notFound.message });
    check("not found requestId", Boolean(notFound.requestId), notFound);
  }

  // JS v3 performs no constraint validation, so MaxResults=10001 reaches the server.
  const invalid = await expectError("MaxResults 10001",
    new ListSnapshotBlocksCommand({ SnapshotId: parent, MaxResults: 10001 }));
  summary.errorValidation = invalid;
  if (invalid) {
    eq("validation name", invalid.name, "ValidationException");
    eq("validation http status", invalid.httpStatusCode, 400);
    check("validation message names maxResults", String(invalid.message).includes("maxResults"), { message: invalid.message });
  }

  // Unmodelled error: checksum mismatch is 403 InvalidSignatureException on AWS.
  const pending = await client.send(new StartSnapshotCommand({ VolumeSize: 1 }));
  const mismatch = await expectError("checksum mismatch", new PutSnapshotBlockCommand({
    SnapshotId: pending.SnapshotId,
    BlockIndex: 0,
    BlockData: data.p0,
    DataLength: BLOCK,
    Checksum: checksum(data.p1),
    ChecksumAlgorithm: "SHA256",
  }));
  summary.errorChecksum = mismatch;
  if (mismatch) {
    eq("checksum mismatch name", mismatch.name, "InvalidSignatureException");
    eq("checksum mismatch http status", mismatch.httpStatusCode, 403);
  }

  // Keys the server does not know, or a secret it does not: refused by the signature check (a payload-hash PUT).
  const signedWith = (accessKeyId, secretAccessKey) =>
    new EBSClient({ endpoint: url, region: "us-east-1", maxAttempts: 1, credentials: { accessKeyId, secretAccessKey } });
  const put0 = () => new PutSnapshotBlockCommand({
    SnapshotId: pending.SnapshotId, BlockIndex: 0, BlockData: data.p0, DataLength: BLOCK,
    Checksum: checksum(data.p0), ChecksumAlgorithm: "SHA256",
  });
  summary.errorWrongSecret = await expectError("wrong secret", put0(),
    signedWith(process.env.AWS_ACCESS_KEY_ID, "not-the-secret"));
  summary.errorUnknownKey = await expectError("unknown key", put0(), signedWith("AKIDNOSUCHKEY0000000", "x"));
}

try {
  await main();
} catch (e) {
  summary.failures.push({
    check: "unexpected exception",
    detail: { name: e?.name, message: e?.message, httpStatusCode: e?.$metadata?.httpStatusCode ?? null, stack: e?.stack },
  });
}
summary.ok = summary.failures.length === 0;
process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
process.exitCode = summary.ok ? 0 : 1;
