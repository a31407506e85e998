"""The client subcommands of ``blocksnap``: argument parsing and output, nothing else.

Conventions scripts can rely on: progress and messages on stderr, results on
stdout (``upload`` prints the snapshot id alone on its last line, ``--json``
one JSON object); exit status 0 success, 1 error, 2 usage (argparse), 130
interrupted; an error is one line, never a traceback. The connection flags
go after the subcommand, as with the AWS CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from .api import RETRY_MODES, Connection, Settings
from .digests import DigestCache, check_snapshot_id
from .download import download, verify
from .errors import CommandError, Interrupted
from .upload import UploadRequest, upload
from .wait import wait_until_readable

PROG = "blocksnap"


def _workers(value: str) -> int:
    workers = int(value)
    if not 1 <= workers <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return workers


def _seconds(value: str) -> float:
    seconds = float(value)
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return seconds


def _snapshot_id(value: str) -> str:
    try:
        return check_snapshot_id(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _tag(value: str) -> tuple[str, str]:
    key, sep, tag_value = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{value!r} is not KEY=VALUE")
    return key, tag_value


def _connection_flags() -> argparse.ArgumentParser:
    flags = argparse.ArgumentParser(add_help=False)
    group = flags.add_argument_group("connection (default: the standard AWS_* variables and files)")
    group.add_argument("--endpoint-url", help="the EBS endpoint, e.g. http://127.0.0.1:8642 for blocksnap serve")
    group.add_argument("--region", help="the AWS region")
    group.add_argument("--profile", help="a profile of the AWS config files")
    group.add_argument("--retry-mode", choices=RETRY_MODES, default="standard",
                       help="botocore's retry mode; adaptive also slows down when throttled (default: %(default)s)")
    group.add_argument("--max-attempts", type=_workers, default=5, help="attempts per request (default: %(default)s)")
    group.add_argument("--connect-timeout", type=_seconds, default=10.0, help="seconds (default: %(default)s)")
    group.add_argument("--read-timeout", type=_seconds, default=60.0, help="seconds (default: %(default)s)")
    group.add_argument("--quiet", action="store_true", help="no progress, no messages; errors only")
    return flags


def _connect(args: argparse.Namespace) -> Connection:
    # AWS_ENDPOINT_URL(_EBS) reaches boto3 on its own; naming it here as well turns the extensions on.
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_EBS") or os.environ.get("AWS_ENDPOINT_URL")
    return Connection(Settings(
        endpoint_url=endpoint, region=args.region, profile=args.profile, retry_mode=args.retry_mode,
        max_attempts=args.max_attempts, connect_timeout=args.connect_timeout, read_timeout=args.read_timeout,
        workers=getattr(args, "workers", 8),
    ))


def _print_json(document: Any) -> None:
    print(json.dumps(document, default=str, sort_keys=True))


def _resume_flags(args: argparse.Namespace) -> tuple[str, ...]:
    """The flags a resume must repeat: where to connect, the parent, and how to wait."""
    flags: list[str] = []
    for name in ("endpoint_url", "region", "profile", "parent"):
        if getattr(args, name):
            flags += [f"--{name.replace('_', '-')}", getattr(args, name)]
    flags += ["--no-wait"] if args.no_wait else []
    return tuple(flags)


def _upload(args: argparse.Namespace) -> int:
    request = UploadRequest(
        image=args.image, parent=args.parent, description=args.description, tags=dict(args.tag),
        kms_key_arn=args.kms_key_arn, encrypted=args.encrypted, resume=args.resume, wait=not args.no_wait,
        wait_timeout=args.wait_timeout, workers=args.workers, quiet=args.quiet or args.json,
        resume_flags=_resume_flags(args),
    )
    result = upload(_connect(args), request, DigestCache())
    if args.json:
        _print_json(result.as_json())
    else:
        print(result.snapshot_id)
    return 0


def _download(args: argparse.Namespace) -> int:
    result = download(_connect(args), DigestCache(), args.snapshot, args.out, force=args.force,
                      workers=args.workers, quiet=args.quiet or args.json)
    if args.json:
        _print_json({"SnapshotId": result.snapshot_id, "Output": str(args.out), "VolumeSize": result.volume_size,
                     "Blocks": result.blocks, "BlocksRead": result.blocks_read})
    else:
        print(args.out)
    return 0


def _verify(args: argparse.Namespace) -> int:
    result = verify(_connect(args), DigestCache(), args.snapshot, workers=args.workers, quiet=args.quiet or args.json)
    if args.json:
        _print_json({"SnapshotId": result.snapshot_id, "BlocksVerified": result.blocks_read})
    else:
        print(f"{result.snapshot_id}: {result.blocks_read} blocks verified")
    return 0


def _diff(args: argparse.Namespace) -> int:
    changed = _connect(args).changed_blocks(args.first, args.second)
    if args.json:
        _print_json({"FirstSnapshotId": args.first, "SecondSnapshotId": args.second, "ChangedBlockIndexes": changed})
    else:
        print("\n".join(map(str, changed)) if changed else "no changed blocks")
    return 0


def _wait(args: argparse.Namespace) -> int:
    wait_until_readable(_connect(args), args.snapshot, args.timeout)
    print(args.snapshot)
    return 0


def _snapshot_document(snapshot: dict) -> dict:
    keep = ("SnapshotId", "State", "VolumeSize", "StartTime", "Description", "Encrypted", "KmsKeyId", "Progress",
            "Tags", "OwnerId")
    return {k: snapshot[k] for k in keep if k in snapshot}


def _show(args: argparse.Namespace) -> int:
    conn = _connect(args)
    try:
        found = conn.ec2.describe_snapshots(SnapshotIds=[args.snapshot])["Snapshots"]
    except (ClientError, ResponseParserError) as exc:
        if conn.extensions is None or _is_not_found(exc):
            raise
        found = [conn.extensions.describe_snapshot(args.snapshot)]  # blocksnap without its EC2 API
    if not found:
        raise CommandError(f"{args.snapshot} not found")
    document = found[0] if "Status" in found[0] else _snapshot_document(found[0])
    if args.json:
        _print_json(document)
    else:
        for key, value in document.items():
            print(f"{key}: {value}")
    return 0


def _is_not_found(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "InvalidSnapshot.NotFound"


def _ls(args: argparse.Namespace) -> int:
    filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in args.tag]
    if args.status:
        filters.append({"Name": "status", "Values": [args.status]})
    pages = _connect(args).ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"], Filters=filters)
    snapshots = [_snapshot_document(s) for page in pages for s in page["Snapshots"]]
    snapshots.sort(key=lambda s: str(s.get("StartTime", "")))
    if args.json:
        _print_json({"Snapshots": snapshots})
    else:
        for s in snapshots:
            print(f"{s['SnapshotId']}\t{s.get('State', '')}\t{s.get('VolumeSize', '')} GiB\t"
                  f"{s.get('StartTime', '')}\t{s.get('Description', '')}")
    return 0


def _rm(args: argparse.Namespace) -> int:
    ec2 = _connect(args).ec2
    for snapshot in args.snapshots:
        ec2.delete_snapshot(SnapshotId=snapshot)
        print(snapshot)
    return 0


def _copy(args: argparse.Namespace) -> int:
    conn = _connect(args)
    kwargs: dict[str, Any] = {"SourceSnapshotId": args.snapshot, "SourceRegion": args.source_region or conn.region}
    if args.encrypted or args.kms_key_arn:
        kwargs["Encrypted"] = True
    if args.kms_key_arn:
        kwargs["KmsKeyId"] = args.kms_key_arn
    if args.description:
        kwargs["Description"] = args.description
    copied = conn.ec2.copy_snapshot(**kwargs)["SnapshotId"]
    if args.json:
        _print_json({"SourceSnapshotId": args.snapshot, "SnapshotId": copied})
    else:
        print(copied)
    return 0


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Errors as one line on stderr with the documented exit status; never a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except Interrupted as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 130
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted", file=sys.stderr)
            return 130
        except CommandError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            print(f"{PROG}: {exc.operation_name}: {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
        except (BotoCoreError, ResponseParserError) as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
        except OSError as exc:
            print(f"{PROG}: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1

    return run


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the client commands to ``blocksnap``'s parser; each sets ``run``, the function that executes it."""
    flags = _connection_flags()

    def add(name: str, command: Callable[[argparse.Namespace], int], help: str, json_flag: bool = True):
        parser = subparsers.add_parser(name, help=help, description=help, parents=[flags])
        if json_flag:
            parser.add_argument("--json", action="store_true", help="the result as one JSON object on stdout")
        parser.set_defaults(run=_guarded(command))
        return parser

    up = add("upload", _upload, "upload an image or a block device as a snapshot; prints its id")
    up.add_argument("image", type=Path, metavar="IMAGE|DEVICE")
    up.add_argument("--parent", type=_snapshot_id, help="send only the blocks that differ from this snapshot's")
    up.add_argument("--resume", type=_snapshot_id, metavar="SNAP", help="continue this pending snapshot's upload")
    up.add_argument("--description")
    up.add_argument("--tag", type=_tag, action="append", default=[], metavar="KEY=VALUE", help="repeatable")
    up.add_argument("--encrypted", action="store_true", help="encrypt with the default KMS key")
    up.add_argument("--kms-key-arn", help="encrypt with this KMS key")
    up.add_argument("--workers", type=_workers, default=32, help="concurrent requests (default: %(default)s)")
    up.add_argument("--no-wait", action="store_true", help="return once completion is requested")
    up.add_argument("--wait-timeout", type=_seconds, default=3600.0, help="seconds (default: %(default)s)")

    down = add("download", _download, "download a snapshot to a sparse file or a block device")
    down.add_argument("snapshot", type=_snapshot_id, metavar="SNAP")
    down.add_argument("out", type=Path, metavar="OUT")
    down.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    down.add_argument("--workers", type=_workers, default=32, help="concurrent requests (default: %(default)s)")

    check = add("verify", _verify, "read every block of a snapshot and check it against its checksum")
    check.add_argument("snapshot", type=_snapshot_id, metavar="SNAP")
    check.add_argument("--workers", type=_workers, default=32, help="concurrent requests (default: %(default)s)")

    diff = add("diff", _diff, "the indexes of the blocks that differ between two snapshots")
    diff.add_argument("first", type=_snapshot_id, metavar="A")
    diff.add_argument("second", type=_snapshot_id, metavar="B")

    wait = add("wait", _wait, "wait until a snapshot is completed and its blocks can be read", json_flag=False)
    wait.add_argument("snapshot", type=_snapshot_id, metavar="SNAP")
    wait.add_argument("--timeout", type=_seconds, default=3600.0, help="seconds (default: %(default)s)")

    show = add("show", _show, "a snapshot's state, size, description, encryption and tags (EC2)")
    show.add_argument("snapshot", type=_snapshot_id, metavar="SNAP")

    ls = add("ls", _ls, "your snapshots (EC2 DescribeSnapshots)")
    ls.add_argument("--status", choices=("pending", "completed", "error"))
    ls.add_argument("--tag", type=_tag, action="append", default=[], metavar="KEY=VALUE", help="repeatable")

    rm = add("rm", _rm, "delete snapshots (EC2 DeleteSnapshot)", json_flag=False)
    rm.add_argument("snapshots", type=_snapshot_id, nargs="+", metavar="SNAP")

    copy = add("copy", _copy, "copy a snapshot, optionally encrypting it (EC2 CopySnapshot); prints the copy's id")
    copy.add_argument("snapshot", type=_snapshot_id, metavar="SNAP")
    copy.add_argument("--encrypted", action="store_true")
    copy.add_argument("--kms-key-arn")
    copy.add_argument("--description")
    copy.add_argument("--source-region", help="default: --region")
